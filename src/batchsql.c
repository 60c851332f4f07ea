/* batchsql — the writer's statement texts, its binary text[] parameters and the key
 * order of a batch's rows (see batchsql.h). Pure: it only builds bytes. */
#include "batchsql.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statements ---- */

/* An event is first a key in event_keys, the de-duplication table (0008_retention.sql:
 * webhook_events is partitioned by receive time and cannot hold a unique key without it).
 * A new key takes the event's id and the raw event is inserted. A key seen before is a
 * duplicate, counted by BATCHSQL_DUPLICATE in the batch's second round trip: a statement
 * of its own, because the raw event may have been committed by a concurrent transaction
 * that this statement's snapshot does not show (the key's ON CONFLICT waits for it and
 * sees it; the rest of the statement would not). Answers id, whether it was new, and the
 * status: the new event's, or 'mapped' until the duplicate's own is read. The no-op DO
 * UPDATE returns the key's row (DO NOTHING would not) and locks it. */
static const char event_sql[] =
	"WITH k AS (INSERT INTO callbridge.event_keys AS t (platform, source, dedupe_key, received_at)"
	"           VALUES ($1, $10, $2, $5::timestamptz)"
	"           ON CONFLICT (platform, source, dedupe_key) DO UPDATE SET platform = t.platform"
	"           RETURNING t.event_id, t.xmax = 0 AS fresh),"
	" ins AS (INSERT INTO callbridge.webhook_events"
	"         (id, platform, dedupe_key, event_type, occurred_at, received_at, payload, status,"
	"          error, last_received_at, entity_id, source)"
	"         SELECT k.event_id, $1, $2, $3, $4::timestamptz, $5::timestamptz, $6::jsonb, $7,"
	"                $8, $5::timestamptz, $9, $10 FROM k WHERE k.fresh)"
	" SELECT k.event_id, k.fresh, CASE WHEN k.fresh THEN $7 ELSE 'mapped' END FROM k";

/* The same for a batch: one array per column (binary text[]), one element per delivery.
 * The batch holds no (platform, source, dedupe_key) twice and no delivery counted
 * already. */
static const char events_sql[] =
	"WITH v AS MATERIALIZED ("
	"  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
	"                       $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])"
	"  AS v(p, k, ty, o, r, body, s, e, ent, src)),"
	" k AS (INSERT INTO callbridge.event_keys AS t (platform, source, dedupe_key, received_at)"
	"       SELECT v.p, v.src, v.k, v.r::timestamptz FROM v"
	"       ON CONFLICT (platform, source, dedupe_key) DO UPDATE SET platform = t.platform"
	"       RETURNING t.platform, t.source, t.dedupe_key, t.event_id, t.xmax = 0 AS fresh),"
	" kv AS (SELECT k.*, v.* FROM k JOIN v"
	"        ON v.p = k.platform AND v.src = k.source AND v.k = k.dedupe_key),"
	" ins AS (INSERT INTO callbridge.webhook_events"
	"         (id, platform, dedupe_key, event_type, occurred_at, received_at, payload, status,"
	"          error, last_received_at, entity_id, source)"
	"         SELECT kv.event_id, kv.p, kv.k, kv.ty, kv.o::timestamptz, kv.r::timestamptz,"
	"                kv.body::jsonb, kv.s, kv.e, kv.r::timestamptz, kv.ent, kv.src"
	"         FROM kv WHERE kv.fresh)"
	" SELECT kv.platform, kv.dedupe_key, kv.event_id, kv.fresh,"
	"        CASE WHEN kv.fresh THEN kv.s ELSE 'mapped' END, kv.source"
	" FROM kv";

/* A duplicate delivery: counted on its raw event (found through its key: id and
 * partition), whose status it answers; no row when the raw event was pruned. A spooled
 * delivery ($6) is known by its arrival instant ($4, to the microsecond): one that arrived
 * at the stored event's first instant or at that of the last delivery counted is that
 * same delivery again, not another one, and is not counted twice. That is a spool segment
 * drained a second time (after a crash mid-drain, or a file that could not be deleted):
 * its records already committed come back as duplicates of themselves. Live deliveries
 * are always counted: copies of one event sent to several instances at once may share a
 * microsecond. */
