/* writer — the database side of a delivery (see writer.h). */
#include "writer.h"
#include "drain.h"
#include "log.h"
#include "platform.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define SNAPSHOT_MS 100

struct writer {
	struct event_base *base;
	struct pgw *pgw;       /* NULL once closed */
	struct spool *spool;   /* NULL: disabled, or closed */
	struct drain *drainer; /* with the spool */
	struct relay *handoff; /* deliveries from receiving loops */
	struct event *snap_timer;
	pthread_mutex_t snap_mu;
	struct writer_view snap;
	bool closing; /* at exit: nobody is left to answer */
};

/* ---- outcomes ---- */

/* The delivery's outcome, sent to the loop it came from. */
static void finish(struct writer_delivery *d, int status, enum metrics_outcome out,
		   const char *word, const char *error, const char *detail)
{
	d->status = status;
	d->out = out;
	d->word = word;
	d->error = error;
	d->detail = detail;
	if (d->home)
		relay_post(d->home, &d->node);
	else
		d->done(d);
}

static void unavailable(struct writer_delivery *d, const char *code, const char *detail)
{
	finish(d, 503, OUT_UNAVAILABLE, NULL, code, detail);
}

static void spooled(void *arg, bool ok)
{
	struct writer_delivery *d = arg;
	if (ok && d->m.status == MAP_FAILED) /* as with the database up: kept as failed, 400 */
		finish(d, 400, OUT_FAILED, NULL, "unmappable",
		       d->m.error ? d->m.error : "the event was stored as failed");
	else if (ok)
		finish(d, 200, OUT_SPOOLED, "spooled", NULL, NULL);
	else
		unavailable(d, "unavailable",
			    "the event could not be made durable now; retry later");
}

/* The database cannot take d now: the spool, or 503. */
static void fall_back(struct writer *w, struct writer_delivery *d, const char *why)
{
	if (w->spool) {
		char platform[96]; /* "<slug>.<source>" for a named source (spoolrec.h) */
		if (strcmp(d->source, "default"))
			snprintf(platform, sizeof platform, "%s.%s", d->platform->slug, d->source);
		else
			snprintf(platform, sizeof platform, "%s", d->platform->slug);
		struct spool_record rec = {
			platform, d->received_at, d->w.dedupe_key,
			d->body,  d->body_len,    d->w.commit_unknown ? SPOOL_MAYBE_STORED : 0};
		if (spool_append(w->spool, &rec, spooled, d) == 0)
			return;
		why = "the database is unavailable and the spool is full; retry later";
	}
	unavailable(d, "unavailable", why);
}

/* What the database made of it. */
static void stored(struct pgw_delivery *pd)
{
	struct writer_delivery *d = pd->arg;
	switch (pd->outcome) {
	case PGW_STORED:
	case PGW_DUPLICATE:
		if (pd->stored_status == MAP_FAILED)
			finish(d, 400, OUT_FAILED, NULL, "unmappable",
			       pd->detail[0] ? pd->detail
			       : d->m.error  ? d->m.error
					     : "the event was stored as failed");
		else if (pd->outcome == PGW_DUPLICATE)
			finish(d, 200, OUT_DUPLICATE, "duplicate", NULL, NULL);
		else if (pd->stored_status == MAP_UNMAPPED)
			finish(d, 200, OUT_UNMAPPED, "unmapped", NULL, NULL);
		else
			finish(d, 200, OUT_STORED, "stored", NULL, NULL);
		break;
	case PGW_REJECTED:
		finish(d, 400, OUT_REJECTED, NULL, "unstorable", pd->detail);
		break;
	default:
		break;
	}
}

/* ---- taking deliveries ---- */

static void delivery_done(struct pgw_delivery *pd)
{
	struct writer_delivery *d = pd->arg;
	if (pd->outcome == PGW_UNAVAILABLE)
		fall_back(d->writer, d, "the event could not be made durable now; retry later");
	else
		stored(pd);
}

/* On the writer's loop. */
static void take(struct writer *w, struct writer_delivery *d)
{
	if (w->closing) { /* the loops are gone: nobody can answer */
		d->dropped = true;
		d->done(d);
		return;
	}
	if (!w->pgw) {
		unavailable(d, "shutting_down", "the server is stopping; retry later");
		return;
	}
	d->writer = w;
	d->w.done = delivery_done;
	d->w.arg = d;
	int rc = pgw_submit(w->pgw, &d->w);
	if (rc == -2)
		unavailable(d, "overloaded", "too many deliveries in flight; retry later");
	else if (rc == -1)
		fall_back(w, d, "the database is unavailable; retry later");
}

