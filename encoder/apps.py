from django.apps import AppConfig


class EncoderConfig(AppConfig):
    name = "encoder"
    verbose_name = "Encoders (GSE)"
