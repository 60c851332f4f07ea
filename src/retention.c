/* retention — partitions ahead, raw-payload retention and erasure, in small transactions
 * with a lock timeout (see retention.h; the SQL: 0008_retention.sql). */
#include "retention.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

/* Taken (transaction-scoped, so a transaction-mode pooler cannot strand it) by whoever
 * maintains: instances started together do not all create the same partitions. */
#define MAINTAIN_LOCK_KEY "4242130315"

/* Consecutive lock timeouts after which a run gives up until the next one. */
#define MAX_LOCK_TRIES 20

static void result_error(PGconn *pg, const PGresult *r, char *err, size_t errlen)
{
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	snprintf(err, errlen, "%s", msg ? msg : PQerrorMessage(pg));
	err[strcspn(err, "\n")] = '\0';
}

static bool lock_timed_out(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	return state && !strcmp(state, "55P03");
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* BEGIN with the lock timeout; then, when maintaining, the maintenance lock: 1 taken,
 * 0 another instance has it, -1 failed. */
static int begin(PGconn *pg, const struct config *cfg, bool maintain, char *err, size_t errlen)
{
	char sql[160];
	snprintf(sql, sizeof sql, "BEGIN; SET LOCAL lock_timeout = %d; SET LOCAL TIME ZONE 'UTC'",
		 cfg->prune_lock_timeout_ms);
	PGresult *r = PQexec(pg, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 1 : -1;
	if (rc < 0)
		result_error(pg, r, err, errlen);
	PQclear(r);
	if (rc < 0 || !maintain)
		return rc;
	r = PQexec(pg, "SELECT pg_try_advisory_xact_lock(" MAINTAIN_LOCK_KEY ")");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		result_error(pg, r, err, errlen);
		rc = -1;
	} else {
		rc = !strcmp(PQgetvalue(r, 0, 0), "t");
	}
	PQclear(r);
	return rc;
}

static int end(PGconn *pg, const char *how, char *err, size_t errlen)
{
	PGresult *r = PQexec(pg, how);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc < 0)
		result_error(pg, r, err, errlen);
	PQclear(r);
	return rc;
}

/* Runs one maintenance statement in a transaction of its own, again after a pause when it
 * met a lock held too long. Returns its result (the caller PQclear-s it), NULL with
 * t->busy set when another instance maintains, or NULL with err filled. */
static PGresult *step(PGconn *pg, const struct config *cfg, const char *sql, int nparams,
		      const char *const *params, struct retention_totals *t, char *err,
		      size_t errlen)
{
	for (int tries = 0;; tries++) {
		int got = begin(pg, cfg, true, err, errlen);
		if (got <= 0) {
			end(pg, "ROLLBACK", err, 0);
			t->busy = got == 0;
			return NULL;
		}
		PGresult *r = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			if (end(pg, "COMMIT", err, errlen) < 0) {
				PQclear(r);
				return NULL;
			}
			return r;
		}
		bool again = lock_timed_out(r) && tries + 1 < MAX_LOCK_TRIES;
		result_error(pg, r, err, errlen);
		PQclear(r);
		end(pg, "ROLLBACK", err, 0);
		if (!again)
			return NULL;
		t->lock_timeouts++;
		pause_ms(50L << (tries < 4 ? tries : 4)); /* 50 ms doubling to 800 ms */
	}
}

/* How many days de-duplication keys are kept with a retention set: the longer of it and
 * the de-duplication window. */
static int key_days_of(const struct config *cfg)
{
	return cfg->dedupe_window_days > cfg->raw_retention_days ? cfg->dedupe_window_days
								 : cfg->raw_retention_days;
}

static int maintain(PGconn *pg, const struct config *cfg, const atomic_bool *stop,
		    struct retention_totals *t, char *err, size_t errlen)
{
	char ahead[16], raw_days[16], key_days[16];
	snprintf(ahead, sizeof ahead, "%d", cfg->partitions_ahead_days);
	const char *p1[] = {ahead};
	PGresult *r = step(pg, cfg, "SELECT callbridge.ensure_event_partitions($1::integer)", 1, p1,
			   t, err, errlen);
	if (!r)
		return t->busy ? 0 : -1;
	t->partitions_made += strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (cfg->raw_retention_days <= 0)
		return 0;