static const char duplicate_sql[] =
	"UPDATE callbridge.webhook_events t"
	" SET delivery_count = t.delivery_count"
	"       + CASE WHEN $6::boolean AND $4::timestamptz IN (t.received_at, t.last_received_at)"
	"              THEN 0 ELSE $5::integer END,"
	"     last_received_at = CASE WHEN $5::integer > 0 AND NOT ($6::boolean"
	"                              AND $4::timestamptz IN (t.received_at, t.last_received_at))"
	"                             THEN $4::timestamptz ELSE t.last_received_at END"
	" FROM callbridge.event_keys k"
	" WHERE k.platform = $1 AND k.source = $2 AND k.dedupe_key = $3"
	"   AND t.id = k.event_id AND t.received_at = k.received_at"
	" RETURNING t.status";

/* received_at finds the event's partition. */
static const char replay_sql[] =
	"UPDATE callbridge.webhook_events"
	" SET event_type = COALESCE($3, event_type), occurred_at = COALESCE($4::timestamptz, occurred_at),"
	"     status = $5, error = $6, entity_id = COALESCE($7, entity_id)"
	" WHERE id = $1::bigint AND platform = $2 AND ($8::timestamptz IS NULL OR received_at = $8)"
	" RETURNING id, true, status";

static const char transcript_sql[] =
	"SELECT callbridge.put_transcript($1::text, $2::text, $3::timestamptz, $4::jsonb, $5::text)";

static const char *const type_casts[] = {
	[COL_TEXT] = "text",    [COL_TS] = "timestamptz", [COL_NUM] = "numeric",
	[COL_BOOL] = "boolean", [COL_JSONB] = "jsonb",    [COL_TEXTARR] = "text[]",
};

/* A growing string; oom sticks, so that a text cut short is never used. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* Builds the merge upsert of one table from its spec. Parameters: $1 platform, $2 event
 * time, then the spec's columns, then (tables whose rows may clear) the clear mask: text
 * with one '0'/'1' per column (rows_clear_text), NULL when nothing is cleared. With many,
 * each parameter is a text[] holding that column of every row, the rows' keys all
 * distinct. A NULL column never overwrites; an event newer than the row's time column
 * wins, an older one only fills NULLs; jsonb objects merge by key; a column whose mask
 * bit is set is cleared by a newer event (an older one clears nothing).
 *
 * The batch form reads a row's mask in the DO UPDATE through a subquery on the
 * materialised input, found by the conflict key (EXCLUDED has only the table's
 * columns); that subquery runs only for rows that conflict and carry a mask. */
