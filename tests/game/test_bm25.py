"""BM25 over stickers' queries and the Recall@K evaluation (pure: no database)."""

from game.bm25 import QueryIndex, recall_at_k, split_queries, tokenize


def test_tokenize_folds_case_drops_punctuation_and_cuts_chinese_with_jieba():
    assert tokenize("Thumbs-UP!! 👍", "en") == ["thumbs", "up"]
    assert "赞同" in tokenize("我赞同", "zh")


def test_search_ranks_the_sticker_whose_queries_match_best():
    index = QueryIndex.build({"a": ["good job", "thumbs up"], "b": ["good night"],
                              "c": ["sleepy"]}, "en")
    assert [k for k, _ in index.search("good job")] == ["a", "b"]
    assert index.search("unknown words") == []


def test_split_is_seeded_and_holds_out_half_of_each_stickers_queries():
    docs = {"a": ["1", "2", "3", "4", "5"], "b": ["x"]}
    indexed, held = split_queries(docs, seed=7)
    assert (len(indexed["a"]), indexed["b"]) == (3, ["x"])
    assert sorted(indexed["a"] + [t for _, t in held]) == docs["a"]
    assert split_queries(docs, seed=7) == (indexed, held)


def test_recall_counts_ties_at_their_mean_rank():
    # given two identical documents: the target ties with the other one
    index = QueryIndex.build({"a": ["cat"], "b": ["cat"]}, "en")
    report = recall_at_k(index, [("a", "cat")], ks=(1, 2))
    # then rank 1.5: a miss at K=1, a hit at K=2
    assert report.recall == {1: 0.0, 2: 1.0}
