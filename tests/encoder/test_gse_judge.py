"""The VLM judge client (encoder/gse/judge.py) against an OpenAI-compatible chat-completions
server that the test starts on 127.0.0.1: well-formed, malformed and too-slow answers,
concurrency, resuming from the cache, the cost of a run. No database, no network."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from encoder.gse.data import PairRow, folder_resolver
from encoder.gse.judge import (
    JUDGE_PROMPT,
    UNANSWERED_SCORE,
    JudgeCache,
    judge_pairs,
    openai_asker,
    parse_answer,
)

RED, BLUE = (255, 0, 0), (0, 0, 255)  # first image red: malformed answer; blue: too slow
SLOW_S, CLIENT_TIMEOUT_S = 3.0, 0.5


class FakeVlm(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions`` in the documented wire format."""

    log: list[dict] = []
    in_flight = 0
    max_in_flight = 0
    lock = threading.Lock()

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        with cls.lock:
            cls.log.append({"path": self.path, "auth": self.headers.get("Authorization"),
                            "body": body})
            cls.in_flight += 1
            cls.max_in_flight = max(cls.max_in_flight, cls.in_flight)
        try:
            self._answer(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)
        finally:
            with cls.lock:
                cls.in_flight -= 1

    def _answer(self, body: dict) -> None:
        content = body["messages"][0]["content"]
        pixels = [_first_pixel(part["image_url"]["url"]) for part in content[1:]]
        time.sleep(0.05)  # long enough for requests to overlap
        if pixels[0] == BLUE:
            time.sleep(SLOW_S)
        if pixels[0] == RED:
            text = "These two look quite alike to me!"
        else:
            score = 0.9 if pixels[0] == pixels[1] else 0.1
            text = "```json\n" + json.dumps({"score": score, "reason": "colours"}) + "\n```"
        payload = {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _first_pixel(url: str) -> tuple[int, int, int]:
    data = base64.b64decode(url.split(",", 1)[1])
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel((0, 0))


@pytest.fixture
def vlm_server():
    FakeVlm.log, FakeVlm.in_flight, FakeVlm.max_in_flight = [], 0, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeVlm)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stickers(tmp_path):
    folder = tmp_path / "stickers"
    folder.mkdir()
    colours = {"g1": (0, 200, 0), "g1b": (0, 200, 0), "g2": (200, 200, 0), "g2b": (200, 200, 0),
               "g3": (90, 90, 90), "red": RED, "blue": BLUE}
    for name, colour in colours.items():
        Image.new("RGB", (16, 16), colour).save(folder / f"{name}.png")
    pairs = [PairRow("g1.png", "g1b.png", 1), PairRow("g1.png", "g2.png", 0),
             PairRow("g2.png", "g2b.png", 1), PairRow("red.png", "g1.png", 0),
             PairRow("blue.png", "g2.png", 1), PairRow("g3.png", "g2.png", 0)]
    return folder, pairs


def test_a_run_scores_counts_and_survives_bad_answers(vlm_server, stickers, tmp_path,
                                                      monkeypatch):
    # given the loopback server, six pairs (one gets a malformed answer, one times out)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    folder, pairs = stickers
    ask = openai_asker(endpoint=vlm_server, model="fake-vlm", timeout=CLIENT_TIMEOUT_S)
    cache = JudgeCache(tmp_path / "cache", "fake-vlm")
    # when the judge runs two requests at a time
    run = judge_pairs(pairs, folder_resolver(folder), ask=ask, cache=cache, concurrency=2)
    # then well-formed answers are the scores, the others are neutral, and all are counted
    assert run.scores.scores.tolist() == [0.9, 0.1, 0.9, UNANSWERED_SCORE, UNANSWERED_SCORE, 0.1]
    assert [a.status for a in run.answers] == ["ok", "ok", "ok", "malformed", "timeout", "ok"]
    cost = run.cost.as_dict()
    assert cost["requests"] == 6 and cost["cached_answers"] == 0
    assert cost["answers"] == {"malformed": 1, "ok": 4, "timeout": 1}
    assert cost["prompt_tokens"] == 500 and cost["completion_tokens"] == 50
    # and the requests were in the documented wire format, never more than two at a time
    first = FakeVlm.log[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer test-key"
    assert first["body"]["model"] == "fake-vlm"
    content = first["body"]["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": JUDGE_PROMPT}
    assert [c["type"] for c in content[1:]] == ["image_url", "image_url"]
    assert FakeVlm.max_in_flight <= 2


def test_a_second_run_asks_only_what_is_missing(vlm_server, stickers, tmp_path):
    # given a finished run
    folder, pairs = stickers
    ask = openai_asker(endpoint=vlm_server, model="fake-vlm", timeout=CLIENT_TIMEOUT_S,
                       api_key="k")
    judge_pairs(pairs, folder_resolver(folder), ask=ask,
                cache=JudgeCache(tmp_path / "cache", "fake-vlm"), concurrency=3)
    sent = len(FakeVlm.log)
    # when the run is started again with a fresh cache object over the same folder
    again = judge_pairs(pairs, folder_resolver(folder), ask=ask,
                        cache=JudgeCache(tmp_path / "cache", "fake-vlm"), concurrency=3)
    # then only the timed-out pair is asked again; the malformed answer is kept
    assert len(FakeVlm.log) == sent + 1
    assert again.cost.requests == 1 and again.cost.cached == 5
    assert again.scores.scores.tolist()[:3] == [0.9, 0.1, 0.9]
    # and another model name has its own answers
    other = JudgeCache(tmp_path / "cache", "other-vlm")
    assert other.answers == {}


@pytest.mark.parametrize("text, expected", [
    ('{"score": 0.73, "reason": "both wave"}', (0.73, "both wave")),
    ('Sure! {"score": 1, "reason": "same"} Hope it helps', (1.0, "same")),
    ('{"score": 1.4, "reason": "x"}', None),
    ('{"score": "high"}', None),
    ("no json here", None),
    ('{"reason": "no score"}', None),
])
def test_parse_answer(text, expected):
    assert parse_answer(text) == expected
