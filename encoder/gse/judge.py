"""The VLM judge baseline (paper 001, section 5.1 and appendix A), no Django.

A vision-language model sees two stickers and answers a similarity score in [0, 1] as JSON.
It talks to any OpenAI-compatible chat-completions server (the ``openai`` client; the API key
from ``OPENAI_API_KEY``, or a placeholder for local servers that need none).

Why the care around the calls: a judge run is thousands of paid, slow requests. So requests run
``concurrency`` at a time, every answer is cached on disk per (model, pair, image contents) and
a rerun only asks what is missing, and a malformed answer or a timeout is counted and reported,
never a crash. A pair without a usable answer gets the neutral score 0.5 so that the judge is
scored on the same pairs as every other scorer (the paired bootstrap needs that); the report
says how many.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from encoder.gse.data import ImageResolver, PairRow, load_still, resolve_images
from encoder.gse.evaluate import PairScores

# Appendix A of paper 001, verbatim.
JUDGE_PROMPT = (
    "You are a sticker similarity judge. Compare these two stickers and evaluate: "
    "1. Semantic similarity score (0-1, where 1=identical meaning) "
    "2. Brief reasoning for your score. "
    'Return in JSON format: {"score": 0.xx, "reason": "..."}'
)
UNANSWERED_SCORE = 0.5  # neutral score of a pair whose answer was malformed or never came
CONCURRENCY = 4  # requests in flight: a local server's GPU or a provider's rate limit
TIMEOUT_S = 60.0  # per request
MAX_SIDE = 512  # stills are downscaled to this side before upload (tokens grow with pixels)
MAX_TOKENS = 200  # the answer is one short JSON object
CACHED_STATUSES = ("ok", "malformed")  # answers kept; timeouts and errors are asked again


@dataclass
class JudgeAnswer:
    """What the judge said about one pair (or why it said nothing usable)."""

    status: str  # "ok" | "malformed" | "timeout" | "error"
    score: float | None = None
    reason: str = ""
    raw: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class JudgeCost:
    """What a run cost: requests actually sent, answers reused, tokens, failures."""

    requests: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, answer: JudgeAnswer, *, from_cache: bool) -> None:
        self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
        if from_cache:
            self.cached += 1
            return
        self.requests += 1
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cached_answers": self.cached,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
                "answers": dict(sorted(self.statuses.items())),
                "unanswered_scored_as": UNANSWERED_SCORE}


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_answer(text: str) -> tuple[float, str] | None:
    """``(score, reason)`` from the model's text, or None when it is not the asked JSON.

    Tolerates code fences and words around the object; the score must be a number in [0, 1].
    """
    match = _JSON_OBJECT.search(text or "")
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
        score = float(data["score"])
    except (ValueError, KeyError, TypeError):
        return None
    if not 0.0 <= score <= 1.0 or score != score:
        return None
    return score, str(data.get("reason", ""))


def image_data_url(path: Path) -> str:
    """The still (first frame) as a PNG data URL, at most ``MAX_SIDE`` pixels a side."""
    image = load_still(path)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def judge_messages(url_a: str, url_b: str) -> list[dict[str, Any]]:
    """The chat messages of one request: the prompt and the two stickers, in pair order."""
    return [{"role": "user", "content": [
        {"type": "text", "text": JUDGE_PROMPT},
        {"type": "image_url", "image_url": {"url": url_a}},
        {"type": "image_url", "image_url": {"url": url_b}},
    ]}]


class JudgeCache:
    """Answers on disk, one JSON line each, in ``<folder>/<model>.jsonl`` (append-only)."""

    def __init__(self, folder: str | Path, model: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model)
        self.path = Path(folder) / f"{safe}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.answers: dict[str, JudgeAnswer] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    key = row.pop("key")
                    self.answers[key] = JudgeAnswer(**row)
                except (ValueError, TypeError, KeyError):
                    continue  # a line cut short by a killed run

    def get(self, key: str) -> JudgeAnswer | None:
        return self.answers.get(key)

    def put(self, key: str, answer: JudgeAnswer) -> None:
        if answer.status not in CACHED_STATUSES:
            return
        with self._lock:
            self.answers[key] = answer
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, **answer.__dict__}, ensure_ascii=False) + "\n")


def pair_key(pair: PairRow, paths: dict[str, Path]) -> str:
    """The cache key: both sticker ids in order and a hash of both files' bytes."""
    digest = hashlib.sha256()
    for sid in (pair.sticker_id, pair.sticker_id_2):
        digest.update(paths[sid].read_bytes())
    return f"{pair.sticker_id}\t{pair.sticker_id_2}\t{digest.hexdigest()[:16]}"


