"""Template filters of the pages: human labels in place of internal values and paths."""

from __future__ import annotations

from django import template

from frontend.selectors.dashboard import model_label as _model_label

register = template.Library()


@register.filter
def model_label(value: str) -> str:
    """A model or checkpoint as people name it: a server path shows as its file name only
    (the page must not publish the server's folders)."""
    return _model_label(str(value or ""))
