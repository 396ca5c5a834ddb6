"""The General Sticker Encoder (paper 001, section 4): model, loss, data, training loop,
evaluation and report, with no Django in it (the OpenCLIP library/trainer split).

- ``config.py``: :class:`TrainConfig`, every training knob with its default from the paper.
- ``model.py``: :class:`GseModel`, an OpenCLIP model that returns normalised features.
- ``loss.py``: CLIP image<->text contrastive loss plus an image-image pair loss.
- ``data.py``: Triple-S CSVs, sticker stills and their query texts, batches of pairs.
- ``train.py``: AdamW, warm-up + cosine schedule, ``train_one_epoch``, ``train``.
- ``metrics.py`` / ``evaluate.py``: threshold search, Acc/P/R/F1/AUC, retrieval Recall@k.
- ``baselines.py``: surface baselines (raw pixels, colour histogram, image hashes) that any
  gain must beat, scored with the same protocol (``evaluate.evaluate_baselines``).
- ``bootstrap.py``: paired bootstrap intervals for AUC and F1 and their differences.
- ``scorable.py``: a split without both classes is refused, saying which class and why.
- ``emotion.py``: emotion classification by one reference sticker per class.
- ``judge.py``: the VLM judge baseline over an OpenAI-compatible server, cached per pair.
- ``report.py``: markdown + JSON report with PNG plots, intervals and the paper's Table 3.
"""
