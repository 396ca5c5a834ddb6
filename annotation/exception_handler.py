"""The API's one exception handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

Errors a user can fix (``InputError``, raised by any service) become a 400 whose ``detail``
names the field, file or row, and whose ``field`` says which; DRF's own errors (validation,
authentication, permission, 404, 405, 413, 415) keep DRF's answers. Anything else is a
programming error: it is not answered here, so Django logs it and answers 500 (a bug must be
seen, never dressed up as "k: must be an integer").
"""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import InputError


def input_error_response(exc: InputError, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    """The answer to an InputError: ``{"detail": "<field>: <reason>", "field": "<field>"}``."""
    return Response({"detail": exc.message, "field": exc.name, **exc.extra}, status=code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus InputError as a 400 naming the field."""
    if isinstance(exc, InputError):
        return input_error_response(exc)
    return drf_exception_handler(exc, context)
