/* export — prints one table's changes since a cursor as NDJSON, then the next cursor
 * (see export.h; the protocol and why it never skips a row: 0003_change_feed.sql).
 * Blocking libpq on a connection of its own: this is a command, not the server. */
#include "export.h"
#include "sources.h"
#include "db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define DEFAULT_LIMIT 1000
#define MAX_LIMIT     100000

/* The SQL of each table is a compile-time constant: the table name comes from this list,
 * never from the command line, and every value is a bound parameter. */
/* A table's changed rows and its tombstones (rows deleted, 0008_retention.sql), merged in
 * feed order. A tombstone prints as {"deleted":true,"id":..,"platform":..,"source":..,
 * the rest of the row's key, "sync_xid":..,"sync_version":..,"deleted_at":..}. */
#define ROWS_SQL(t, key)                                                                           \
	"SELECT x, v, j FROM ("                                                                    \
	" SELECT t.sync_xid AS x, t.sync_version AS v, row_to_json(t)::text AS j"                  \
	" FROM callbridge." t " AS t"                                                              \
	" WHERE (t.sync_xid, t.sync_version) > ($1::xid8, $2::bigint) AND t.sync_xid < $3::xid8"   \
	"   AND ($5::text IS NULL OR t.source = $5::text)"                                         \
	" UNION ALL"                                                                               \
	" SELECT d.sync_xid, d.sync_version, row_to_json(r)::text"                                 \
	" FROM callbridge.sync_deletions AS d"                                                     \
	" CROSS JOIN LATERAL (SELECT true AS deleted, d.row_id AS id,"                             \
	"        d.key ->> 'platform' AS platform, d.source, " key ","                             \
	"        d.sync_xid, d.sync_version, d.deleted_at) AS r"                                   \
	" WHERE d.table_name = '" t "'"                                                            \
	"   AND (d.sync_xid, d.sync_version) > ($1::xid8, $2::bigint) AND d.sync_xid < $3::xid8"   \
	"   AND ($5::text IS NULL OR d.source = $5::text)"                                         \
	") AS c ORDER BY x, v LIMIT $4::integer"
#define EXTERNAL_KEY "d.key ->> 'external_id' AS external_id"
#define AUDIT_KEY                                                                                  \
	"(d.key ->> 'call_id')::bigint AS call_id, d.key ->> 'kind' AS kind,"                      \
	" d.key ->> 'call_external_id' AS call_external_id"
#define PENDING_SQL(t)                                                                             \
	"SELECT EXISTS (SELECT 1 FROM callbridge." t " WHERE sync_xid >= $1::xid8"                 \
	" AND ($2::text IS NULL OR source = $2::text))"                                            \
	" OR EXISTS (SELECT 1 FROM callbridge.sync_deletions WHERE table_name = '" t "'"           \
	" AND sync_xid >= $1::xid8 AND ($2::text IS NULL OR source = $2::text))"

static const struct feed_table {
	const char *name, *rows_sql, *pending_sql;
} tables[] = {
	{"calls", ROWS_SQL("calls", EXTERNAL_KEY), PENDING_SQL("calls")},
	{"call_audits", ROWS_SQL("call_audits", AUDIT_KEY), PENDING_SQL("call_audits")},
	{"sms_messages", ROWS_SQL("sms_messages", EXTERNAL_KEY), PENDING_SQL("sms_messages")},
	{"contacts", ROWS_SQL("contacts", EXTERNAL_KEY), PENDING_SQL("contacts")},
};
#define NTABLES (int)(sizeof tables / sizeof tables[0])

/* The horizon of this transaction's snapshot: every xid below it has ended. A cursor at
 * or past the snapshot's xmax names a transaction this database has not run yet: it
 * comes from another database (a restored dump, say), and would skip rows here. */
static const char horizon_sql[] = "SELECT pg_snapshot_xmin(s)::text, $1::xid8 < pg_snapshot_xmax(s)"
				  " FROM pg_current_snapshot() AS s";

/* A cursor, both halves kept as canonical decimal text for binding. */
struct cursor {
	char xid[24];
	char version[24];
};

/* Parses "0" or "<xid>:<version>": xid a uint64, version a non-negative int64. */
static bool parse_cursor(const char *s, struct cursor *c)
{
	uint64_t x, v;
	char *end;

	if (!strcmp(s, "0")) {
		strcpy(c->xid, "0");
		strcpy(c->version, "0");
		return true;
	}
	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	s = end + 1;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v > INT64_MAX)
		return false;
	snprintf(c->xid, sizeof c->xid, "%" PRIu64, x);
	snprintf(c->version, sizeof c->version, "%" PRIu64, v);
	return true;
}

static const struct feed_table *find_table(const char *name)
{
	for (int i = 0; name && i < NTABLES; i++)
		if (!strcmp(tables[i].name, name))
			return &tables[i];
	return NULL;
}

