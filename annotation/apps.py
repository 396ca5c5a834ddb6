from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Keys anyone can read: this project's development default and Django's startproject prefix.
PUBLISHED_KEY_PREFIXES = ("dev-only-insecure-key", "django-insecure-")


def secret_key_refusal(*, debug: bool, secret_key: str) -> str | None:
    """Why the app must not start with this key, or None.

    Outside DEBUG the key signs sessions, CSRF tokens and password-reset links; with a published
    or short key anyone can forge them. Checked when Django starts (every manage.py command,
    gunicorn, the Celery workers), not at the first request.
    """
    if debug:
        return None
    if not secret_key or secret_key.startswith(PUBLISHED_KEY_PREFIXES):
        return ("DJANGO_SECRET_KEY: not set, or the published development key; set a random "
                "key of 50+ characters (python -c 'import secrets; "
                "print(secrets.token_urlsafe(50))'), or DJANGO_DEBUG=1 on a development machine")
    if len(secret_key) < 50 or len(set(secret_key)) < 5:
        return "DJANGO_SECRET_KEY: too short or too simple; use 50+ random characters"
    return None


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Stickers and annotation"

    def ready(self) -> None:
        refusal = secret_key_refusal(debug=settings.DEBUG, secret_key=settings.SECRET_KEY)
        if refusal:
            raise ImproperlyConfigured(refusal)
