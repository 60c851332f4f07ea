/* status — the operator's page (see status.h). */
#include "status.h"
#include "db.h"
#include "metrics.h"
#include "platform.h"
#include "ts.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#ifndef CALLBRIDGE_VERSION
#define CALLBRIDGE_VERSION "dev"
#endif

#define MINUTES 60 /* the chart's span */

/* The delivery counters of every platform at one moment. */
struct sample {
	int64_t at_us;
	uint64_t total[PLATFORM_MAX];
};

struct status {
	struct event *tick;
	int64_t started_us;
	struct sample ring[MINUTES + 1]; /* the last MINUTES + 1 samples, a minute apart */
	int nsamples, newest;

	/* The change feed's newest version, read by a thread of its own. */
	char *conninfo;
	int connect_timeout_s;
	pthread_t feed_thread;
	bool feed_running; /* a thread was started and not joined yet */
	pthread_mutex_t mu;
	bool feed_done;          /* under mu: the thread has finished */
	long long feed_version;  /* under mu: -1 unknown */
	int64_t feed_read_us;    /* under mu: when it was read; 0 never */
	char feed_error[160];    /* under mu */
	int64_t feed_started_us; /* when the last read began */
};

static uint64_t platform_total(const struct metrics_platform *m)
{
	uint64_t n = 0;
	for (int o = 0; o < OUT_COUNT; o++)
		n += m->n[o];
	return n;
}

static void take_sample(struct status *st)
{
	st->newest = (st->newest + 1) % (MINUTES + 1);
	struct sample *s = &st->ring[st->newest];
	s->at_us = ts_now_us();
	for (int p = 0; p < platform_count; p++) {
		struct metrics_platform m;
		metrics_platform_read(p, &m);
		s->total[p] = platform_total(&m);
	}
	if (st->nsamples < MINUTES + 1)
		st->nsamples++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	take_sample(arg);
}

/* ---- the change feed's version ---- */

static void *read_feed(void *arg)
{
	struct status *st = arg;
	char err[160] = "";
	long long version = -1;
	PGconn *pg = db_connect(st->conninfo, st->connect_timeout_s, err, sizeof err);
	if (pg) {
		PGresult *r = PQexec(pg, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
					 "FROM callbridge.sync_version_seq");
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		else
			snprintf(err, sizeof err, "%s", PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(pg);
	}
	err[strcspn(err, "\n")] = '\0';
	pthread_mutex_lock(&st->mu);
	st->feed_version = version;
	st->feed_read_us = ts_now_us();
	snprintf(st->feed_error, sizeof st->feed_error, "%s", err);
	st->feed_done = true;
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* Joins a finished read and starts another when the last is older than
 * STATUS_FEED_EVERY_S; never waits. */
static void refresh_feed(struct status *st)
{
	pthread_mutex_lock(&st->mu);
	bool done = st->feed_done;
	pthread_mutex_unlock(&st->mu);
	if (st->feed_running && !done)
		return;
	if (st->feed_running) {
		pthread_join(st->feed_thread, NULL);
		st->feed_running = false;
	}
	int64_t now = ts_now_us();
	if (st->feed_started_us && now - st->feed_started_us < STATUS_FEED_EVERY_S * 1000000LL)
		return;
	st->feed_started_us = now;
	st->feed_done = false;
	if (pthread_create(&st->feed_thread, NULL, read_feed, st) == 0)
		st->feed_running = true;
}

/* ---- rendering ---- */

static void add_html(struct evbuffer *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			evbuffer_add(b, "&lt;", 4);
			break;
		case '>':
			evbuffer_add(b, "&gt;", 4);
			break;
		case '&':
			evbuffer_add(b, "&amp;", 5);
			break;
		case '"':
			evbuffer_add(b, "&quot;", 6);
			break;
		default:
			evbuffer_add(b, s, 1);
		}
	}
}

static void add_time(struct evbuffer *b, int64_t us)
{
	if (!us) {
		evbuffer_add_printf(b, "never");
		return;
	}
	char t[TS_LEN];
	if (ts_format(us, t))
		evbuffer_add_printf(b, "%.19sZ", t); /* to the second, in UTC */
}