AskFn = Callable[[list[dict[str, Any]]], JudgeAnswer]  # messages -> answer


def openai_asker(
    *, endpoint: str, model: str, timeout: float = TIMEOUT_S, api_key: str | None = None,
) -> AskFn:
    """One chat-completions call per pair through the ``openai`` client, never raising."""
    import openai

    client = openai.OpenAI(base_url=endpoint, timeout=timeout, max_retries=0,
                           api_key=api_key or os.environ.get("OPENAI_API_KEY") or "none")

    def ask(messages: list[dict[str, Any]]) -> JudgeAnswer:
        try:
            response = client.chat.completions.create(
                model=model, messages=messages, max_tokens=MAX_TOKENS, temperature=0)
        except openai.APITimeoutError as e:
            return JudgeAnswer(status="timeout", raw=str(e)[:500])
        except openai.OpenAIError as e:
            return JudgeAnswer(status="error", raw=f"{type(e).__name__}: {e}"[:500])
        usage = response.usage
        tokens = {"prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
                  "completion_tokens": getattr(usage, "completion_tokens", 0) or 0}
        try:
            text = response.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError):
            return JudgeAnswer(status="malformed", raw=str(response)[:500], **tokens)
        parsed = parse_answer(text)
        if parsed is None:
            return JudgeAnswer(status="malformed", raw=text[:500], **tokens)
        return JudgeAnswer(status="ok", score=parsed[0], reason=parsed[1][:500], raw=text[:500],
                           **tokens)

    return ask


@dataclass
class JudgeRun:
    """Scores of one pair file, the answers behind them, and what the run cost."""

    scores: PairScores
    answers: list[JudgeAnswer]
    cost: JudgeCost


def judge_pairs(
    pairs: Sequence[PairRow], resolver: ImageResolver, *, ask: AskFn, cache: JudgeCache,
    concurrency: int = CONCURRENCY, where: str = "pairs",
    progress: Callable[[int, int], None] | None = None,
) -> JudgeRun:
    """Asks the judge about every pair not already in ``cache``, ``concurrency`` at a time."""
    paths = resolve_images([s for p in pairs for s in (p.sticker_id, p.sticker_id_2)],
                           resolver, where=where)
    keys = [pair_key(p, paths) for p in pairs]
    answers: list[JudgeAnswer | None] = [cache.get(k) for k in keys]
    cost = JudgeCost()
    todo = [i for i, a in enumerate(answers) if a is None]
    done = [0]
    lock = threading.Lock()

    def one(i: int) -> None:
        pair = pairs[i]
        answer = ask(judge_messages(image_data_url(paths[pair.sticker_id]),
                                    image_data_url(paths[pair.sticker_id_2])))
        cache.put(keys[i], answer)
        answers[i] = answer
        with lock:
            done[0] += 1
            if progress:
                progress(done[0], len(todo))

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(one, todo))
    asked = set(todo)
    final = [a for a in answers if a is not None]  # every pair has one now
    for i, answer in enumerate(final):
        cost.add(answer, from_cache=i not in asked)
    scores = np.asarray([a.score if a.status == "ok" and a.score is not None
                         else UNANSWERED_SCORE for a in final], dtype=np.float64)
    labels = np.asarray([p.label for p in pairs], dtype=int)
    return JudgeRun(scores=PairScores(scores, labels), answers=final, cost=cost)
