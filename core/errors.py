"""The one exception type for errors a user can fix (STYLE.md rule 7), HackSoft's
``ApplicationError``: services and the pure cores raise it (or a subclass), the API's one
exception handler (``annotation.exception_handler``) answers it with a 4xx naming the field,
file or setting, and commands print it as one line.

No Django here: ``encoder/gse/`` and the other pure cores define their errors as subclasses
without importing a framework.

It is deliberately *not* a ``ValueError``: code that catches ``ValueError`` to report bad input
would also catch a programming error (``int()`` on the wrong thing, a numpy argument out of
range) and show it as "k: must be an integer"; a bug must stay a 500 (or a traceback).
"""

from __future__ import annotations


class ApplicationError(Exception):
    """Bad input a person can act on; the message names the file, row, field or setting first.

    ``name`` is that field, file, row or setting; ``reason`` says what is wrong and, where it
    can, what to do instead; ``extra`` carries machine-readable details for the API's answer.
    A subclass may be raised with one whole sentence (``EncoderError("GSE_MODEL is empty:
    ...")``); its ``name`` is then the class's ``subject``. ``status_code`` is the HTTP answer
    (400: fix the request; 409: it conflicts with the state of what it names).
    """

    status_code = 400
    subject = "input"  # the name when the error is raised with a whole sentence only

    def __init__(self, name: str, reason: str | None = None, *,
                 extra: dict | None = None) -> None:
        if reason is None:  # one sentence that names its subject itself
            name, reason, message = self.subject, name, name
        else:
            message = f"{name}: {reason}"
        super().__init__(message)
        self.name = name
        self.reason = reason
        self.extra = extra or {}

    @property
    def message(self) -> str:
        """HackSoft's ``ApplicationError.message``: the whole sentence shown to the user."""
        return str(self)


class ConflictError(ApplicationError):
    """A well-formed request that the state of what it names refuses (HTTP 409): a lease that
    was lost, a task the caller does not hold, a submission id used for another task."""

    status_code = 409
