/* drain — spool to writer (see drain.h). A timer looks for work; a window of slots keeps
 * a bounded number of records in the writer at once. */
#include "drain.h"
#include "intake.h"
#include "log.h"
#include "pgw.h"
#include "platform.h"
#include "spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define WINDOW 256

struct slot {
	struct pgw_delivery w;
	struct mapped m;
	char platform[32], source[65]; /* the record's "<slug>[.<source>]", split */
	struct drain *d;
	int rec;   /* index of its record in the segment */
	bool dead; /* w is the record's dead letter (stored raw as 'failed') */
};

/* What became of each record of the loaded segment. */
enum rec_state { REC_TODO, REC_MAYBE /* its COMMIT went unanswered */, REC_DONE };

struct drain {
	struct spool *spool;
	struct pgw *pgw;
	struct event *timer;
	struct spool_segment seg;
	bool active;          /* a segment is loaded */
	unsigned char *state; /* enum rec_state per record of seg */
	int next;             /* next record to submit */
	int pending;          /* submitted, not done */
	bool failed;          /* a record could not be made durable: retry the segment later */
	int quarantined;      /* records of seg refused even as dead letters */
	struct slot *free_slots[WINDOW];
	int nfree;
	struct slot slots[WINDOW];
	uint64_t drained, refused;
};

static void pump(struct drain *d);

static void finish_segment(struct drain *d)
{
	char seq[24], n[16];
	snprintf(seq, sizeof seq, "%llu", (unsigned long long)d->seg.seq);
	snprintf(n, sizeof n, "%d", d->seg.n);
	if (d->failed) {
		log_warn("spool: segment not fully drained; will retry", "segment", seq);
		return; /* stays loaded: on_tick resumes it */
	}
	if (d->quarantined) {
		char path[4096], q[16];
		snprintf(q, sizeof q, "%d", d->quarantined);
		spool_quarantine(d->spool, &d->seg, path, sizeof path);
		log_error(
			"spool: segment kept in quarantine: it holds deliveries the database "
			"refuses even as failed events (see the errors above); once the cause is "
			"fixed, rename it back to spool-<same digits>.log and restart to drain it "
			"again",
			"file", path, "records", n, "refused", q);
	} else {
		log_notice("spool: segment drained", "segment", seq, "records", n);
		spool_release(d->spool, &d->seg);
	}
	free(d->state);
	d->state = NULL;
	d->active = false;
}

static void slot_done(struct pgw_delivery *w);

/* A record's platform field is the slug, or "<slug>.<source>" for a named source
 * (spoolrec.h): into sl->platform and sl->source ("default" when it names none). */
static void split_platform(struct slot *sl, const char *field)
{
	size_t n = strcspn(field, ".");
	snprintf(sl->platform, sizeof sl->platform, "%.*s", (int)n, field);
	snprintf(sl->source, sizeof sl->source, "%s", field[n] ? field + n + 1 : "default");
}

/* Submits the slot's record as its dead letter: the body stored raw with status
 * 'failed' and the reason (why, then detail) in error, nothing derived from it (no event
 * type, time or rows), keyed as on arrival. A spooled delivery was acknowledged, so one
 * the database refuses is kept where it is seen and can be replayed (callbridge replay
 * --status failed) rather than dropped. The arguments may point into sl->w, which this
 * resets. Returns -1 when it cannot be submitted now (the segment is retried later). */
static int submit_dead_letter(struct drain *d, struct slot *sl, const char *why, const char *detail)
{
	const struct spool_record *r = &d->seg.rec[sl->rec];
	char reason[600];
	snprintf(reason, sizeof reason, "%s: %s", why, detail);
	rows_reset(&sl->m);
	sl->m.status = MAP_FAILED;
	sl->m.error = rows_strdup(&sl->m, reason);
	sl->m.dedupe_key = rows_bound_key(&sl->m, r->dedupe_key);
	if (!sl->m.error || !sl->m.dedupe_key)
		return -1;
	memset(&sl->w, 0, sizeof sl->w);
	split_platform(sl, r->platform);
	sl->w.platform = sl->platform;
	sl->w.source = sl->source;
	sl->w.dedupe_key = sl->m.dedupe_key;
	sl->w.received_at = r->received_at;
	sl->w.payload = r->body;
	sl->w.mapped = &sl->m;
	sl->w.done = slot_done;
	sl->w.arg = sl;
	sl->w.maybe_stored = d->state[sl->rec] == REC_MAYBE || (r->flags & SPOOL_MAYBE_STORED);
	sl->w.spooled = true;
	sl->dead = true;
	d->pending++; /* before: done() never runs before pgw_submit returns, but if it did */
	if (pgw_submit(d->pgw, &sl->w) != 0) {
		d->pending--;
		return -1;
	}
	return 0;
}

