"""The one exception type for errors a user can fix, under the names the apps use.

``InputError`` *is* ``core.errors.ApplicationError`` (HackSoft's name; not a subclass, not a
``ValueError``): services raise it, the API's exception handler (``annotation.exception_handler``)
answers it with a 4xx naming the field, commands print it. ``ConflictError`` is the 409 kind.
"""

from __future__ import annotations

from core.errors import ApplicationError, ConflictError

InputError = ApplicationError

__all__ = ["ApplicationError", "ConflictError", "InputError"]
