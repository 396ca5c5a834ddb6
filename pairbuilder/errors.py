"""Pair-builder errors a user can fix: the project's one type, ``annotation.errors.InputError``.

``PairBuildError`` is kept as a name so the pair builder's services read as before; it *is*
``InputError`` (not a subclass), so one ``except InputError`` and one API exception handler
cover every app.
"""

from __future__ import annotations

from annotation.errors import InputError

PairBuildError = InputError
