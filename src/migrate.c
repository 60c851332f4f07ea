/* migrate — ordered, once-only, lock-protected schema migrations (see migrate.h). */
#include "migrate.h"
#include "db.h"
#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

/* Any constant will do; it only has to be the same for every callbridge instance. */
#define MIGRATE_LOCK_KEY "4242130313"

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

static PGconn *open_conn(const char *conninfo, int timeout_s, char *err, size_t errlen)
{
	PGconn *pg = db_connect(conninfo, timeout_s, err, errlen);
	if (!pg)
		return NULL;
	PGresult *r = PQexec(pg, "SET client_min_messages = warning");
	PQclear(r);
	return pg;
}

static int applied(PGconn *pg, const char *version, char *err, size_t errlen)
{
	const char *params[] = {version};
	PGresult *r =
		PQexecParams(pg, "SELECT 1 FROM callbridge.schema_migrations WHERE version = $1", 1,
			     NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) > 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

static const char create_table[] =
	"CREATE SCHEMA IF NOT EXISTS callbridge;"
	"CREATE TABLE IF NOT EXISTS callbridge.schema_migrations ("
	" version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";

int migrate_run(const char *conninfo, int timeout_s, char *err, size_t errlen)
{
	int count = 0;
	PGconn *pg = open_conn(conninfo, timeout_s, err, errlen);
	if (!pg)
		return -1;
	if (exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) < 0 ||
	    exec_ok(pg, create_table, err, errlen) < 0) {
		count = -1;
		goto done;
	}
	for (int i = 0; i < migrate_count; i++) {
		const struct migration *m = &migrate_list[i];
		int have = applied(pg, m->version, err, errlen);
		if (have < 0) {
			count = -1;
			goto done;
		}
		if (have)
			continue;
		const char *params[] = {m->version};
		if (exec_ok(pg, "BEGIN", err, errlen) < 0)
			goto fail;
		if (exec_ok(pg, m->sql, err, errlen) < 0) {
			char inner[512];
			snprintf(inner, sizeof inner, "%s", err);
			snprintf(err, errlen, "migration %s: %s", m->version, inner);
			goto fail;
		}
		PGresult *r = PQexecParams(
			pg, "INSERT INTO callbridge.schema_migrations (version) VALUES ($1)", 1,
			NULL, params, NULL, NULL, 0);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		PQclear(r);
		if (!ok || exec_ok(pg, "COMMIT", err, errlen) < 0)
			goto fail;
		log_notice("migration applied", "version", m->version);
		count++;
	}
	goto done;
fail:
	PQclear(PQexec(pg, "ROLLBACK"));
	count = -1;
done:
	if (pg) {
		PGresult *r = PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
		PQclear(r);
		PQfinish(pg);
	}
	return count;
}

int migrate_pending(const char *conninfo, int timeout_s, char *err, size_t errlen)
{
	int pending = 0;
	PGconn *pg = open_conn(conninfo, timeout_s, err, errlen);
	if (!pg)
		return -1;
	PGresult *r = PQexec(pg, "SELECT to_regclass('callbridge.schema_migrations') IS NOT NULL");
	bool have_table = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
			  strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	for (int i = 0; i < migrate_count; i++) {
		int have = have_table ? applied(pg, migrate_list[i].version, err, errlen) : 0;
		if (have < 0) {
			pending = -1;
			break;
		}
		pending += !have;
	}
	PQfinish(pg);
	return pending;
}
