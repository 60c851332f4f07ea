-- transcript_search — which transcript lines contain the words searched for, best
-- matches first.
--
-- Parameters (psql variables, -v name=value):
--   query  required: words in web-search syntax (websearch_to_tsquery): all words must
--          appear; "quoted words" as a phrase, `or` between alternatives, -word to
--          exclude. Matched without stemming, in any case (text search config 'simple').
--   limit  most lines returned (default 100)
--   source only that source's calls (docs/sources.md; default: every source)
--
-- Columns: platform, external_id (the call), seq (the line's place in the call,
-- 0-based), role, content, rank (ts_rank, 4 decimals). Ordered by rank, best first,
-- then by call and line. The WHERE clause is the expression of the GIN index
-- transcript_segments_content_fts (migration 0002), which is what makes it fast.
\if :{?query}
\else
DO $$ BEGIN RAISE EXCEPTION 'transcript_search: no query; give the words with -v query=WORDS'; END $$;
\endif
\if :{?limit}
\else
\set limit 100
\endif
\if :{?source}
\else
\set source ''
\endif

SELECT c.platform, c.external_id, s.seq, s.role, s.content,
       round(ts_rank(to_tsvector('simple', s.content), q.query)::numeric, 4) AS rank
  FROM websearch_to_tsquery('simple', :'query') AS q(query)
  JOIN callbridge.transcript_segments s ON to_tsvector('simple', s.content) @@ q.query
  JOIN callbridge.calls c ON c.id = s.call_id
 WHERE (:'source' = '' OR c.source = :'source')
 ORDER BY rank DESC, c.platform, c.external_id, s.seq
 LIMIT :limit;