	/* The cutoffs are fixed once per run, so that a run ends. */
	snprintf(raw_days, sizeof raw_days, "%d", cfg->raw_retention_days);
	snprintf(key_days, sizeof key_days, "%d", key_days_of(cfg));
	const char *p2[] = {raw_days, key_days};
	r = PQexecParams(pg,
			 "SELECT (now() - make_interval(days => $1::integer))::text,"
			 " (now() - make_interval(days => $2::integer))::text",
			 2, NULL, p2, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		result_error(pg, r, err, errlen);
		PQclear(r);
		return -1;
	}
	char raw_before[64], keys_before[64], batch[16];
	snprintf(raw_before, sizeof raw_before, "%s", PQgetvalue(r, 0, 0));
	snprintf(keys_before, sizeof keys_before, "%s", PQgetvalue(r, 0, 1));
	snprintf(batch, sizeof batch, "%d", cfg->prune_batch);
	PQclear(r);

	/* The parts in order (raw events, lookup records, keys): a part found finished is
	 * not looked at again in this run (its cutoff goes NULL). Looking again would cost a
	 * scan per step over what was just deleted, until vacuum has run. */
	const char *p3[] = {raw_before, raw_before, keys_before, batch};
	while (!(stop && atomic_load(stop))) {
		r = step(pg, cfg,
			 "SELECT what, n FROM callbridge.prune_step($1::timestamptz,"
			 " $2::timestamptz, $3::timestamptz, $4::integer)",
			 4, p3, t, err, errlen);
		if (!r)
			return t->busy ? 0 : -1;
		const char *what = PQgetvalue(r, 0, 0);
		long long n = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		bool done = !*what;
		if (!strncmp(what, "dropped partition", 17)) {
			t->partitions_dropped++;
			t->events += n;
			log_info("retention: partition dropped", "partition", what + 18);
		} else if (!strcmp(what, "deleted raw events")) {
			t->events += n;
		} else if (!strcmp(what, "deleted pre-call lookup records")) {
			t->lookups += n;
			p3[0] = NULL;
		} else if (!strcmp(what, "deleted de-duplication keys")) {
			t->keys += n;
			p3[0] = p3[1] = NULL;
		}
		PQclear(r);
		if (done)
			break;
	}
	return 0;
}

static int run(const struct config *cfg, const atomic_bool *stop, struct retention_totals *t,
	       char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	PGconn *pg = db_connect(cfg->database_url, cfg->db_connect_timeout_seconds, err, errlen);
	if (!pg)
		return -1;
	int rc = maintain(pg, cfg, stop, t, err, errlen);
	PQfinish(pg);
	return rc;
}

int retention_run(const struct config *cfg, struct retention_totals *t, char *err, size_t errlen)
{
	return run(cfg, NULL, t, err, errlen);
}

int retention_prune(const struct config *cfg, FILE *out, char *err, size_t errlen)
{
	struct retention_totals t;
	if (retention_run(cfg, &t, err, errlen) < 0)
		return -1;
	if (t.busy) {
		fprintf(out, "another callbridge is maintaining the database now; nothing done\n");
		return 0;
	}
	fprintf(out, "partitions made ahead: %lld (%d days)\n", t.partitions_made,
		cfg->partitions_ahead_days);
	if (cfg->raw_retention_days <= 0) {
		fprintf(out, "raw payloads kept for ever (CALLBRIDGE_RAW_RETENTION_DAYS is 0): "
			     "nothing removed\n");
	} else {
		int kd = key_days_of(cfg);
		fprintf(out,
			"raw events removed: %lld (older than %d day%s; %lld partitions dropped)\n",
			t.events, cfg->raw_retention_days, cfg->raw_retention_days == 1 ? "" : "s",
			t.partitions_dropped);
		fprintf(out, "pre-call lookup records removed: %lld\n", t.lookups);
		fprintf(out, "de-duplication keys removed: %lld (older than %d day%s)\n", t.keys,
			kd, kd == 1 ? "" : "s");
	}
	if (t.lock_timeouts)
		fprintf(out, "steps that waited for a lock and tried again: %lld\n",
			t.lock_timeouts);
	return fflush(out) == 0 ? 0 : (snprintf(err, errlen, "cannot write the output"), -1);
}

