/* replay — re-maps stored events page by page (see replay.h). Pages are read with
 * blocking libpq on a connection of their own (this is a command, not the server); each
 * page is then written through the asynchronous writer exactly as live deliveries are. */
#include "replay.h"
#include "db.h"
#include "intake.h"
#include "log.h"
#include "pgw.h"
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#define PAGE     500
#define PAGE_SQL "500"

struct item {
	struct pgw_delivery w;
	struct mapped m;
	char *payload;
	char received_at[40];
	char platform[32], source[65];
};

struct run {
	struct event_base *base;
	int pending;
	long counts[3]; /* by stored status after the replay */
	long unavailable;
};

static void on_done(struct pgw_delivery *w)
{
	struct run *r = w->arg;
	if (w->outcome == PGW_STORED || w->outcome == PGW_DUPLICATE)
		r->counts[w->stored_status]++;
	else
		r->unavailable++;
	if (--r->pending == 0)
		event_base_loopbreak(r->base);
}

static PGresult *fetch(PGconn *pg, const struct replay_filter *f, long long after)
{
	char after_s[24];
	snprintf(after_s, sizeof after_s, "%lld", after);
	const char *params[] = {after_s, f->platform, f->status, f->since};
	return PQexecParams(
		pg,
		"SELECT id, platform, payload::text, received_at, source FROM callbridge.webhook_events"
		" WHERE id > $1::bigint AND ($2::text IS NULL OR platform = $2)"
		" AND ($3::text IS NULL OR status = $3)"
		" AND ($4::timestamptz IS NULL OR received_at >= $4::timestamptz)"
		" ORDER BY id LIMIT " PAGE_SQL,
		4, NULL, params, NULL, NULL, 0);
}

int replay_run(const struct config *cfg, const struct replay_filter *f, char *err, size_t errlen)
{
	int rc = -1;
	struct run r = {0};
	struct pgw *w = NULL;
	struct item *items = NULL;
	long long after = 0;
	long total = 0, refused = 0;
	PGconn *pg = db_connect(cfg->database_url, cfg->db_connect_timeout_seconds, err, errlen);

	if (!pg)
		goto done;
	r.base = event_base_new();
	struct pgw_options opt = {.connections = 1,
				  .batch_max = cfg->batch_max,
				  .max_inflight = PAGE + 1,
				  .connect_timeout_s = cfg->db_connect_timeout_seconds,
				  .reconnect_max_s = cfg->db_reconnect_max_seconds,
				  .batch_timeout_s = 30,
				  .pooler = (enum pgw_pooler)cfg->db_pooler};
	w = r.base ? pgw_new(r.base, cfg->database_url, &opt) : NULL;
	items = calloc(PAGE, sizeof *items);
	if (!w || !items) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (int tries = 0; !pgw_ready(w) && tries < 100; tries++) {
		struct timeval tick = {0, 50000};
		event_base_loopexit(r.base, &tick);
		event_base_dispatch(r.base);
	}
	if (!pgw_ready(w)) {
		snprintf(err, errlen, "the writer could not connect to PostgreSQL");
		goto done;
	}

	for (;;) {
		PGresult *res = fetch(pg, f, after);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
			snprintf(err, errlen, "%s", msg ? msg : PQerrorMessage(pg));
			PQclear(res);
			goto done;
		}
		int n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			struct item *it = &items[i];
			struct intake_error ie;
			const char *payload = PQgetvalue(res, i, 2);
			const struct platform *p =
				platform_find(PQgetvalue(res, i, 1), strlen(PQgetvalue(res, i, 1)));
			after = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			rows_reset(&it->m);
			memset(&it->w, 0, sizeof it->w);
			total++;
			if (!p || intake_map_source(p, PQgetvalue(res, i, 4), payload,
						    strlen(payload), &it->m, &ie) < 0) {
				refused++;
				continue;
			}
			snprintf(it->received_at, sizeof it->received_at, "%s",
				 PQgetvalue(res, i, 3));
			snprintf(it->platform, sizeof it->platform, "%s", p->slug);
			it->w.platform = it->platform;
			snprintf(it->source, sizeof it->source, "%s", PQgetvalue(res, i, 4));
			it->w.source = it->source;
			it->w.dedupe_key = it->m.dedupe_key;
			it->w.received_at = it->received_at;
			it->w.payload = payload;
			it->w.mapped = &it->m;
			it->w.replay_id = after;
			it->w.done = on_done;
			it->w.arg = &r;
			if (pgw_submit(w, &it->w) == 0)
				r.pending++;
			else
				r.unavailable++;
		}
		if (r.pending > 0)
			event_base_dispatch(r.base);
		PQclear(res);
		if (r.unavailable > 0) {
			snprintf(err, errlen,
				 "the database became unavailable; replay again to finish");
			goto done;
		}
		if (n < PAGE)
			break;
	}
	printf("replayed %ld events: %ld mapped, %ld unmapped, %ld failed, %ld unreadable\n", total,
	       r.counts[MAP_MAPPED], r.counts[MAP_UNMAPPED], r.counts[MAP_FAILED], refused);
	rc = 0;
done:
	for (int i = 0; items && i < PAGE; i++)
		rows_free(&items[i].m);
	free(items);
	pgw_free(&w);
	if (r.base)
		event_base_free(r.base);
	PQfinish(pg);
	return rc;
}
