"""Migration 0002: StickerEmbedding.encoder_version from a version string to a foreign key,
each embedding pointing at its version's row, a placeholder row made where none existed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("encoder", "0001_initial")]
AFTER = [("encoder", "0002_embedding_version_fk")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_embeddings_keep_their_version_through_the_foreign_key_migration():
    # given the string-keyed schema with two embeddings of a registered version and one of a
    # version that has no row (as the old game test factories wrote them)
    old = _migrate(BEFORE)
    try:
        Sticker = old.get_model("annotation", "Sticker")
        EncoderVersion = old.get_model("encoder", "EncoderVersion")
        StickerEmbedding = old.get_model("encoder", "StickerEmbedding")
        stickers = [Sticker.objects.create(sticker_id=f"m{i}.png", content_hash=f"{i:064x}",
                                           size_bytes=1, width=1, height=1, media_type="png")
                    for i in range(3)]
        EncoderVersion.objects.create(version="known-v", kind="base", model_name="ViT-B-32")
        for sticker, version in zip(stickers, ["known-v", "known-v", "orphan-v"], strict=True):
            StickerEmbedding.objects.create(sticker=sticker, encoder_version=version, dim=2,
                                            vector=b"\0" * 8)
        # when the migration runs
        new = _migrate(AFTER)
        # then every embedding points at the row of its version string, the orphan at a
        # placeholder row that says why it exists, and nothing was dropped
        Embedding = new.get_model("encoder", "StickerEmbedding")
        got = {e.sticker.sticker_id: e.encoder_version.version
               for e in Embedding.objects.select_related("sticker", "encoder_version")}
        assert got == {"m0.png": "known-v", "m1.png": "known-v", "m2.png": "orphan-v"}
        orphan = new.get_model("encoder", "EncoderVersion").objects.get(version="orphan-v")
        assert "migration 0002" in orphan.train_config["note"]
        # and going back restores the strings
        back = _migrate(BEFORE)
        assert sorted(back.get_model("encoder", "StickerEmbedding").objects.values_list(
            "encoder_version", flat=True)) == ["known-v", "known-v", "orphan-v"]
    finally:
        # Every app's latest migration, not the encoder's only: going back to encoder 0001 also
        # unapplied the migrations of other apps that depend on the encoder (game 0005, the
        # term vectors), and the tests after this one need their tables.
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
