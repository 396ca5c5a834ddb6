"""URL routes: the REST API under /api/, the pages, the Django admin and the OpenAPI schema."""
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from annotation.media_views import media_file

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(
        url_name="schema", template_name="frontend/api/redoc.html"), name="api-redoc"),
    path("api/", include("annotation.urls")),
    path("api/", include("pairbuilder.urls")),
    path("api/", include("encoder.urls")),
    path("api/", include("game.urls")),
    path("play/", include("frontend.game_urls")),
    path("", include("frontend.urls")),
]
# Sticker files: annotators and staff only, in DEBUG too (annotation.media_views).
urlpatterns.append(
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media_file, name="media-file"))
