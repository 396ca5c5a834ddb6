"""``manage.py build_eval_library --out DIR``: the evaluation library from openly licensed emoji
artwork on the npm registry (four styles, CLDR labels in en and zh), as a Triple-S folder split
by concept. Tarballs are verified against the registry's checksums and cached under
``var/npm_cache``; the artwork is never committed."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from encoder.gse.library import SIZE, library_build
from encoder.gse.npm import REGISTRY, NpmError


class Command(BaseCommand):
    help = ("Build the evaluation library (>= 1,000 emoji concepts in four open artwork styles, "
            "CLDR en/zh labels) from the npm registry into a Triple-S folder.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", default=str(settings.VAR_DIR / "eval_library"))
        parser.add_argument("--cache", default=str(settings.VAR_DIR / "npm_cache"),
                            help="folder the verified tarballs are kept in")
        parser.add_argument("--registry", default=REGISTRY, help="npm registry base URL")
        parser.add_argument("--size", type=int, default=SIZE, help="still side in pixels")
        parser.add_argument("--seed", type=int, default=0, help="split and negative draw seed")
        parser.add_argument("--min-styles", type=int, default=None,
                            help="styles a concept needs to be kept (default: all four)")
        parser.add_argument("--max-concepts", type=int, default=0,
                            help="keep only the first N concepts (a quick trial); 0 = all")

    def handle(self, *args, **opts) -> None:
        if not 16 <= opts["size"] <= 1024:
            raise CommandError(f"--size: must be 16..1024, got {opts['size']}")
        try:
            manifest = library_build(out=opts["out"], cache_dir=opts["cache"],
                                     registry=opts["registry"], size=opts["size"],
                                     seed=opts["seed"], min_styles=opts["min_styles"],
                                     max_concepts=opts["max_concepts"],
                                     log=self.stderr.write)
        except (NpmError, ValueError, OSError) as e:
            raise CommandError(str(e)) from e
        summary = {k: manifest[k] for k in ("concepts", "concepts_in_all_styles", "stickers",
                                           "skipped", "splits", "warnings")}
        self.stdout.write(json.dumps(summary, indent=2))
        self.stdout.write(self.style.SUCCESS(f"library written to {opts['out']}"))
