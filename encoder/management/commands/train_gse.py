"""``manage.py train_gse``: train, evaluate and register a GSE on a snapshot."""

from __future__ import annotations

import json
from dataclasses import fields

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import ApplicationError
from encoder.gse.config import TrainConfig
from encoder.training_services import gse_train, snapshot_latest
from pairbuilder.models import Snapshot

# Command-line flags that map one to one onto TrainConfig fields.
CONFIG_FLAGS = ("epochs", "lr", "batch_size", "weight_decay", "warmup_steps",
                "image_text_weight", "pair_weight", "pair_loss", "pair_margin", "device", "seed")


class TqdmProgress:
    """One tqdm bar per stage (base-eval, train, gse-eval, report)."""

    def __init__(self) -> None:
        self.stage = ""
        self.bar: tqdm | None = None

    def __call__(self, stage: str, fraction: float, detail: str) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=1000, desc=stage, unit="‰", leave=True)
        assert self.bar is not None
        self.bar.update(int(fraction * 1000) - self.bar.n)
        self.bar.set_postfix_str(detail, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    help = ("Fine-tune OpenCLIP into a GSE on a snapshot's train split, evaluate it and its "
            "untrained base on the val/test splits, and register the model version.")

    def add_arguments(self, parser) -> None:
        types = {f.name: f.type for f in fields(TrainConfig)}
        parser.add_argument("--snapshot", required=True, help="snapshot number or 'latest'")
        parser.add_argument("--base", default="", help="OpenCLIP name or config JSON (GSE_MODEL)")
        parser.add_argument("--pretrained", default=None,
                            help="hub tag or checkpoint path (GSE_PRETRAINED); '' = random init")
        for name in CONFIG_FLAGS:
            kind = {"int": int, "float": float}.get(str(types[name]), str)
            parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None)
        parser.add_argument("--no-amp", action="store_true", help="fp32 even on CUDA")
        parser.add_argument("--extra-pairs", action="append", default=[],
                            help="extra Triple-S pair CSV (repeatable)")
        parser.add_argument("--extra-images", action="append", default=[],
                            help="folder with the extra pairs' images (repeatable)")

    def handle(self, *args, **opts) -> None:
        values = {k: opts[k] for k in CONFIG_FLAGS if opts[k] is not None}
        progress = TqdmProgress()
        try:
            config = TrainConfig(**values, amp=not opts["no_amp"],
                                 extra_pairs=opts["extra_pairs"],
                                 extra_images_dirs=opts["extra_images"])
            snapshot = (snapshot_latest() if opts["snapshot"] == "latest"
                        else Snapshot.objects.get(number=int(opts["snapshot"])))
            version = gse_train(snapshot=snapshot, base_model=opts["base"],
                                pretrained=opts["pretrained"], config=config, progress=progress)
        except Snapshot.DoesNotExist as e:
            raise CommandError(f"snapshot {opts['snapshot']}: no such snapshot") from e
        except ApplicationError as e:
            raise CommandError(str(e)) from e
        finally:
            progress.close()
        self.stdout.write(self.style.SUCCESS(f"registered {version.version} (id {version.id})"))
        for name in ("gse", "base"):
            m = version.metrics[name]
            self.stdout.write(f"{name:>4}: " + json.dumps(
                {k: m[k] for k in ("accuracy", "precision", "recall", "f1", "roc_auc")}))
        intervals = version.metrics.get("bootstrap", {}).get("scorers", {})
        for name, m in version.metrics.get("baselines", {}).items():
            auc = intervals.get(name, {}).get("roc_auc")
            span = f" [{auc['low']:.3f}, {auc['high']:.3f}]" if auc else ""
            self.stdout.write(f"{name:>9}: f1 {m['f1']:.3f} auc {m['roc_auc']:.3f}{span}")
        if version.metrics.get("verdict"):
            self.stdout.write(version.metrics["verdict"])
        self.stdout.write(f"threshold {version.threshold:.4f}; report {version.report_dir}")