static void slot_done(struct pgw_delivery *w)
{
	struct slot *sl = w->arg;
	struct drain *d = sl->d;
	bool done = true; /* the record needs nothing more */
	d->pending--;
	if (w->outcome == PGW_UNAVAILABLE) {
		d->failed = true;
		done = false;
		if (w->commit_unknown)
			d->state[sl->rec] = REC_MAYBE;
	} else if (w->outcome == PGW_REJECTED && !sl->dead) {
		log_error("spool: the database refused a spooled event; storing it raw as failed",
			  "platform", w->platform, "dedupe_key", w->dedupe_key, "error", w->detail);
		if (submit_dead_letter(d, sl, "the database refused it when the spool was drained",
				       w->detail) == 0)
			return; /* the slot stays in use; w was reset */
		d->failed = true;
		done = false;
	} else if (w->outcome == PGW_REJECTED) {
		d->refused++;
		d->quarantined++;
		log_error("spool: the database refused even the raw event; its segment goes to "
			  "quarantine",
			  "platform", w->platform, "dedupe_key", w->dedupe_key, "error", w->detail);
	} else if (sl->dead && w->outcome == PGW_STORED) {
		d->refused++;
		log_error("spool: a spooled event is stored raw as failed (a dead letter: fix the "
			  "cause, then callbridge replay --status failed)",
			  "platform", w->platform, "dedupe_key", w->dedupe_key);
	} else if (sl->dead) { /* its key was stored meanwhile: nothing is lost */
		d->refused++;
		log_warn("spool: a refused spooled event is stored already", "platform",
			 w->platform, "dedupe_key", w->dedupe_key);
	} else {
		d->drained++;
	}
	if (done)
		d->state[sl->rec] = REC_DONE;
	sl->dead = false;
	rows_reset(&sl->m);
	d->free_slots[d->nfree++] = sl;
	pump(d);
}

/* Submits records while slots are free; finishes the segment when all are done. */
static void pump(struct drain *d)
{
	while (d->active && !d->failed && d->next < d->seg.n && d->nfree > 0) {
		int i = d->next++;
		const struct spool_record *r = &d->seg.rec[i];
		if (d->state[i] == REC_DONE)
			continue;
		struct slot *sl = d->free_slots[--d->nfree];
		split_platform(sl, r->platform);
		const struct platform *p = platform_find(sl->platform, strlen(sl->platform));
		struct intake_error err;
		sl->rec = i;
		if (!p ||
		    intake_map_source(p, sl->source, r->body, r->body_len, &sl->m, &err) < 0) {
			bool transient = p && err.status >= 500; /* out of memory */
			char why[300];
			snprintf(why, sizeof why, "%s (%s)", p ? err.detail : "no such platform",
				 p ? err.code : "unknown_platform");
			if (!transient) {
				log_error(
					"spool: a spooled body no longer passes intake; storing it "
					"raw as failed",
					"platform", r->platform, "dedupe_key", r->dedupe_key,
					"error", why);
				if (submit_dead_letter(d, sl,
						       "the spooled body no longer passes intake",
						       why) == 0)
					continue;
			}
			d->failed = true;
			rows_reset(&sl->m);
			d->free_slots[d->nfree++] = sl;
			break;
		}
		memset(&sl->w, 0, sizeof sl->w);
		sl->m.dedupe_key = r->dedupe_key; /* as keyed on arrival, with its headers */
		sl->w.platform = p->slug;
		sl->w.source = sl->source;
		sl->w.dedupe_key = r->dedupe_key;
		sl->w.received_at = r->received_at;
		sl->w.payload = r->body;
		sl->w.mapped = &sl->m;
		sl->w.done = slot_done;
		sl->w.arg = sl;
		sl->w.maybe_stored = d->state[i] == REC_MAYBE || (r->flags & SPOOL_MAYBE_STORED);
		sl->w.spooled = true;
		sl->dead = false;
		if (pgw_submit(d->pgw, &sl->w) != 0) {
			d->failed = true;
			rows_reset(&sl->m);
			d->free_slots[d->nfree++] = sl;
			break;
		}
		d->pending++;
	}
	if (d->active && d->pending == 0 && (d->failed || d->next >= d->seg.n))
		finish_segment(d);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct drain *d = arg;
	struct spool_stats st;
	char err[256];
	if (!pgw_ready(d->pgw))
		return;
	if (d->active) { /* a segment that failed part-way: resume it */
		if (d->failed && d->pending == 0) {
			d->failed = false;
			d->next = 0;
			pump(d);
		}
		return;
	}
	spool_get_stats(d->spool, &st);
	if (st.records == 0)
		return;
	spool_seal(d->spool);
	int rc = spool_load_segment(d->spool, &d->seg, err, sizeof err);
	if (rc < 0) {
		log_error("spool: cannot read a segment", "error", err);
		return;
	}
	if (rc == 0)
		return; /* sealing still under way: next tick */
	d->state = calloc((size_t)d->seg.n + 1, 1);
	if (!d->state) {
		spool_segment_free(&d->seg);
		return;
	}
	d->active = true;
	d->failed = false;
	d->quarantined = 0;
	d->next = 0;
	pump(d);
}

struct drain *drain_new(struct event_base *base, struct spool *spool, struct pgw *pgw)
{
	struct drain *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->spool = spool;
	d->pgw = pgw;
	for (int i = 0; i < WINDOW; i++) {
		d->slots[i].d = d;
		d->free_slots[d->nfree++] = &d->slots[i];
	}
	d->timer = event_new(base, -1, EV_PERSIST, on_tick, d);
	struct timeval tick = {0, 200000};
	if (!d->timer || event_add(d->timer, &tick) < 0) {
		drain_free(&d);
		return NULL;
	}
	return d;
}

void drain_counts(const struct drain *d, uint64_t *drained, uint64_t *refused)
{
	*drained = d ? d->drained : 0;
	*refused = d ? d->refused : 0;
}

void drain_stop(struct drain *d)
{
	if (!d)
		return;
	d->failed = true;
	if (d->timer)
		event_del(d->timer);
}

void drain_free(struct drain **dp)
{
	struct drain *d = *dp;
	if (!d)
		return;
	if (d->timer)
		event_free(d->timer);
	spool_segment_free(&d->seg);
	free(d->state);
	for (int i = 0; i < WINDOW; i++)
		rows_free(&d->slots[i].m);
	free(d);
	*dp = NULL;
}