static char *upsert_sql(const struct row_spec *s, bool many)
{
	struct sbuf b = {0};
	int mask = s->ncols + 3;           /* the mask's parameter number */
	int src = batchsql_row_nparams(s); /* the source's: the last */
	if (many && s->clears) {
		sb_add(&b, "WITH v AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[]");
		for (int i = 0; i < s->ncols; i++)
			sb_add(&b, ", $%d::text[]", i + 3);
		sb_add(&b, ", $%d::text[], $%d::text[]) AS v(p, w", mask, src);
		for (int i = 0; i < s->ncols; i++)
			sb_add(&b, ", c%d", i);
		sb_add(&b, ", clr, src)) ");
	}
	sb_add(&b, "INSERT INTO %s AS t (platform, source, %s", s->table, s->time_col);
	for (int i = 0; i < s->ncols; i++)
		sb_add(&b, ", %s", s->cols[i]);
	if (many) {
		/* A call is looked up by a subquery per row, never planned as a join: a
		 * generic plan made while calls was small would scan it whole. */
		sb_add(&b, ") SELECT v.p, v.src, v.w::timestamptz");
		for (int i = 0; i < s->ncols; i++)
			if (i == 0 && s->via_call)
				sb_add(&b, ", v.call_id");
			else
				sb_add(&b, ", v.c%d::%s", i, type_casts[s->types[i]]);
		sb_add(&b, " FROM ");
		if (s->clears)
			sb_add(&b, "v");
		else if (s->via_call)
			sb_add(&b,
			       "(SELECT u.*, (SELECT c.id FROM callbridge.calls c WHERE c.platform "
			       "= u.p AND c.source = u.src AND c.external_id = u.c0) AS call_id FROM ");
		if (!s->clears) {
			sb_add(&b, "unnest($1::text[], $2::text[]");
			for (int i = 0; i < s->ncols; i++)
				sb_add(&b, ", $%d::text[]", i + 3);
			sb_add(&b, ", $%d::text[]) AS %s(p, w", src, s->via_call ? "u" : "v");
			for (int i = 0; i < s->ncols; i++)
				sb_add(&b, ", c%d", i);
			sb_add(&b, ", src)");
		}
		if (s->via_call) /* OFFSET 0: the subquery stays one, run once per row */
			sb_add(&b, " OFFSET 0) AS v WHERE v.call_id IS NOT NULL");
	} else if (s->via_call) {
		sb_add(&b, ") SELECT $1::text, $%d::text, $2::timestamptz, c.id", src);
		for (int i = 1; i < s->ncols; i++)
			sb_add(&b, ", $%d::%s", i + 3, type_casts[s->types[i]]);
		sb_add(&b,
		       " FROM callbridge.calls c WHERE c.platform = $1::text AND c.source = "
		       "$%d::text AND c.external_id = $3::text",
		       src);
	} else {
		sb_add(&b, ") VALUES ($1::text, $%d::text, $2::timestamptz", src);
		for (int i = 0; i < s->ncols; i++)
			sb_add(&b, ", $%d::%s", i + 3, type_casts[s->types[i]]);
		sb_add(&b, ")");
	}
	sb_add(&b, " ON CONFLICT (%s) DO UPDATE SET ", s->conflict);
	char newer[160], clr[256];
	snprintf(newer, sizeof newer, "(t.%s IS NULL OR EXCLUDED.%s > t.%s)", s->time_col,
		 s->time_col, s->time_col);
	if (many) /* the clear mask of the row being inserted (keys: platform, source, column 0) */
		snprintf(clr, sizeof clr,
			 "(SELECT x.clr FROM v x WHERE x.p = EXCLUDED.platform AND x.src = "
			 "EXCLUDED.source AND x.c0 = EXCLUDED.%s)",
			 s->cols[0]);
	else
		snprintf(clr, sizeof clr, "$%d::text", mask);
	for (int i = s->nkeys; i < s->ncols; i++) {
		const char *c = s->cols[i];
		if (s->clears && s->types[i] != COL_JSONB)
			sb_add(&b,
			       "%s = CASE WHEN %s AND EXCLUDED.%s IS NULL AND substr(%s, %d, 1) = '1' "
			       "THEN NULL WHEN %s THEN COALESCE(EXCLUDED.%s, t.%s) ELSE COALESCE(t.%s, "
			       "EXCLUDED.%s) END, ",
			       c, newer, c, clr, i + 1, newer, c, c, c, c);
		else if (s->types[i] == COL_JSONB)
			sb_add(&b,
			       "%s = CASE WHEN EXCLUDED.%s IS NULL THEN t.%s WHEN t.%s IS NULL THEN "
			       "EXCLUDED.%s WHEN %s THEN t.%s || EXCLUDED.%s ELSE EXCLUDED.%s || t.%s "
			       "END, ",
			       c, c, c, c, c, newer, c, c, c, c);
		else
			sb_add(&b,
			       "%s = CASE WHEN %s THEN COALESCE(EXCLUDED.%s, t.%s) ELSE COALESCE(t.%s, "
			       "EXCLUDED.%s) END, ",
			       c, newer, c, c, c, c);
	}
	sb_add(&b, "%s = GREATEST(t.%s, EXCLUDED.%s)", s->time_col, s->time_col, s->time_col);
	if (b.oom) { /* a statement cut short must not be prepared */
		free(b.p);
		return NULL;
	}
	return b.p;
}

