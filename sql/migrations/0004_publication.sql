-- 0004: the publication callbridge_cdc, for logical replication of the mapped tables to
-- change-data-capture tools (Debezium, Sequin, Airbyte); docs/change-feed.md, "Logical
-- replication (CDC)".
--
-- What is in it: the mapped tables, the product. webhook_events is not: its raw payloads
-- are large, every delivery (duplicates included) would rewrite a row of it, and what a
-- consumer wants from an event is in the mapped rows already.
--
-- Every published table has a primary key, which is its replica identity (the default),
-- so UPDATEs and DELETEs (a shorter transcript removes tail segments) are published with
-- their key. A later migration that adds a mapped table adds it to the publication too,
-- when the publication exists.
--
-- A publication is a catalog entry: until a replication slot reads it (which needs
-- wal_level = logical), it costs nothing. So PostgreSQL's warning that wal_level is too
-- low is silenced here: it is for whoever sets up CDC (the docs say so), not for every
-- fresh install.
--
-- CREATE PUBLICATION needs CREATE on the database and ownership of the tables. A role
-- without them still migrates: the publication is skipped with a WARNING whose HINT is
-- the statement an administrator can run instead. A WARNING, not a NOTICE: callbridge
-- migrate runs migrations with client_min_messages = warning, so a NOTICE reaches no one.
DO $$
DECLARE
    tables constant text[] := ARRAY['calls', 'transcript_segments', 'call_audits',
                                    'sms_messages', 'contacts'];
    stmt   constant text := 'CREATE PUBLICATION callbridge_cdc FOR TABLE '
                            || (SELECT string_agg('callbridge.' || quote_ident(t), ', ')
                                  FROM unnest(tables) AS t);
    saved  constant text := current_setting('client_min_messages');
    lacks  text[] := '{}';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'callbridge_cdc') THEN
        RETURN; -- made by an administrator already: theirs, as it is
    END IF;
    IF NOT has_database_privilege(current_user, current_database(), 'CREATE') THEN
        lacks := lacks || 'CREATE on the database'::text;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_class c
                WHERE c.relnamespace = 'callbridge'::regnamespace AND c.relname = ANY (tables)
                  AND NOT pg_has_role(current_user, c.relowner, 'USAGE')) THEN
        lacks := lacks || 'ownership of the tables'::text;
    END IF;
    IF cardinality(lacks) > 0 THEN
        RAISE WARNING 'publication callbridge_cdc not created: role % lacks %', current_user,
            array_to_string(lacks, ' and ')
            USING HINT = 'for logical replication (CDC), a superuser (or the tables'' owner, '
                         'with CREATE on the database) can run: ' || stmt || ';';
        RETURN;
    END IF;
    PERFORM set_config('client_min_messages', 'error', true);
    EXECUTE stmt;
    PERFORM set_config('client_min_messages', saved, true);
END
$$;
