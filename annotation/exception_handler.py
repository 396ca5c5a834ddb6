"""The API's one exception handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

- Errors a user can fix (``core.errors.ApplicationError``, the project's one type, raised by
  any service or pure core: ``InputError``, ``EncoderError``, ``GseDataError``, ...) become a
  4xx (the error's ``status_code``: 400, or 409 for a conflict with the state of a task) whose
  ``detail`` names the field, file, row or setting and whose ``field`` says which.
- A row that does not exist (``ObjectDoesNotExist``: ``Round.DoesNotExist``, ...) is a 404, so
  views need not turn each model's ``DoesNotExist`` into ``Http404`` themselves.
- DRF's own errors (validation, authentication, permission, 404, 405, 413, 415) keep DRF's
  answers.
- Anything else is a programming error: it is not answered here, so Django logs it and answers
  500 (a bug must be seen, never dressed up as "k: must be an integer").
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import ApplicationError


def input_error_response(exc: ApplicationError, code: int | None = None) -> Response:
    """The answer to an ApplicationError: ``{"detail": "<field>: <reason>", "field": "<field>"}``
    with the error's status (or ``code``)."""
    return Response({"detail": exc.message, "field": exc.name, **exc.extra},
                    status=code or exc.status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus ApplicationError as a 4xx naming the field and a missing row as 404."""
    if isinstance(exc, ApplicationError):
        set_rollback()  # as DRF does for its own errors: nothing of the request is kept
        return input_error_response(exc)
    if isinstance(exc, ObjectDoesNotExist):
        set_rollback()
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    return drf_exception_handler(exc, context)
