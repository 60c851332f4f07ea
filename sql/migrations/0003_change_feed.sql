-- 0003: a change feed over calls, call_audits, sms_messages and contacts for CRM sync
-- jobs (`callbridge export`, docs/change-feed.md), NOTIFY callbridge_changes, and
-- phone-number normalisation with a view linking calls and SMS to contacts.
--
-- DESIGN: the cursor protocol, and why it never skips a row.
--
-- Stamp. Every real insert and every real change of a row in the four tables sets two
-- columns, in a BEFORE INSERT OR UPDATE trigger that fires after <table>_skip_noop
-- (triggers of one timing fire in name order: "..._skip_noop" < "..._sync_stamp"), so
-- an update that changes nothing is dropped before it is stamped:
--   sync_xid      xid8    the writing (top-level) transaction, pg_current_xact_id()
--   sync_version  bigint  nextval(callbridge.sync_version_seq), shared by the 4 tables
-- The feed order is (sync_xid, sync_version); a cursor is such a pair, written
-- "<xid>:<version>" ("0" is the start).
--
-- Read. `export` runs, in one READ ONLY REPEATABLE READ transaction (one snapshot S):
--   H := pg_snapshot_xmin(S)   -- every transaction with an xid below H has ended
--   rows with (sync_xid, sync_version) > cursor AND sync_xid < H,
--   ordered by (sync_xid, sync_version), at most LIMIT of them;
-- the next cursor is the position of the last row returned (unchanged if none).
--
-- Why nothing is skipped. Let a read with snapshot S return rows up to cursor
-- C = (x, v); x < H(S) because only rows below H are returned.
--  1. Below H the feed is complete and frozen: a transaction with an xid below H has
--     committed (and S sees its rows) or aborted (it has none). So the read returns
--     every row between the old cursor and C that exists at S.
--  2. Every row version written later carries a position above C: its writer W was
--     either running at S, so W >= xmin(S) = H > x, or took its xid after S, so
--     W >= xmax(S) >= H > x. (xid8 never wraps around.)
--  A row changed after being read therefore comes again, later, at its new position;
--  a row overwritten before being read comes once, in its newest state. Sequence
--  numbers taken out of commit order cannot cause a skip, because the cursor never
--  passes an xid that may still commit: a transaction holding sync_version 5 open
--  holds H at or below its xid, so rows committed meanwhile with sync_version 9 (and a
--  higher xid) wait with it. Rows with sync_xid >= H that are already committed are
--  reported as "pending" by export, so callers know to come back shortly.
--  For one row, sync_version grows in commit order (a writer stamps the row only once
--  it holds the row's lock, and the sequence has CACHE 1), so a consumer that sees a
--  row twice keeps the higher sync_version.
--
-- Cost and liveness. No shared row is updated: nextval() is not transactional and
-- holds no lock to commit; concurrent writers never wait on each other because of the
-- feed. The stamped columns are indexed, so an update of these tables is never HOT
-- (calls already were not: updated_at is indexed). The horizon is the oldest xid
-- still running anywhere in the cluster, so a long-running writing transaction (any
-- database, or a prepared transaction) delays the feed — it never loses rows.
-- NOTIFY: a committing transaction that notified takes PostgreSQL's notify-queue lock
-- for the end of its commit, so such commits are serialised with each other (the cost
-- is measured in BENCHMARKS.md). A notification means "something committed"; it carries the
-- table name as payload and is sent once per table and transaction (PostgreSQL folds
-- repeats). Deletes are not in the feed (callbridge deletes no rows of these tables).

CREATE SEQUENCE callbridge.sync_version_seq AS bigint; -- CACHE 1: see "For one row" above

-- Stamps a row being inserted or really changed (see DESIGN). On INSERT ... ON CONFLICT
-- DO UPDATE the INSERT stamp is taken before the conflict is known; when the update then
-- turns out to change nothing, that number is simply never stored (a gap).
CREATE FUNCTION callbridge.stamp_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.sync_xid := pg_current_xact_id();
    NEW.sync_version := nextval('callbridge.sync_version_seq');
    RETURN NEW;
END
$$;

-- Queues the notification; PostgreSQL sends it when the transaction commits, and only
-- once per (channel, payload) per transaction. An AFTER ROW trigger fires only for rows
-- really written, so a replay that changes nothing notifies nobody.
CREATE FUNCTION callbridge.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callbridge_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- The four tables, alike. Existing rows: one rewrite per table gives each a version (in
-- physical order) and this migration's xid; the defaults then go, so only the trigger
-- stamps. updated_at and the other columns are left exactly as they were.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['calls', 'call_audits', 'sms_messages', 'contacts'] LOOP
        EXECUTE format('ALTER TABLE callbridge.%I'
                       ' ADD COLUMN sync_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),'
                       ' ADD COLUMN sync_version bigint NOT NULL'
                       '     DEFAULT nextval(''callbridge.sync_version_seq'')', t);
        EXECUTE format('ALTER TABLE callbridge.%I ALTER COLUMN sync_xid DROP DEFAULT,'
                       ' ALTER COLUMN sync_version DROP DEFAULT', t);
        EXECUTE format('CREATE INDEX %I ON callbridge.%I (sync_xid, sync_version)',
                       t || '_sync', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON callbridge.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION callbridge.stamp_sync()',
                       t || '_sync_stamp', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE ON callbridge.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION callbridge.notify_change()',
                       t || '_sync_notify', t);
    END LOOP;
END
$$;

-- A phone number in E.164 where possible (docs/change-feed.md, "Phone numbers"):
--  1. in a number written with "+" or "00", a "(0)" (the national trunk prefix, as in
--     "+44 (0)20 7946 0958") is dropped; then spaces (any white space), dashes, dots and
--     parentheses are removed;
--  2. a leading "00" becomes "+" (international call prefix);
--  3. "+" then 7 to 15 digits, the first not 0, is E.164: kept;
--  4. 10 digits, the first 2-9, is a North American number: "+1" is put in front;
--  5. 11 digits starting "1", then 2-9: North American with its country code: "+" added;
--  6. anything else is reduced to its digits (NULL when none are left): a national
--     number of another country, an extension, a short code cannot be placed.
-- NULL in, NULL out. IMMUTABLE, so it may be used in expression indexes.
CREATE FUNCTION callbridge.normalize_phone(p text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE
           WHEN s ~ '^[+][1-9][0-9]{6,14}$' THEN s
           WHEN s ~ '^[2-9][0-9]{9}$' THEN '+1' || s
           WHEN s ~ '^1[2-9][0-9]{9}$' THEN '+' || s
           ELSE nullif(regexp_replace(s, '[^0-9]', '', 'g'), '')
       END
  FROM (SELECT regexp_replace(regexp_replace(
                   CASE WHEN p ~ '^[[:space:]]*([+]|00)' THEN replace(p, '(0)', '') ELSE p END,
                   '[[:space:]().-]', '', 'g'), '^00', '+') AS s) AS x
$$;

-- Calls and SMS linked to contacts by normalised number, one row per (contact, call or
-- message). The other party's number is the one compared: a call's customer_number,
-- else from_number for inbound and to_number for outbound, else both; an SMS's
-- from_number when inbound, to_number when outbound, else both. A contact matches when
-- any of its phone_numbers normalises to the same value; numbers that normalise to
-- fewer than 7 digits link nothing. Contacts and activity of all platforms are linked.
CREATE VIEW callbridge.contact_activity AS
WITH contact_phone AS (
    SELECT DISTINCT c.id AS contact_id, callbridge.normalize_phone(n.number) AS phone
      FROM callbridge.contacts c
     CROSS JOIN LATERAL unnest(c.phone_numbers) AS n(number)
), activity AS (
    SELECT 'call'::text AS kind, k.id, k.platform, k.external_id, k.direction,
           coalesce(k.started_at, k.last_event_at, k.created_at) AS occurred_at,
           k.status, k.summary AS content, n.phone, n.number
      FROM callbridge.calls k
     CROSS JOIN LATERAL (
           SELECT DISTINCT ON (callbridge.normalize_phone(x.number))
                  callbridge.normalize_phone(x.number) AS phone, x.number
             FROM unnest(CASE
                      WHEN k.customer_number IS NOT NULL THEN ARRAY[k.customer_number]
                      WHEN k.direction = 'inbound' THEN ARRAY[k.from_number]
                      WHEN k.direction = 'outbound' THEN ARRAY[k.to_number]
                      ELSE ARRAY[k.from_number, k.to_number]
                  END) AS x(number)) AS n
    UNION ALL
    SELECT 'sms'::text, m.id, m.platform, m.external_id, m.direction,
           coalesce(m.sent_at, m.last_event_at, m.created_at),
           m.message_type, m.content, n.phone, n.number
      FROM callbridge.sms_messages m
     CROSS JOIN LATERAL (
           SELECT DISTINCT ON (callbridge.normalize_phone(x.number))
                  callbridge.normalize_phone(x.number) AS phone, x.number
             FROM unnest(CASE m.direction
                      WHEN 'inbound' THEN ARRAY[m.from_number]
                      WHEN 'outbound' THEN ARRAY[m.to_number]
                      ELSE ARRAY[m.from_number, m.to_number]
                  END) AS x(number)) AS n
)
SELECT c.id AS contact_id, c.platform AS contact_platform,
       c.external_id AS contact_external_id, c.first_name, c.last_name, c.company,
       cp.phone, a.kind, a.id AS activity_id, a.platform, a.external_id, a.direction,
       a.occurred_at, a.status, a.content, a.number
  FROM contact_phone cp
  JOIN activity a ON a.phone = cp.phone
  JOIN callbridge.contacts c ON c.id = cp.contact_id
 WHERE length(regexp_replace(cp.phone, '[^0-9]', '', 'g')) >= 7;

COMMENT ON VIEW callbridge.contact_activity IS
    'Calls (kind call) and SMS (kind sms) linked to contacts by callbridge.normalize_phone; '
    'status is the call status or the message type, content the call summary or SMS text, '
    'number the raw number that matched.';