static void add_age(struct evbuffer *b, int64_t now_us, int64_t us)
{
	if (!us) {
		evbuffer_add_printf(b, "-");
		return;
	}
	long long s = (now_us - us) / 1000000;
	if (s < 0)
		s = 0;
	if (s < 120)
		evbuffer_add_printf(b, "%lld s", s);
	else if (s < 7200)
		evbuffer_add_printf(b, "%lld min", s / 60);
	else if (s < 172800)
		evbuffer_add_printf(b, "%lld h", s / 3600);
	else
		evbuffer_add_printf(b, "%lld d", s / 86400);
}

/* Deliveries per minute of platform p, oldest first: per[MINUTES - 1] is the minute
 * under way (since the newest sample). Minutes before the first sample are 0. */
static void per_minute(const struct status *st, int p, uint64_t now_total, uint64_t *per)
{
	memset(per, 0, MINUTES * sizeof *per);
	uint64_t later = now_total;
	for (int k = 0; k < st->nsamples && k < MINUTES; k++) {
		const struct sample *s = &st->ring[(st->newest - k + MINUTES + 1) % (MINUTES + 1)];
		per[MINUTES - 1 - k] = later >= s->total[p] ? later - s->total[p] : 0;
		later = s->total[p];
	}
}

static void add_chart(struct evbuffer *b, const char *slug, const uint64_t *per)
{
	uint64_t max = 1, sum = 0;
	for (int i = 0; i < MINUTES; i++) {
		if (per[i] > max)
			max = per[i];
		sum += per[i];
	}
	evbuffer_add_printf(b,
			    "<svg class=\"chart\" id=\"chart-%s\" data-hour-total=\"%llu\" "
			    "width=\"%d\" height=\"32\" viewBox=\"0 0 %d 32\" role=\"img\" "
			    "aria-label=\"deliveries per minute, last hour: %llu in all\">",
			    slug, (unsigned long long)sum, MINUTES * 3, MINUTES * 3,
			    (unsigned long long)sum);
	for (int i = 0; i < MINUTES; i++) {
		int h = per[i] ? (int)(1 + per[i] * 29 / max) : 0;
		evbuffer_add_printf(
			b,
			"<rect x=\"%d\" y=\"%d\" width=\"2\" height=\"%d\"><title>%d min "
			"ago: %llu</title></rect>",
			i * 3, 31 - h, h + 1, MINUTES - 1 - i, (unsigned long long)per[i]);
	}
	evbuffer_add_printf(b, "</svg>");
}

static void add_cell(struct evbuffer *b, const char *slug, const char *key, unsigned long long n)
{
	evbuffer_add_printf(b, "<td class=\"n\" id=\"%s-%s\">%llu</td>", slug, key, n);
}

static void render_platforms(struct status *st, struct evbuffer *b, int64_t now)
{
	evbuffer_add_printf(
		b, "<h2>Platforms</h2><table id=\"platforms\"><thead><tr><th>platform</th>"
		   "<th>last delivery</th><th>age</th><th>stored</th><th>duplicate</th>"
		   "<th>unmapped</th><th>spooled</th><th>failures</th><th>signature refusals</th>"
		   "<th>per minute, last hour</th><th>last error</th></tr></thead><tbody>");
	for (int p = 0; p < platform_count; p++) {
		const char *slug = platforms[p].slug;
		struct metrics_platform m;
		metrics_platform_read(p, &m);
		uint64_t per[MINUTES];
		per_minute(st, p, platform_total(&m), per);
		unsigned long long failures = m.n[OUT_FAILED] + m.n[OUT_INVALID] +
					      m.n[OUT_TOO_LARGE] + m.n[OUT_REJECTED] +
					      m.n[OUT_UNAVAILABLE];
		evbuffer_add_printf(b, "<tr id=\"row-%s\"><th>%s</th><td id=\"%s-last\">", slug,
				    slug, slug);
		add_time(b, m.last_at_us);
		evbuffer_add_printf(b, "</td><td id=\"%s-age\">", slug);
		add_age(b, now, m.last_at_us);
		evbuffer_add_printf(b, "</td>");
		add_cell(b, slug, "stored", m.n[OUT_STORED]);
		add_cell(b, slug, "duplicate", m.n[OUT_DUPLICATE]);
		add_cell(b, slug, "unmapped", m.n[OUT_UNMAPPED]);
		add_cell(b, slug, "spooled", m.n[OUT_SPOOLED]);
		add_cell(b, slug, "failures", failures);
		add_cell(b, slug, "signature", m.sig_failures);
		evbuffer_add_printf(b, "<td>");
		add_chart(b, slug, per);
		evbuffer_add_printf(b, "</td><td class=\"err\" id=\"%s-error\">", slug);
		if (m.last_error_at_us) {
			add_html(b, m.last_error);
			evbuffer_add_printf(b, " <span class=\"dim\">(");
			add_age(b, now, m.last_error_at_us);
			evbuffer_add_printf(b, " ago)</span>");
		}
		evbuffer_add_printf(b, "</td></tr>");
	}
	evbuffer_add_printf(b, "</tbody></table>");
}

