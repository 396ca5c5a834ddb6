"""One GSE run end to end, no Django: evaluate the base model, fine-tune, evaluate the GSE,
save the checkpoint and write the report. Services, commands and the demo report call this.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from encoder.gse.baselines import SURFACE_BASELINES
from encoder.gse.config import TrainConfig
from encoder.gse.data import (
    AugmentedStickerPixels,
    ImageResolver,
    PairBatches,
    PairRow,
    SnapshotPairs,
    StickerPixels,
    folder_resolver,
    pair_sticker_ids,
    read_pairs_csv,
    resolve_images,
)
from encoder.gse.evaluate import Evaluation, evaluate_baselines, evaluate_model
from encoder.gse.model import gse_checkpoint_save, gse_model_load
from encoder.gse.report import compare, evaluation_summary, write_report
from encoder.gse.scorable import require_scorable
from encoder.gse.train import seed_everything, train

# Progress: (stage, fraction of the stage done, detail) with stage in
# "base-eval", "train", "gse-eval", "report".
ProgressFn = Callable[[str, float, str], None]


@dataclass
class RunResult:
    """What a run produced: metrics of both models, the threshold and the files."""

    gse: Evaluation
    base: Evaluation
    losses: list[float]
    checkpoint: Path
    report_files: dict[str, str]
    model_name: str
    model_config: dict[str, Any]
    base_version: str
    seconds: float
    baselines: dict[str, Evaluation] = field(default_factory=dict)  # surface baselines
    bootstrap: dict[str, Any] = field(default_factory=dict)  # GSE vs every other scorer

    def metrics(self) -> dict[str, Any]:
        """What EncoderVersion.metrics stores: GSE, base, baselines, intervals, verdict."""
        return {"gse": evaluation_summary(self.gse), "base": evaluation_summary(self.base),
                "baselines": {k: evaluation_summary(v) for k, v in self.baselines.items()},
                "bootstrap": self.bootstrap, "verdict": self.bootstrap.get("verdict", "")}


def baseline_notes(names: Sequence[str]) -> list[str]:
    """One report line per surface baseline saying what it computes."""
    return [f"{n}: {SURFACE_BASELINES[n].description} (surface baseline)" for n in names]


def combined_resolver(first: ImageResolver, folders: Sequence[str]) -> ImageResolver:
    """Looks in ``first`` then in the extra pairs' image folders."""
    extra = folder_resolver(*folders)
    return lambda sid: first(sid) or extra(sid)


def training_pairs(snapshot: SnapshotPairs, config: TrainConfig) -> list[PairRow]:
    """The snapshot's train split plus every extra Triple-S pair file of the config."""
    pairs = list(snapshot.train)
    for path in config.extra_pairs:
        pairs += read_pairs_csv(path, split=f"extra {Path(path).name}")
    return pairs


def gse_run(
    *, snapshot: SnapshotPairs, resolver: ImageResolver, queries: Mapping[str, Sequence[str]],
    base_model: str, pretrained: str, config: TrainConfig, out_dir: str | Path,
    model_config: dict | None = None, groups: Mapping[str, Hashable] | None = None,
    progress: ProgressFn | None = None, title: str = "GSE report",
    info: Mapping[str, Any] | None = None, notes: Sequence[str] = (),
    baselines: Sequence[str] = tuple(SURFACE_BASELINES),
) -> RunResult:
    """Trains a GSE from ``base_model`` on ``snapshot`` and compares it with the base model.

    Files land in ``out_dir``: ``checkpoint.pt``, ``model_config.json``, ``train_config.json``
    and ``report/`` (markdown, JSON, PNGs). The surface ``baselines`` are scored with the
    same protocol and every scorer gets paired bootstrap intervals against the GSE. A
    validation or test split without both classes is refused before any training.
    """
    started = time.monotonic()
    say = progress or (lambda stage, frac, detail: None)
    out_dir = Path(out_dir)
    resolver = combined_resolver(resolver, config.extra_images_dirs)
    require_scorable("validation", (p.label for p in snapshot.val))
    require_scorable("test", (p.label for p in snapshot.test))
    train_pairs = training_pairs(snapshot, config)
    # Fail before any training if an image is missing anywhere.
    train_paths = resolve_images(pair_sticker_ids(train_pairs), resolver, where="training pairs")
    for name, split in (("validation pairs", snapshot.val), ("test pairs", snapshot.test)):
        resolve_images(pair_sticker_ids(split), resolver, where=name)

    seed_everything(config.seed)
    model = gse_model_load(base_model, pretrained, config.device, model_config)
    say("base-eval", 0.0, "evaluating the base model")
    base = evaluate_model(model, test=snapshot.test, val=snapshot.val, resolver=resolver,
                          groups=groups)
    surface = evaluate_baselines(baselines, test=snapshot.test, val=snapshot.val,
                                 resolver=resolver, groups=groups)
    if config.lock_text_tower:
        model.lock_text_tower()
    pixels_kind = AugmentedStickerPixels if config.augment else StickerPixels
    batches = PairBatches(train_pairs, pixels_kind(train_paths, model.preprocess), queries,
                          model.tokenizer, batch_size=config.batch_size, seed=config.seed)

    def on_step(step: int, total: int, loss: float) -> None:
        say("train", step / total, f"step {step}/{total} loss {loss:.4f}")

    state = train(model, batches, config, on_step)
    say("gse-eval", 0.0, "evaluating the trained GSE")
    gse = evaluate_model(model, test=snapshot.test, val=snapshot.val, resolver=resolver,
                         groups=groups)
    checkpoint = gse_checkpoint_save(model, out_dir / "checkpoint.pt")
    (out_dir / "model_config.json").write_text(json.dumps(model.model_config, indent=2))
    (out_dir / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2))
    say("report", 0.0, "writing the report")
    run_info = {"base_model": base_model, "pretrained": pretrained or "(random init)",
                "train_pairs": len(train_pairs), "val_pairs": len(snapshot.val),
                "test_pairs": len(snapshot.test), "steps": state.step,
                "seconds": round(time.monotonic() - started, 1), **config.to_dict(),
                **(info or {})}
    evaluations = {"GSE": gse, "base": base, **surface}
    bootstrap = compare(evaluations, reference="GSE", seed=config.seed)
    files = write_report(out_dir / "report", title=title, evaluations=evaluations,
                         losses=state.losses, steps_per_epoch=len(batches), info=run_info,
                         notes=[*notes, *baseline_notes(baselines)], bootstrap=bootstrap)
    return RunResult(gse=gse, base=base, losses=state.losses, checkpoint=checkpoint,
                     report_files=files, model_name=model.model_name,
                     model_config=model.model_config, base_version=model.base_version,
                     seconds=time.monotonic() - started, baselines=surface,
                     bootstrap=bootstrap)