int retention_forget(const struct config *cfg, const char *phone, const char *reference, FILE *out,
		     char *err, size_t errlen)
{
	int rc = -1;
	PGresult *r = NULL;
	PGconn *pg = db_connect(cfg->database_url, cfg->db_connect_timeout_seconds, err, errlen);
	if (!pg)
		return -1;
	const char *params[] = {phone, reference};
	for (int tries = 0;; tries++) {
		if (begin(pg, cfg, false, err, errlen) < 0)
			goto done;
		r = PQexecParams(pg, "SELECT what, n FROM callbridge.forget_phone($1, $2)", 2, NULL,
				 params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			break;
		bool again = lock_timed_out(r) && tries + 1 < MAX_LOCK_TRIES;
		result_error(pg, r, err, errlen);
		PQclear(r);
		r = NULL;
		end(pg, "ROLLBACK", err, 0);
		if (!again)
			goto done;
		pause_ms(50L << (tries < 4 ? tries : 4));
	}
	if (end(pg, "COMMIT", err, errlen) < 0)
		goto done;
	long long total = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		fprintf(out, "%s: %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
		total += strtoll(PQgetvalue(r, i, 1), NULL, 10);
	}
	fprintf(out, "%s\n",
		total ? "erased; recorded in callbridge.erasures"
		      : "nothing found to erase; recorded in callbridge.erasures");
	rc = fflush(out) == 0 ? 0 : (snprintf(err, errlen, "cannot write the output"), -1);
done:
	PQclear(r);
	PQfinish(pg);
	return rc;
}

/* ---- the daemon's schedule ---- */

struct retention_worker {
	const struct config *cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stop;
};

static void log_run(const struct config *cfg, const struct retention_totals *t)
{
	if (t->busy || (!t->partitions_made && !t->events && !t->keys && !t->lookups))
		return;
	char made[24], dropped[24], ev[24], keys[24], lk[24];
	snprintf(made, sizeof made, "%lld", t->partitions_made);
	snprintf(dropped, sizeof dropped, "%lld", t->partitions_dropped);
	snprintf(ev, sizeof ev, "%lld", t->events);
	snprintf(keys, sizeof keys, "%lld", t->keys);
	snprintf(lk, sizeof lk, "%lld", t->lookups);
	log_notice("maintenance done", "partitions_made", made, "partitions_dropped", dropped,
		   "raw_events_removed", ev, "keys_removed", keys, "lookups_removed", lk,
		   "retention", cfg->raw_retention_days > 0 ? "on" : "off");
}

static void *worker_main(void *arg)
{
	struct retention_worker *w = arg;
	char err[512];
	bool warned = false;
	while (!atomic_load(&w->stop)) {
		struct retention_totals t;
		int wait_s = w->cfg->maintenance_interval_seconds;
		int rc = run(w->cfg, &w->stop, &t, err, sizeof err);
		metrics_maintenance(rc == 0, t.busy, (uint64_t)t.partitions_made,
				    (uint64_t)t.partitions_dropped, (uint64_t)t.events,
				    (uint64_t)t.keys, (uint64_t)t.lookups);
		if (rc < 0) {
			if (!warned)
				log_warn("maintenance failed; trying again later", "error", err);
			warned = true;
			if (wait_s > 60)
				wait_s = 60; /* the database away, or not migrated yet */
		} else {
			warned = false;
			log_run(w->cfg, &t);
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_s;
		pthread_mutex_lock(&w->mu);
		while (!atomic_load(&w->stop) &&
		       pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

struct retention_worker *retention_start(const struct config *cfg)
{
	struct retention_worker *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->cfg = cfg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	atomic_init(&w->stop, false);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	return w;
}

void retention_stop(struct retention_worker **wp)
{
	struct retention_worker *w = *wp;
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, true);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
	*wp = NULL;
}
