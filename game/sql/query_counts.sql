-- Keeps two tables in step with annotation_query, one statement at a time (statement-level
-- triggers with transition tables: a COPY or bulk INSERT of a million queries costs one pass):
-- * game_querychange: per statement and language, how many rows changed. The search index's
--   freshness signature is (max id, sum of changes) of a language: both visible exactly when
--   the change commits, and cheap to read (a handful of rows once compacted).
-- * game_stickerquerycount: each sticker's query count per language; the labeler's pick walks
--   its index (language, queries, sticker) instead of counting every sticker's queries.
-- Rows are added in (sticker, language) order, as game_round_accept_queries adds queries, so
-- two statements on the same stickers lock their counts in the same order.
CREATE OR REPLACE FUNCTION game_query_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO game_querychange (language, changes) VALUES ('*', 1);
    UPDATE game_stickerquerycount SET queries = 0 WHERE queries <> 0;
    RETURN NULL;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO game_querychange (language, changes)
    SELECT n.language, count(*) FROM new_rows n GROUP BY n.language ORDER BY n.language;
    INSERT INTO game_stickerquerycount AS c (sticker_id, language, queries)
    SELECT n.sticker_id, n.language, count(*) FROM new_rows n
    GROUP BY n.sticker_id, n.language ORDER BY n.sticker_id, n.language
    ON CONFLICT (sticker_id, language) DO UPDATE SET queries = c.queries + EXCLUDED.queries;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    -- an UPDATE is logged under its old language(s) too: a query moved from en to zh
    -- changes both indexes
    INSERT INTO game_querychange (language, changes)
    SELECT o.language, count(*) FROM old_rows o GROUP BY o.language ORDER BY o.language;
    UPDATE game_stickerquerycount c SET queries = c.queries - o.n
    FROM (SELECT sticker_id, language, count(*) AS n FROM old_rows
          GROUP BY sticker_id, language ORDER BY sticker_id, language) o
    WHERE c.sticker_id = o.sticker_id AND c.language = o.language;
  END IF;
  RETURN NULL;
END
$fn$;

-- A new sticker starts with no query in each of the game's languages (game.models.Language),
-- so the pick finds it at the head of the index.
CREATE OR REPLACE FUNCTION game_sticker_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO game_stickerquerycount (sticker_id, language, queries)
  SELECT s.id, l.language, 0 FROM new_stickers s
  CROSS JOIN (VALUES ('en'), ('zh')) AS l (language)
  ORDER BY s.id, l.language
  ON CONFLICT (sticker_id, language) DO NOTHING;
  RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS game_query_inserted ON annotation_query;
CREATE TRIGGER game_query_inserted AFTER INSERT ON annotation_query
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION game_query_changed();
DROP TRIGGER IF EXISTS game_query_updated ON annotation_query;
CREATE TRIGGER game_query_updated AFTER UPDATE ON annotation_query
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION game_query_changed();
DROP TRIGGER IF EXISTS game_query_deleted ON annotation_query;
CREATE TRIGGER game_query_deleted AFTER DELETE ON annotation_query
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION game_query_changed();
DROP TRIGGER IF EXISTS game_query_truncated ON annotation_query;
CREATE TRIGGER game_query_truncated AFTER TRUNCATE ON annotation_query
  FOR EACH STATEMENT EXECUTE FUNCTION game_query_changed();
DROP TRIGGER IF EXISTS game_sticker_inserted ON annotation_sticker;
CREATE TRIGGER game_sticker_inserted AFTER INSERT ON annotation_sticker
  REFERENCING NEW TABLE AS new_stickers FOR EACH STATEMENT EXECUTE FUNCTION game_sticker_added();
