"""Database rules kept as readable ``.sql`` files, installed by migrations from frozen copies.

An app's ``sql/`` package holds the rules as they are now; each migration that installs them
reads its own frozen copy (``<app>/migrations/sql/<migration>.sql``), never the live files: a
migration must keep doing what it did when it was written, whatever the files say later.
``python -m <app>.sql freeze NNNN_name`` writes a new frozen copy. Used by ``annotation.sql``
and ``game.sql``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SqlRules:
    """One app's rules: where the files are, their install order, the newest frozen copy."""

    package: str  # e.g. "annotation.sql": named in the usage line of ``main``
    sql_dir: Path
    install_order: tuple[str, ...]  # dependencies first, the order a reader follows too
    current_migration: str  # the newest migration that installs the rules (a test compares)

    @property
    def frozen_dir(self) -> Path:
        return self.sql_dir.parent / "migrations" / "sql"

    def current_text(self) -> str:
        """The rules as the files say, in install order, as one script."""
        return "\n".join((self.sql_dir / name).read_text() for name in self.install_order)

    def frozen(self, migration: str) -> str:
        """The frozen copy a migration installs."""
        return (self.frozen_dir / f"{migration}.sql").read_text()

    def freeze(self, migration: str) -> Path:
        """Writes the current rules as ``migration``'s frozen copy; refuses to overwrite one."""
        path = self.frozen_dir / f"{migration}.sql"
        if path.exists():
            raise FileExistsError(
                f"{path} exists: frozen copies never change, name a new migration")
        path.write_text(self.current_text())
        return path

    def main(self, argv: list[str]) -> int:
        """``freeze NNNN_name``: the command line of ``python -m <app>.sql``."""
        if len(argv) != 2 or argv[0] != "freeze":
            print(f"usage: python -m {self.package} freeze NNNN_name", file=sys.stderr)
            return 2
        print(self.freeze(argv[1]))
        return 0
