"""StickerEmbedding.encoder_version: from the version string to a foreign key on EncoderVersion.

Embeddings whose version string has no EncoderVersion row (written by hand or by an older
test factory) get a placeholder row that says so, rather than being dropped: the vectors are
still what they are, only the model's description is unknown.
"""

import django.db.models.deletion
from django.db import migrations, models

PLACEHOLDER_NOTE = ("registered by migration 0002: embeddings were stored under this version "
                    "without a row describing the model")


def link_versions(apps, schema_editor):
    """Points every embedding at the row of its version string, making missing rows."""
    EncoderVersion = apps.get_model("encoder", "EncoderVersion")
    StickerEmbedding = apps.get_model("encoder", "StickerEmbedding")
    known = set(EncoderVersion.objects.values_list("version", flat=True))
    strings = set(StickerEmbedding.objects.values_list("encoder_version", flat=True).distinct())
    EncoderVersion.objects.bulk_create(
        EncoderVersion(version=v, kind="base", model_name="unknown",
                       train_config={"note": PLACEHOLDER_NOTE}) for v in sorted(strings - known))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE encoder_stickerembedding e SET encoder_version_ref_id = v.id "
            "FROM encoder_encoderversion v WHERE v.version = e.encoder_version")
        # The deferred foreign-key checks now, not at commit: the ALTER TABLEs that follow in
        # this transaction refuse to run over pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def unlink_versions(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE encoder_stickerembedding e SET encoder_version = v.version "
            "FROM encoder_encoderversion v WHERE v.id = e.encoder_version_ref_id")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ("encoder", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="stickerembedding",
                                    name="embedding_unique_per_version"),
        migrations.AddField(
            model_name="stickerembedding", name="encoder_version_ref",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="+", to="encoder.encoderversion"),
        ),
        # The old column may be NULL-free only after the reverse step has filled it.
        migrations.AlterField(model_name="stickerembedding", name="encoder_version",
                              field=models.CharField(db_index=True, max_length=128, null=True)),
        migrations.RunPython(link_versions, unlink_versions),
        migrations.RemoveField(model_name="stickerembedding", name="encoder_version"),
        migrations.RenameField(model_name="stickerembedding", old_name="encoder_version_ref",
                               new_name="encoder_version"),
        migrations.AlterField(
            model_name="stickerembedding", name="encoder_version",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                    related_name="embeddings", to="encoder.encoderversion"),
        ),
        migrations.AddConstraint(
            model_name="stickerembedding",
            constraint=models.UniqueConstraint(fields=("sticker", "encoder_version"),
                                               name="embedding_unique_per_version"),
        ),
    ]
