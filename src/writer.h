/* writer — the database side of a delivery, on the main event loop: the PostgreSQL
 * writer (pgw), the spool and its drainer, and the hand-off from receiving loops on
 * other threads.
 *
 * A delivery's way: http (route, intake) -> writer_submit -> pgw (batch, COMMIT) or,
 * when the database cannot take it now or did not commit it in time, the spool (fsync)
 * -> its outcome -> done() on the loop the delivery came from.
 *
 * DESIGN
 * Ownership: the writer owns pgw, the spool and the drainer. A delivery belongs to its
 * caller (http.c allocates it, with the request beside it); the writer borrows it from
 * writer_submit until it calls done() exactly once. Threads: everything here runs on
 * the writer's loop. A delivery submitted with home set (a receiving loop's relay) is
 * posted to the writer's hand-off relay and its outcome posted back to home; done()
 * then runs on home's loop. /readyz and /metrics on another loop read a snapshot of the
 * writer's state, copied every 100 ms under a lock.
 * Teardown: writer_close (the loops have stopped) frees pgw, the drainer and the spool
 * (whose last fsyncs still finish their deliveries), after which deliveries still
 * handed over are answered 503 "shutting_down"; writer_free, once the receiving loops
 * are gone, calls done() with dropped set for any still queued. */
#ifndef CALLBRIDGE_WRITER_H
#define CALLBRIDGE_WRITER_H

#include "config.h"
#include "metrics.h"
#include "pgw.h"
#include "sources.h"
#include "relay.h"
#include "rows.h"
#include "spool.h"
#include "ts.h"

#include <stdbool.h>

struct event_base;
struct platform;
struct writer;

struct writer_delivery {
	struct relay_node node; /* handed between loops */
	struct pgw_delivery w;  /* what the database sees: writer_submit fills it */
	struct mapped m;        /* intake's rows, owned by the caller */
	const struct platform *platform;
	char source[SOURCE_NAME_MAX + 1]; /* the source's name; "default" for /webhooks/<slug> */
	int source_label;                 /* its metrics series (struct source's label) */
	const char *body;                 /* the raw body, as received */
	size_t body_len;
	char received_at[TS_LEN];
	struct relay *home; /* the receiving loop's relay; NULL on the writer's loop */
	void (*done)(struct writer_delivery *d);
	/* the outcome, set before done() */
	int status;
	enum metrics_outcome out;
	const char *word;           /* a 2xx: "stored", "duplicate", "unmapped", "spooled" */
	const char *error, *detail; /* otherwise */
	bool dropped;               /* at exit, with nobody left to answer it */
	struct writer *writer;      /* private to the writer */
};

/* What /readyz and /metrics show of the writer. */
struct writer_view {
	struct pgw_stats db;
	struct spool_stats sp;
	uint64_t drained, drain_refused; /* the drainer's, since start */
	bool has_spool, ready;
};

/* Connects to DATABASE_URL in the background, opens the spool (unless
 * CALLBRIDGE_SPOOL_DIR is empty) and starts draining it. NULL with err filled. */
struct writer *writer_new(struct event_base *base, const struct config *cfg, char *err,
			  size_t errlen);

/* Before receiving loops start (CALLBRIDGE_WORKERS > 1): their hand-off and the
 * snapshot they read. 0/-1. */
int writer_enable_handoff(struct writer *w) __attribute__((warn_unused_result));

/* From the writer's loop (d->home NULL) or a receiving loop (d->home its relay), with
 * platform, m, body and received_at set, and done. */
void writer_submit(struct writer *w, struct writer_delivery *d);

/* live: called on the writer's loop (else the snapshot is read). */
void writer_view(struct writer *w, struct writer_view *v, bool live);

/* After the loops stop: frees pgw, the drainer and the spool (see DESIGN). */
void writer_close(struct writer *w);

void writer_free(struct writer **w);

#endif
