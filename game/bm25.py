"""BM25 over stickers' queries, and the retrieval evaluation of seed 002, Table 6 (pure: no
Django). One document per sticker: all its query texts, tokenised; Chinese with jieba, as the
paper did (section 5.1), everything else by word characters.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np

_WORDS = re.compile(r"\w+", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
RECALL_KS = (1, 5, 10, 50)


def tokenize(text: str, language: str) -> list[str]:
    """The BM25 terms of one text: case-folded words; Chinese text cut by jieba first.

    Emoji and punctuation carry no ``\\w`` and drop out; a query of only those matches
    nothing rather than everything.
    """
    text = text.casefold()
    if language == "zh" or _HAN.search(text):
        import jieba  # loads its dictionary (about 1 s) on first use only

        words = (w for w in jieba.lcut_for_search(text) if w.strip())
        return [t for w in words for t in _WORDS.findall(w)]
    return _WORDS.findall(text)


@dataclass
class QueryIndex:
    """BM25 over one document per sticker (its queries), for one language."""

    keys: list  # the sticker of each document, in index order
    language: str
    retriever: bm25s.BM25 | None  # None: no document has a term
    idf: dict[str, float] = field(default_factory=dict)  # term -> BM25 idf (the tower's weights)

    @classmethod
    def build(cls, docs: Mapping[object, Sequence[str]], language: str) -> QueryIndex:
        """Indexes ``docs`` (sticker -> query texts); stickers without terms are left out."""
        keys, corpus = [], []
        for key, texts in docs.items():
            tokens = [t for text in texts for t in tokenize(text, language)]
            if tokens:
                keys.append(key)
                corpus.append(tokens)
        if not corpus:
            return cls(keys=[], language=language, retriever=None)
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        df = Counter(t for tokens in corpus for t in set(tokens))
        n = len(corpus)  # Lucene's idf, as bm25s scores with: log(1 + (N - df + 0.5) / (df + 0.5))
        idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        return cls(keys=keys, language=language, retriever=retriever, idf=idf)

    def search(self, text: str, k: int = 10) -> list[tuple[object, float]]:
        """The k best stickers for ``text`` with their BM25 scores, best first; only stickers
        sharing a term with it (score > 0)."""
        scores = self.scores(text)
        if scores is None:
            return []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]  # score descending, index order on ties
        return [(self.keys[i], float(scores[i])) for i in top if scores[i] > 0]

    def scores(self, text: str) -> np.ndarray | None:
        """BM25 score of every document for ``text`` (None: no known term)."""
        if self.retriever is None:
            return None
        vocab = self.retriever.vocab_dict
        terms = [t for t in tokenize(text, self.language) if t in vocab]
        if not terms:
            return None
        return self.retriever.get_scores(terms)


@dataclass(frozen=True)
class RecallReport:
    """Recall@K of held-out queries against an index, for one language."""

    language: str
    stickers_indexed: int
    queries: int  # held-out queries retrieved
    recall: dict[int, float]  # K -> share of queries whose sticker is in the top K

    def lines(self) -> list[str]:
        figures = "  ".join(f"R@{k}={v:.3f}" for k, v in self.recall.items())
        return [f"{self.language}: {self.queries} held-out queries over "
                f"{self.stickers_indexed} indexed stickers: {figures}"]


def split_queries(docs: Mapping[object, Sequence[str]], *, seed: int
                  ) -> tuple[dict[object, list[str]], list[tuple[object, str]]]:
    """Each sticker's queries shuffled (seeded) and cut in two: the first half (rounded up) is
    indexed, the rest are held-out queries. A sticker with one query is indexed only (a
    distractor for the others), as it has nothing to hold out."""
    rng = random.Random(seed)
    indexed: dict[object, list[str]] = {}
    held_out: list[tuple[object, str]] = []
    for key in sorted(docs, key=str):
        texts = list(dict.fromkeys(docs[key]))
        rng.shuffle(texts)
        half = (len(texts) + 1) // 2
        indexed[key] = texts[:half]
        held_out.extend((key, t) for t in texts[half:])
    return indexed, held_out


def recall_at_k(index: QueryIndex, held_out: Iterable[tuple[object, str]],
                ks: Sequence[int] = RECALL_KS) -> RecallReport:
    """Recall@K: for each (sticker, query), is the sticker among the query's top K stickers?
    A query with no known term finds nothing (a miss at every K)."""
    position = {key: i for i, key in enumerate(index.keys)}
    hits = dict.fromkeys(ks, 0)
    n = 0
    for key, text in held_out:
        n += 1
        scores = index.scores(text)
        target = position.get(key)
        if scores is None or target is None or scores[target] <= 0:
            continue
        # Ties are broken at random in expectation: the target's mean rank among the
        # documents scoring the same (neither in its favour nor against it).
        higher = int(np.count_nonzero(scores > scores[target]))
        tied = int(np.count_nonzero(scores == scores[target])) - 1
        rank = 1 + higher + tied / 2
        for k in ks:
            hits[k] += rank <= k
    recall = {k: (hits[k] / n if n else 0.0) for k in ks}
    return RecallReport(language=index.language, stickers_indexed=len(index.keys), queries=n,
                        recall=recall)
