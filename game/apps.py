from django.apps import AppConfig


class GameConfig(AppConfig):
    """Sticktionary (seed 002, section 4): the query game that gives stickers their queries."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "game"
    verbose_name = "Sticktionary"
