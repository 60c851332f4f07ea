/* retention — data that ages: day partitions of webhook_events made ahead, the raw
 * payloads' retention (`callbridge prune`, and the daemon on a schedule), and erasure
 * (`callbridge forget --phone`). The SQL is in sql/migrations/0008_retention.sql; this
 * module drives it in small transactions, each with CALLBRIDGE_PRUNE_LOCK_TIMEOUT_MS as
 * its lock_timeout, so that deliveries never wait long behind it. Blocking libpq on a
 * connection of its own; the daemon runs it on a thread of its own. */
#ifndef CALLBRIDGE_RETENTION_H
#define CALLBRIDGE_RETENTION_H

#include <stddef.h>
#include <stdio.h>

struct config;

/* What one maintenance run did. */
struct retention_totals {
	long long partitions_made, partitions_dropped;
	long long events, keys, lookups; /* rows removed */
	long long lock_timeouts;         /* steps that found a lock taken and tried again */
	int busy;                        /* another instance was maintaining: nothing done */
};

/* Makes the partitions ahead, then (CALLBRIDGE_RAW_RETENTION_DAYS > 0) removes what is
 * older than the retention, step by step. Returns 0, or -1 with err filled. */
int retention_run(const struct config *cfg, struct retention_totals *t, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* `callbridge prune`: retention_run, then one line per kind of thing done to out. */
int retention_prune(const struct config *cfg, FILE *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* `callbridge forget --phone NUMBER [--reference TEXT]`: erases the person at phone in one
 * transaction (callbridge.forget_phone) and prints what was erased, table by table.
 * Idempotent: a second run finds nothing. Returns 0, or -1 with err filled. */
int retention_forget(const struct config *cfg, const char *phone, const char *reference, FILE *out,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/* The daemon's maintenance: a thread that runs retention_run at start and then every
 * CALLBRIDGE_MAINTENANCE_INTERVAL_SECONDS, logging what it did. */
struct retention_worker;
struct retention_worker *retention_start(const struct config *cfg);
void retention_stop(struct retention_worker **w); /* wakes it, waits for it; NULL ok */

#endif
