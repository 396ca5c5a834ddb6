from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="QueueMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("queue", models.CharField(max_length=200)),
                ("payload", models.TextField()),
                ("delivery_tag", models.CharField(db_index=True, max_length=64)),
                ("deliveries", models.PositiveIntegerField(default=0)),
                ("delivered_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "indexes": [models.Index(fields=["queue", "id"], name="queue_message_fifo")],
            },
        ),
    ]
