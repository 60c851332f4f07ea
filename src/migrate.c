/* migrate — ordered, once-only, lock-protected schema migrations (see migrate.h). */
#include "migrate.h"
#include "db.h"
#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

/* Any constant will do; it only has to be the same for every callbridge instance. */
#define MIGRATE_LOCK_KEY "4242130313"

/* The SQLSTATE of the last statement that failed (migrations run on one thread). */
static char failed_state[6];

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
	if (rc < 0) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(failed_state, sizeof failed_state, "%s", state ? state : "");
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	}
	PQclear(r);
	return rc;
}

/* A migration that lost a deadlock or a lock wait to the writes of running instances
 * (an online migration locks several tables that their batches write) is tried again:
 * it is one transaction, rolled back whole. */
static bool lost_to_writes(void)
{
	return !strcmp(failed_state, "40P01") || !strcmp(failed_state, "40001") ||
	       !strcmp(failed_state, "55P03");
}

#define MIGRATE_TRIES 5

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

/* Whether the migrations table exists: CREATE SCHEMA IF NOT EXISTS would need CREATE
 * on the database even when the schema is there, which a role that only owns the schema
 * lacks. */
static bool have_table(PGconn *pg)
{
	PGresult *r = PQexec(pg, "SELECT to_regclass('callbridge.schema_migrations') IS NOT NULL");
	bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	return have;
}

/* PostgreSQL's warnings (a migration saying what it skipped and why) as log lines. */
static void on_notice(void *arg, const PGresult *r)
{
	(void)arg;
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY),
		   *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
	log_warn("the database says", "message", msg ? msg : "", "hint", hint ? hint : "");
}

/* Applies migration m unless it is recorded already: one transaction, which takes the
 * migration lock first. A transaction-scoped lock, not a session one: through a
 * transaction-mode pooler, a session lock would be taken on one server connection and
 * its unlock sent to another, leaving it held. 1 applied, 0 there already, -1 failed. */
static int apply_one(PGconn *pg, const struct migration *m, char *err, size_t errlen)
{
	if (exec_ok(pg, "BEGIN", err, errlen) < 0)
		return -1;
	int have = -1;
	if (exec_ok(pg, "SET LOCAL client_min_messages = warning", err, errlen) < 0 ||
	    exec_ok(pg, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", err, errlen) < 0 ||
	    (!have_table(pg) && exec_ok(pg, create_table, err, errlen) < 0) ||
	    (have = applied(pg, m->version, err, errlen)) != 0) {
		PQclear(PQexec(pg, "ROLLBACK"));
		return have > 0 ? 0 : -1;
	}
	if (exec_ok(pg, m->sql, err, errlen) < 0) {
		char inner[512];
		snprintf(inner, sizeof inner, "%s", err);
		snprintf(err, errlen, "migration %s: %s", m->version, inner);
		PQclear(PQexec(pg, "ROLLBACK"));
		return -1;
	}
	const char *params[] = {m->version};
	PGresult *r =
		PQexecParams(pg, "INSERT INTO callbridge.schema_migrations (version) VALUES ($1)",
			     1, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	if (!ok || exec_ok(pg, "COMMIT", err, errlen) < 0) {
		PQclear(PQexec(pg, "ROLLBACK"));
		return -1;
	}
	return 1;
}

int migrate_run(const char *conninfo, int timeout_s, char *err, size_t errlen)
{
	int count = 0;
	PGconn *pg = db_connect(conninfo, timeout_s, err, errlen);
	if (!pg)
		return -1;
	PQsetNoticeReceiver(pg, on_notice, NULL);
	for (int i = 0; i < migrate_count; i++) {
		int rc = -1;
		for (int t = 1; t <= MIGRATE_TRIES; t++) {
			failed_state[0] = '\0';
			rc = apply_one(pg, &migrate_list[i], err, errlen);
			if (rc >= 0 || !lost_to_writes() || t == MIGRATE_TRIES)
				break;
			log_warn("migration lost to concurrent writes; trying again", "version",
				 migrate_list[i].version, "error", err);
			struct timespec pause = {0, 200000000L * t};
			nanosleep(&pause, NULL);
		}
		if (rc < 0) {
			count = -1;
			break;
		}
		if (rc > 0) {
			log_notice("migration applied", "version", migrate_list[i].version);
			count++;
		}
	}
	PQfinish(pg);
	return count;
}

int migrate_pending(const char *conninfo, int timeout_s, char *err, size_t errlen)
{
	int pending = 0;
	PGconn *pg = db_connect(conninfo, timeout_s, err, errlen);
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
