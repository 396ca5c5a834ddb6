"""The one exception type for pair-builder errors a user can fix (STYLE.md rule 7)."""

from __future__ import annotations

from annotation.errors import InputError


class PairBuildError(InputError):
    """A pair build, review, export, snapshot or import request that cannot be done as asked;
    the message names the campaign, file, row or field first."""