void writer_submit(struct writer *w, struct writer_delivery *d)
{
	d->w.platform = d->platform->slug;
	if (!d->source[0])
		snprintf(d->source, sizeof d->source, "default");
	d->w.source = d->source;
	d->w.dedupe_key = d->m.dedupe_key;
	d->w.received_at = d->received_at;
	d->w.payload = d->body;
	d->w.mapped = &d->m;
	if (d->home)
		relay_post(w->handoff, &d->node);
	else
		take(w, d);
}

static void on_handoff(struct relay_node *n, void *arg)
{
	take(arg, (struct writer_delivery *)n);
}

/* ---- what /readyz and /metrics show ---- */

static void take_view(const struct writer *w, struct writer_view *v)
{
	memset(v, 0, sizeof *v);
	if (!w->pgw) /* closed: nothing is ready */
		return;
	pgw_get_stats(w->pgw, &v->db);
	v->has_spool = w->spool != NULL;
	if (w->spool)
		spool_get_stats(w->spool, &v->sp);
	if (w->drainer)
		drain_counts(w->drainer, &v->drained, &v->drain_refused);
	v->ready = pgw_ready(w->pgw) || (w->spool && !spool_is_full(w->spool));
}

void writer_view(struct writer *w, struct writer_view *v, bool live)
{
	if (live) {
		take_view(w, v);
		return;
	}
	pthread_mutex_lock(&w->snap_mu);
	*v = w->snap;
	pthread_mutex_unlock(&w->snap_mu);
}

static void on_snapshot(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct writer *w = arg;
	struct writer_view v;
	take_view(w, &v);
	pthread_mutex_lock(&w->snap_mu);
	w->snap = v;
	pthread_mutex_unlock(&w->snap_mu);
}

/* ---- life ---- */

struct writer *writer_new(struct event_base *base, const struct config *cfg, char *err,
			  size_t errlen)
{
	struct writer *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(err, errlen, "out of memory at start-up");
		return NULL;
	}
	w->base = base;
	pthread_mutex_init(&w->snap_mu, NULL);
	struct pgw_options opt = {
		.connections = cfg->db_connections,
		.batch_max = cfg->batch_max,
		.max_inflight = cfg->max_inflight,
		.connect_timeout_s = cfg->db_connect_timeout_seconds,
		.reconnect_max_s = cfg->db_reconnect_max_seconds,
		.batch_timeout_s = 10,
		.pooler = (enum pgw_pooler)cfg->db_pooler,
	};
	w->pgw = pgw_new(base, cfg->database_url, &opt);
	if (!w->pgw) {
		snprintf(err, errlen, "out of memory at start-up");
		goto fail;
	}
	pgw_set_commit_deadline(w->pgw, cfg->commit_deadline_ms);
	if (cfg->spool_dir[0]) {
		w->spool = spool_open(base, cfg->spool_dir, (uint64_t)cfg->spool_max_bytes, err,
				      errlen);
		if (!w->spool)
			goto fail;
		w->drainer = drain_new(base, w->spool, w->pgw);
		if (!w->drainer) {
			snprintf(err, errlen, "out of memory at start-up");
			goto fail;
		}
	} else {
		log_warn("spool disabled: deliveries are answered 503 while the database is away");
	}
	return w;
fail:
	writer_close(w);
	writer_free(&w);
	return NULL;
}

int writer_enable_handoff(struct writer *w)
{
	struct timeval tv = {0, SNAPSHOT_MS * 1000};
	w->handoff = relay_new(w->base, on_handoff, w);
	w->snap_timer = event_new(w->base, -1, EV_PERSIST, on_snapshot, w);
	if (!w->handoff || !w->snap_timer || event_add(w->snap_timer, &tv) < 0)
		return -1;
	on_snapshot(-1, 0, w);
	return 0;
}

void writer_close(struct writer *w)
{
	if (!w)
		return;
	if (w->snap_timer) {
		event_free(w->snap_timer);
		w->snap_timer = NULL;
	}
	drain_stop(w->drainer);
	pgw_free(&w->pgw); /* its deliveries still waiting are handed back: spooled */
	drain_free(&w->drainer);
	spool_close(&w->spool); /* its last fsyncs finish deliveries */
	if (w->handoff)
		relay_run(w->handoff); /* handed over meanwhile: 503 */
}

void writer_free(struct writer **wp)
{
	struct writer *w = *wp;
	if (!w)
		return;
	if (w->handoff) {
		w->closing = true;
		relay_run(w->handoff);
		relay_free(&w->handoff);
	}
	if (w->snap_timer)
		event_free(w->snap_timer);
	pthread_mutex_destroy(&w->snap_mu);
	free(w);
	*wp = NULL;
}