/* The upper bound of the bucket holding quantile q of a commit-time histogram, in ms;
 * -1 when empty. */
static double commit_quantile(const struct pgw_stats *db, double q)
{
	uint64_t total = 0, cum = 0;
	for (int i = 0; i <= PGW_COMMIT_BUCKETS; i++)
		total += db->commit_hist[i];
	if (!total)
		return -1;
	for (int i = 0; i < PGW_COMMIT_BUCKETS; i++) {
		cum += db->commit_hist[i];
		if ((double)cum >= q * (double)total)
			return pgw_commit_le_s[i] * 1000;
	}
	return pgw_commit_le_s[PGW_COMMIT_BUCKETS - 1] * 1000 * 10;
}

static void render_database(struct evbuffer *b, const struct pgw_stats *db)
{
	evbuffer_add_printf(b,
			    "<h2>Database</h2><table id=\"database\"><tbody>"
			    "<tr><th>connection</th><td id=\"db-state\" class=\"%s\">%s</td></tr>",
			    db->up ? "ok" : "bad", db->up ? "up" : "down");
	if (!db->up)
		evbuffer_add_printf(b, "<tr><th>down for</th><td id=\"db-down\">%.0f s</td></tr>",
				    (double)db->down_ms / 1000);
	uint64_t ncommits = 0;
	for (int i = 0; i <= PGW_COMMIT_BUCKETS; i++)
		ncommits += db->commit_hist[i];
	evbuffer_add_printf(
		b,
		"<tr><th>statements</th><td id=\"db-statements\">%s</td></tr>"
		"<tr><th>batches committed</th><td class=\"n\" id=\"db-batches\">%llu</td></tr>"
		"<tr><th>deliveries in them</th><td class=\"n\" id=\"db-batched\">%llu</td></tr>"
		"<tr><th>waiting for the database</th><td class=\"n\" id=\"db-inflight\">%d</td></tr>"
		"<tr><th>reconnects</th><td class=\"n\" id=\"db-reconnects\">%llu</td></tr>",
		db->unnamed ? "unnamed (transaction-mode pooler)" : "prepared",
		(unsigned long long)db->batches, (unsigned long long)db->batched, db->inflight,
		(unsigned long long)db->reconnects);
	if (ncommits)
		evbuffer_add_printf(b,
				    "<tr><th>commit time</th><td id=\"db-commit\">mean %.1f ms, "
				    "p50 &le; %g ms, p99 &le; %g ms</td></tr>",
				    (double)db->commit_ms_sum / (double)ncommits,
				    commit_quantile(db, 0.5), commit_quantile(db, 0.99));
	evbuffer_add_printf(b, "</tbody></table>");
}

static void render_spool(struct evbuffer *b, const struct writer_view *v, int64_t now)
{
	evbuffer_add_printf(b, "<h2>Spool</h2>");
	if (!v->has_spool) {
		evbuffer_add_printf(b, "<p id=\"spool-off\">disabled (CALLBRIDGE_SPOOL_DIR is "
				       "empty): deliveries get 503 while the database is away</p>");
		return;
	}
	const struct spool_stats *sp = &v->sp;
	evbuffer_add_printf(
		b,
		"<table id=\"spool\"><tbody>"
		"<tr><th>records waiting</th><td class=\"n %s\" id=\"spool-records\">%llu</td></tr>"
		"<tr><th>bytes</th><td class=\"n\" id=\"spool-bytes\">%llu</td></tr>"
		"<tr><th>not empty for</th><td id=\"spool-backlog\">",
		sp->records ? "bad" : "ok", (unsigned long long)sp->records,
		(unsigned long long)sp->bytes);
	add_age(b, now, sp->backlog_since_us);
	evbuffer_add_printf(
		b,
		"</td></tr><tr><th>drained since start</th><td class=\"n\" "
		"id=\"spool-drained\">%llu</td></tr>"
		"<tr><th>refused when drained</th><td class=\"n\" id=\"spool-refused\">%llu</td></tr>"
		"<tr><th>segments in quarantine</th><td class=\"n\" "
		"id=\"spool-quarantined\">%llu</td></tr></tbody></table>",
		(unsigned long long)v->drained, (unsigned long long)v->drain_refused,
		(unsigned long long)sp->quarantined);
}

