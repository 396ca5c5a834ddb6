"""The GSE report: ``report.md`` + ``report.json`` and PNG plots (matplotlib, Agg backend).

Plots: ROC curves (GSE and base on the test split), histograms of the cosine scores of
positive and negative test pairs per model, and the training loss per step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and workers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from encoder.gse.bootstrap import paired_bootstrap, verdict  # noqa: E402
from encoder.gse.evaluate import Evaluation  # noqa: E402

METRIC_COLUMNS = ("accuracy", "precision", "recall", "f1", "roc_auc")
INTERVAL_METRICS = ("f1", "roc_auc")  # the metrics the bootstrap gives intervals for
HISTOGRAM_COLUMNS = 3  # score histograms per figure row


def compare(
    evaluations: Mapping[str, Evaluation], *, reference: str | None,
    n_resamples: int | None = None, seed: int = 0, baselines: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Paired bootstrap over the test pairs that every evaluation scored (same order), with
    ``reference`` minus each other scorer, plus the one-line verdict against the best of
    ``baselines`` (default: every other scorer; a table with several GSEs names its baselines,
    so another GSE is never called "the best baseline")."""
    first = next(iter(evaluations.values()))
    for name, ev in evaluations.items():
        if not np.array_equal(ev.test.labels, first.test.labels):
            raise ValueError(f"{name}: scored other test pairs than the rest; cannot pair them")
    extra = {} if n_resamples is None else {"n_resamples": n_resamples}
    out = paired_bootstrap({k: v.test.scores for k, v in evaluations.items()}, first.test.labels,
                           {k: v.threshold for k, v in evaluations.items()},
                           reference=reference, seed=seed, **extra)
    if baselines is None:
        baselines = [k for k in evaluations if k != reference]
    out["verdict"] = verdict(out, baselines)
    return out


def evaluation_summary(evaluation: Evaluation) -> dict[str, Any]:
    """JSON-ready metrics of one model (what EncoderVersion.metrics stores per model)."""
    return {**evaluation.metrics, "threshold_source": evaluation.threshold_source,
            "retrieval": evaluation.retrieval}


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _with_interval(value: Any, interval: Mapping[str, float] | None) -> str:
    if interval is None or value is None:
        return _fmt(value)
    return f"{_fmt(value)} [{interval['low']:.3f}, {interval['high']:.3f}]"