/* Checks and converts the arguments; on success *t, *c and *limit are set. */
static int parse_args(const struct export_args *a, const struct feed_table **t, struct cursor *c,
		      long *limit, char *err, size_t errlen)
{
	char *end;

	if (a->source && !sources_valid_name(a->source, strlen(a->source))) {
		snprintf(err, errlen, "--source: '%s' is not a source name ([a-z0-9_-], 1 to 64)",
			 a->source);
		return -1;
	}
	if (!a->table) {
		snprintf(err, errlen,
			 "export needs --table (calls, call_audits, sms_messages or contacts)");
		return -1;
	}
	*t = find_table(a->table);
	if (!*t) {
		snprintf(err, errlen,
			 "--table: must be calls, call_audits, sms_messages or contacts, not '%s'",
			 a->table);
		return -1;
	}
	if (!a->since) {
		snprintf(err, errlen, "export needs --since CURSOR (0 the first time)");
		return -1;
	}
	if (!parse_cursor(a->since, c)) {
		snprintf(err, errlen,
			 "--since: '%s' is not a cursor (0, or XID:VERSION as printed by export)",
			 a->since);
		return -1;
	}
	*limit = DEFAULT_LIMIT;
	if (a->limit) {
		errno = 0;
		*limit = strtol(a->limit, &end, 10);
		if (errno || end == a->limit || *end || *limit < 1 || *limit > MAX_LIMIT) {
			snprintf(err, errlen, "--limit: must be a number from 1 to %d, not '%s'",
				 MAX_LIMIT, a->limit);
			return -1;
		}
	}
	return 0;
}

int export_check(const struct export_args *a, char *err, size_t errlen)
{
	const struct feed_table *t;
	struct cursor c;
	long limit;
	return parse_args(a, &t, &c, &limit, err, errlen);
}

/* Fills err from a failed result; a missing column or table means 0003 is not applied. */
static void result_error(PGconn *pg, const PGresult *r, char *err, size_t errlen)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (state && (!strcmp(state, "42703") || !strcmp(state, "42P01")))
		snprintf(err, errlen,
			 "the database has no change feed (or no deletions in it) yet: run "
			 "`callbridge migrate`");
	else
		snprintf(err, errlen, "%s", msg ? msg : PQerrorMessage(pg));
	err[strcspn(err, "\n")] = '\0';
}

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(pg, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc < 0)
		result_error(pg, r, err, errlen);
	PQclear(r);
	return rc;
}

int export_run(const char *conninfo, int timeout_s, const struct export_args *a, FILE *out,
	       char *err, size_t errlen)
{
	int rc = -1;
	const struct feed_table *t;
	struct cursor cur;
	long limit, n = 0;
	bool pending = false, failed = false;
	char horizon[24], limit_s[24];
	PGconn *pg = NULL;
	PGresult *res = NULL;

	if (parse_args(a, &t, &cur, &limit, err, errlen) < 0)
		return -1;
	snprintf(limit_s, sizeof limit_s, "%ld", limit);
	pg = db_connect(conninfo, timeout_s, err, errlen);
	if (!pg)
		goto done;
	/* One snapshot for the horizon and the rows; timestamps printed in UTC (SET LOCAL:
	 * through a transaction-mode pooler, a session setting would outlive us on a server
	 * connection others use). */
	if (exec_ok(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) < 0 ||
	    exec_ok(pg, "SET LOCAL TIME ZONE 'UTC'", err, errlen) < 0)
		goto done;

	const char *hp[] = {cur.xid};
	res = PQexecParams(pg, horizon_sql, 1, NULL, hp, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		result_error(pg, res, err, errlen);
		goto done;
	}
	snprintf(horizon, sizeof horizon, "%s", PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		snprintf(err, errlen,
			 "--since: cursor %s:%s is ahead of this database's transactions (was it "
			 "restored from a dump?): export again from 0",
			 cur.xid, cur.version);
		goto done;
	}
	PQclear(res);
	res = NULL;

	/* Rows one at a time (single-row mode): memory stays flat however large the page. */
	const char *rp[] = {cur.xid, cur.version, horizon, limit_s, a->source};
	if (!PQsendQueryParams(pg, t->rows_sql, 5, NULL, rp, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(pg)) {
		result_error(pg, NULL, err, errlen);
		goto done;
	}
	while ((res = PQgetResult(pg)) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE && !failed) {
			snprintf(cur.xid, sizeof cur.xid, "%s", PQgetvalue(res, 0, 0));
			snprintf(cur.version, sizeof cur.version, "%s", PQgetvalue(res, 0, 1));
			fputs(PQgetvalue(res, 0, 2), out);
			fputc('\n', out);
			n++;
		} else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE && !failed) {
			result_error(pg, res, err, errlen);
			failed = true;
		}
		PQclear(res);
	}
	if (failed)
		goto done;

	const char *pp[] = {horizon, a->source};
	res = PQexecParams(pg, t->pending_sql, 2, NULL, pp, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		result_error(pg, res, err, errlen);
		goto done;
	}
	pending = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (exec_ok(pg, "COMMIT", err, errlen) < 0)
		goto done;

	fprintf(out, "{\"cursor\":\"%s:%s\",\"rows\":%ld,\"more\":%s,\"pending\":%s}\n", cur.xid,
		cur.version, n, n == limit ? "true" : "false", pending ? "true" : "false");
	if (fflush(out) != 0 || ferror(out)) {
		snprintf(err, errlen, "cannot write the output: %s", strerror(errno));
		goto done;
	}
	rc = 0;
done:
	PQclear(res);
	PQfinish(pg);
	return rc;
}
