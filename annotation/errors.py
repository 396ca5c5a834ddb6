"""The one exception type for errors a user can fix (STYLE.md rule 7)."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input a person can act on; the message names the file, row or field first."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