static void render_feed(struct status *st, struct evbuffer *b, int64_t now)
{
	refresh_feed(st);
	pthread_mutex_lock(&st->mu);
	long long version = st->feed_version;
	int64_t read_us = st->feed_read_us;
	char error[sizeof st->feed_error];
	memcpy(error, st->feed_error, sizeof error);
	pthread_mutex_unlock(&st->mu);
	evbuffer_add_printf(b, "<h2>Change feed</h2><table id=\"feed\"><tbody><tr><th>newest "
			       "version</th><td class=\"n\" id=\"feed-version\">");
	if (version >= 0)
		evbuffer_add_printf(b, "%lld", version);
	else
		evbuffer_add_printf(b, "%s", read_us ? "unknown" : "reading");
	evbuffer_add_printf(b, "</td></tr><tr><th>read</th><td>");
	if (read_us) {
		add_age(b, now, read_us);
		evbuffer_add_printf(b, " ago");
	}
	if (error[0]) {
		evbuffer_add_printf(b, " <span class=\"bad\">");
		add_html(b, error);
		evbuffer_add_printf(b, "</span>");
	}
	evbuffer_add_printf(b, "</td></tr></tbody></table>");
}

static const char style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
	"h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin:1.4em 0 .4em}"
	"table{border-collapse:collapse}th,td{padding:.25em .6em;border-bottom:1px solid #ddd;"
	"text-align:left;vertical-align:middle}td.n{text-align:right;font-variant-numeric:"
	"tabular-nums}.ok{color:#1a7f37}.bad{color:#c62828;font-weight:600}.dim{color:#777}"
	".err{max-width:28em;font-size:.9em;word-break:break-word}"
	"td[id$=-last],td[id$=-age]{white-space:nowrap}"
	".cols{display:flex;flex-wrap:wrap;gap:0 2.5em;align-items:flex-start}"
	"svg.chart rect{fill:#3b6fb6}p.meta{color:#555;margin:.3em 0 0}";

void status_render(struct status *st, struct evbuffer *out, const struct writer_view *v)
{
	int64_t now = ts_now_us();
	evbuffer_add_printf(out,
			    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
			    "<meta http-equiv=\"refresh\" content=\"%d\">"
			    "<meta name=\"viewport\" content=\"width=device-width\">"
			    "<title>callbridge status</title><style>%s</style></head><body>"
			    "<h1>callbridge</h1><p class=\"meta\">version %s &middot; started ",
			    STATUS_REFRESH_S, style, CALLBRIDGE_VERSION);
	add_time(out, st->started_us);
	evbuffer_add_printf(out, " &middot; this page at <span id=\"now\">");
	add_time(out, now);
	evbuffer_add_printf(out, "</span> &middot; refreshes every %d s</p>", STATUS_REFRESH_S);
	render_platforms(st, out, now);
	evbuffer_add_printf(out, "<div class=\"cols\"><section>");
	render_database(out, &v->db);
	evbuffer_add_printf(out, "</section><section>");
	render_spool(out, v, now);
	evbuffer_add_printf(out, "</section><section>");
	render_feed(st, out, now);
	evbuffer_add_printf(out, "</section></div></body></html>\n");
}

struct status *status_new(struct event_base *base, const char *conninfo, int connect_timeout_s)
{
	struct status *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->started_us = ts_now_us();
	st->feed_version = -1;
	st->connect_timeout_s = connect_timeout_s;
	pthread_mutex_init(&st->mu, NULL);
	st->conninfo = strdup(conninfo ? conninfo : "");
	st->tick = event_new(base, -1, EV_PERSIST, on_tick, st);
	struct timeval minute = {60, 0};
	if (!st->conninfo || !st->tick || event_add(st->tick, &minute) < 0) {
		status_free(&st);
		return NULL;
	}
	st->newest = MINUTES; /* the first sample goes to 0 */
	take_sample(st);
	return st;
}

void status_free(struct status **stp)
{
	struct status *st = *stp;
	if (!st)
		return;
	if (st->feed_running)
		pthread_join(st->feed_thread, NULL);
	if (st->tick)
		event_free(st->tick);
	pthread_mutex_destroy(&st->mu);
	free(st->conninfo);
	free(st);
	*stp = NULL;
}