int batchsql_stmts_init(struct batchsql_stmts *s, unsigned tag)
{
	*s = (struct batchsql_stmts){0};
	for (int i = 0; i < BATCHSQL_NSTMTS; i++)
		snprintf(s->name[i], sizeof s->name[i], "cb%08x_%d", tag, i);
	s->sql[BATCHSQL_EVENT] = strdup(event_sql);
	s->sql[BATCHSQL_REPLAY] = strdup(replay_sql);
	s->sql[BATCHSQL_TRANSCRIPT] = strdup(transcript_sql);
	s->sql[BATCHSQL_EVENTS] = strdup(events_sql);
	s->sql[BATCHSQL_DUPLICATE] = strdup(duplicate_sql);
	for (int t = 0; t < TBL_COUNT; t++) {
		s->sql[BATCHSQL_ROW0 + t] = upsert_sql(rows_spec((enum row_table)t), false);
		s->sql[BATCHSQL_ROWS0 + t] = upsert_sql(rows_spec((enum row_table)t), true);
	}
	for (int i = 0; i < BATCHSQL_NSTMTS; i++)
		if (!s->sql[i]) {
			batchsql_stmts_free(s);
			return -1;
		}
	return 0;
}

void batchsql_stmts_free(struct batchsql_stmts *s)
{
	for (int i = 0; i < BATCHSQL_NSTMTS; i++) {
		free(s->sql[i]);
		s->sql[i] = NULL;
	}
}

/* ---- array parameters ----
 * array_send's format: ndim, flags, element type, then length and lower bound of the
 * dimension, all 32-bit big-endian; then each element as a 32-bit length (-1: NULL) and
 * its bytes. The header is reserved by begin and written by end, once count is known. */

#define TEXT_OID   25
#define ARR_HEADER 20

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void arr_put(struct batchsql_array *a, const void *src, size_t n)
{
	if (a->oom)
		return;
	if (a->cap - a->len < n) {
		size_t cap = a->cap * 2 > a->len + n ? a->cap * 2 : a->len + n + 4096;
		char *p = realloc(a->p, cap);
		if (!p) {
			a->oom = true;
			return;
		}
		a->p = p;
		a->cap = cap;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

void batchsql_array_begin(struct batchsql_array *a)
{
	static const char header[ARR_HEADER];
	a->len = 0;
	a->count = 0;
	a->oom = false;
	arr_put(a, header, sizeof header);
}

void batchsql_array_add(struct batchsql_array *a, const char *s)
{
	unsigned char len[4];
	size_t n = s ? strlen(s) : 0;
	put_be32(len, s ? (uint32_t)n : UINT32_MAX);
	arr_put(a, len, sizeof len);
	if (s)
		arr_put(a, s, n);
	a->count++;
}

void batchsql_array_end(struct batchsql_array *a)
{
	if (a->oom)
		return;
	unsigned char *h = (unsigned char *)a->p;
	put_be32(h, 1);            /* one dimension */
	put_be32(h + 4, 0);        /* flags (NULLs are told by their length) */
	put_be32(h + 8, TEXT_OID); /* element type */
	put_be32(h + 12, (uint32_t)a->count);
	put_be32(h + 16, 1); /* lower bound */
}

void batchsql_array_trim(struct batchsql_array *a)
{
	if (a->cap > (1u << 20))
		batchsql_array_free(a);
}

void batchsql_array_free(struct batchsql_array *a)
{
	free(a->p);
	*a = (struct batchsql_array){0};
}

/* ---- lock order ---- */

int batchsql_key_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static bool same_key(const struct batchsql_ref *x, const struct batchsql_ref *y)
{
	for (int p = 0; p < 4; p++)
		if (batchsql_key_cmp(x->k[p], y->k[p]) != 0)
			return false;
	return true;
}

/* By key, then by batch position and row: equal keys keep the batch's order. */
static int ref_cmp(const void *a, const void *b)
{
	const struct batchsql_ref *x = a, *y = b;
	for (int p = 0; p < 4; p++) {
		int d = batchsql_key_cmp(x->k[p], y->k[p]);
		if (d != 0)
			return d;
	}
	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return (x->r > y->r) - (x->r < y->r);
}

bool batchsql_refs_sort(struct batchsql_ref *refs, int n)
{
	if (n <= 0)
		return true;
	qsort(refs, (size_t)n, sizeof *refs, ref_cmp);
	for (int j = 1; j < n; j++)
		if (same_key(&refs[j - 1], &refs[j]))
			return false;
	return true;
}
