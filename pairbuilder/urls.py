"""URL routes of the pairbuilder app."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
