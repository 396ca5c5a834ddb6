"""The one exception type for errors a user can fix (STYLE.md rule 7), HackSoft's
``ApplicationError``: services raise it, the API's exception handler
(``annotation.exception_handler``) turns it into a 400 naming the field, commands print it.

It is deliberately *not* a ``ValueError``: a view or command that catches ``ValueError`` to
report bad input would also catch a programming error (``int()`` on the wrong thing, a numpy
argument out of range) and show it as "k: must be an integer"; a bug must stay a 500.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input a person can act on; the message names the file, row or field first.

    ``name`` is the field, file or row; ``reason`` says what is wrong and, where it can, what
    to do instead. ``extra`` carries machine-readable details for the API's answer.
    """

    def __init__(self, name: str, reason: str, *, extra: dict | None = None) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
        self.extra = extra or {}

    @property
    def message(self) -> str:
        """HackSoft's ``ApplicationError.message``: the whole sentence shown to the user."""
        return f"{self.name}: {self.reason}"


# HackSoft's name for the same type, for code that reads better with it.
ApplicationError = InputError