def metrics_table(
    evaluations: Mapping[str, Evaluation], bootstrap: Mapping[str, Any] | None = None,
) -> str:
    """Markdown table: one row per model, Acc/P/R/F1/AUC (F1 and AUC with their bootstrap
    interval when given), threshold and Recall@k."""
    ks = list(dict.fromkeys(k for ev in evaluations.values() for k in ev.retrieval
                            if k.startswith("recall@")))
    head = ["model", *METRIC_COLUMNS, "threshold", *ks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    intervals = (bootstrap or {}).get("scorers", {})
    for name, ev in evaluations.items():
        cells = [name, *(_with_interval(ev.metrics.get(c), intervals.get(name, {}).get(c))
                         for c in METRIC_COLUMNS), _fmt(ev.threshold),
                 *(_fmt(ev.retrieval.get(k)) for k in ks)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


PAPER_COLUMNS = (("Acc.", "accuracy"), ("AUC", "roc_auc"), ("Recall", "recall"), ("F1", "f1"),
                 ("Prec.", "precision"))  # the order of the paper's Table 3


def paper_table(
    evaluations: Mapping[str, Evaluation], bootstrap: Mapping[str, Any] | None = None,
) -> str:
    """The paper's Table 3: Model, Acc., AUC, Recall, F1, Prec.; the best of each column in
    bold and the second best underlined; AUC and F1 with their bootstrap intervals."""
    intervals = (bootstrap or {}).get("scorers", {})
    ranks: dict[str, dict[str, int]] = {}
    for _, key in PAPER_COLUMNS:
        values = sorted({round(v, 3) for ev in evaluations.values()
                         if (v := ev.metrics.get(key)) is not None}, reverse=True)
        ranks[key] = {str(v): i for i, v in enumerate(values[:2])}
    lines = ["| Model | " + " | ".join(h + (" ↑" if k != "precision" else "")
                                      for h, k in PAPER_COLUMNS) + " |",
             "|---|" + "---|" * len(PAPER_COLUMNS)]
    for name, ev in evaluations.items():
        cells = []
        for _, key in PAPER_COLUMNS:
            value = ev.metrics.get(key)
            text = _fmt(value)
            rank = None if value is None else ranks[key].get(str(round(value, 3)))
            text = f"**{text}**" if rank == 0 else f"<u>{text}</u>" if rank == 1 else text
            interval = intervals.get(name, {}).get(key)
            if interval is not None:
                text += f" [{interval['low']:.3f}, {interval['high']:.3f}]"
            cells.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def differences_table(bootstrap: Mapping[str, Any]) -> str:
    """Markdown table of ``reference - scorer`` for AUC and F1 with their intervals."""
    reference = bootstrap["reference"]
    lines = [f"| {reference} minus | AUC difference [95% CI] | F1 difference [95% CI] |",
             "|---|---|---|"]
    for name, d in bootstrap["differences"].items():
        cells = [f"{d[m]['point']:+.3f} [{d[m]['low']:+.3f}, {d[m]['high']:+.3f}]"
                 for m in ("roc_auc", "f1")]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def plot_roc(evaluations: Mapping[str, Evaluation], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, ev in evaluations.items():
        if len(set(ev.test.labels.tolist())) == 2:
            fpr, tpr, _ = roc_curve(ev.test.labels, ev.test.scores)
            ax.plot(fpr, tpr, label=f"{name} (AUC {_fmt(ev.metrics.get('roc_auc'))})")
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test split")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_histograms(evaluations: Mapping[str, Evaluation], path: Path) -> None:
    columns = min(HISTOGRAM_COLUMNS, len(evaluations))
    rows = (len(evaluations) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.5 * rows), squeeze=False)
    for ax in axes.reshape(-1)[len(evaluations):]:
        ax.set_axis_off()
    for ax, (name, ev) in zip(axes.reshape(-1), evaluations.items(), strict=False):
        lo, hi = float(ev.test.scores.min()), float(ev.test.scores.max())
        bins = np.linspace(lo, max(hi, lo + 1e-6), 41)  # the model's own range: an untrained
        # base often puts every pair within 0.05 of cosine 1
        ax.hist(ev.test.scores[ev.test.labels == 1], bins=bins, alpha=0.6, label="positive")
        ax.hist(ev.test.scores[ev.test.labels == 0], bins=bins, alpha=0.6, label="negative")
        ax.axvline(ev.threshold, color="k", linestyle="--", linewidth=0.8, label="threshold")
        ax.set(xlabel="cosine", ylabel="pairs", title=name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_losses(losses: Sequence[float], steps_per_epoch: int, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(1, len(losses) + 1), losses, linewidth=1)
    for epoch_end in range(steps_per_epoch, len(losses), max(1, steps_per_epoch)):
        ax.axvline(epoch_end + 0.5, color="grey", linewidth=0.5)
    ax.set(xlabel="step", ylabel="training loss", title="GSE training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(
    folder: str | Path, *, title: str, evaluations: Mapping[str, Evaluation],
    losses: Sequence[float] = (), steps_per_epoch: int = 0, info: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (), bootstrap: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Writes the report files into ``folder``; returns ``{kind: path}``.

    ``bootstrap`` (from :func:`compare`) adds the intervals, the differences and the verdict.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"roc": folder / "roc.png", "histograms": folder / "score_histograms.png"}
    plot_roc(evaluations, files["roc"])
    plot_histograms(evaluations, files["histograms"])
    if losses:
        files["loss"] = folder / "loss.png"
        plot_losses(losses, steps_per_epoch, files["loss"])
    data = {"title": title, "info": dict(info or {}), "notes": list(notes),
            "metrics": {k: evaluation_summary(v) for k, v in evaluations.items()},
            "losses": [float(x) for x in losses]}
    if bootstrap is not None:
        data["bootstrap"] = dict(bootstrap)
        data["verdict"] = bootstrap.get("verdict", "")
    files["json"] = folder / "report.json"
    files["json"].write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    lines = [f"# {title}", "", "Test split; threshold tuned on validation to maximise F1.", ""]
    if bootstrap is not None:
        lines += [f"**{bootstrap.get('verdict', '')}**", "",
                  f"F1 and AUC with paired bootstrap 95% intervals ({bootstrap['n_resamples']} "
                  f"resamples of the test pairs, stratified by class, seed {bootstrap['seed']}; "
                  "the same resamples for every scorer).", ""]
    lines += [metrics_table(evaluations, bootstrap), ""]
    if bootstrap is not None and bootstrap.get("differences"):
        lines += [differences_table(bootstrap), ""]
    lines += [f"- {n}" for n in notes]
    lines += ["", "## Run", ""] + [f"- {k}: `{v}`" for k, v in (info or {}).items()]
    lines += ["", "![ROC](roc.png)", "", "![scores](score_histograms.png)"]
    if losses:
        lines += ["", "![loss](loss.png)"]
    files["markdown"] = folder / "report.md"
    files["markdown"].write_text("\n".join(lines) + "\n")
    return {k: str(v) for k, v in files.items()}
