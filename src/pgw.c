/* pgw — asynchronous group-commit writer over libpq pipeline mode (see pgw.h DESIGN). */
#include "pgw.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

/* ---- statements ---- */

enum stmt { ST_EVENT, ST_REPLAY, ST_TRANSCRIPT, ST_ROW0 /* + enum row_table */ };
#define NSTMTS (ST_ROW0 + TBL_COUNT)

static const char event_sql[] =
	"INSERT INTO callbridge.webhook_events AS t"
	" (platform, dedupe_key, event_type, occurred_at, received_at, payload, status, error,"
	"  last_received_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $5)"
	" ON CONFLICT (platform, dedupe_key) DO UPDATE"
	" SET delivery_count = t.delivery_count + $9::integer,"
	"     last_received_at = EXCLUDED.last_received_at"
	" RETURNING id, t.xmax = 0, status"; /* xmax = 0: inserted, not updated */

static const char replay_sql[] =
	"UPDATE callbridge.webhook_events"
	" SET event_type = COALESCE($3, event_type), occurred_at = COALESCE($4::timestamptz, occurred_at),"
	"     status = $5, error = $6"
	" WHERE id = $1::bigint AND platform = $2"
	" RETURNING id, true, status";

static const char transcript_sql[] =
	"SELECT callbridge.put_transcript($1::text, $2::text, $3::timestamptz, $4::jsonb)";

static const char *const type_casts[] = {
	[COL_TEXT] = "text",    [COL_TS] = "timestamptz", [COL_NUM] = "numeric",
	[COL_BOOL] = "boolean", [COL_JSONB] = "jsonb",    [COL_TEXTARR] = "text[]",
};

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return;
		b->p = p;
		b->cap = cap;
	}
}

/* Builds the merge upsert of one table from its spec. Parameters: $1 platform, $2 event
 * time, then the spec's columns. A NULL column never overwrites; an event newer than the
 * row's time column wins, an older one only fills NULLs; jsonb objects merge by key. */
static char *upsert_sql(const struct row_spec *s)
{
	struct sbuf b = {0};
	const char *newer = NULL;
	sb_add(&b, "INSERT INTO %s AS t (platform, %s", s->table, s->time_col);
	for (int i = 0; i < s->ncols; i++)
		sb_add(&b, ", %s", s->cols[i]);
	if (s->via_call) {
		sb_add(&b, ") SELECT $1::text, $2::timestamptz, c.id");
		for (int i = 1; i < s->ncols; i++)
			sb_add(&b, ", $%d::%s", i + 3, type_casts[s->types[i]]);
		sb_add(&b,
		       " FROM callbridge.calls c WHERE c.platform = $1::text AND c.external_id = "
		       "$3::text");
	} else {
		sb_add(&b, ") VALUES ($1::text, $2::timestamptz");
		for (int i = 0; i < s->ncols; i++)
			sb_add(&b, ", $%d::%s", i + 3, type_casts[s->types[i]]);
		sb_add(&b, ")");
	}
	sb_add(&b, " ON CONFLICT (%s) DO UPDATE SET ", s->conflict);
	char cond[160];
	snprintf(cond, sizeof cond, "(t.%s IS NULL OR EXCLUDED.%s > t.%s)", s->time_col,
		 s->time_col, s->time_col);
	newer = cond;
	for (int i = s->nkeys; i < s->ncols; i++) {
		const char *c = s->cols[i];
		if (s->types[i] == COL_JSONB)
			sb_add(&b,
			       "%s = CASE WHEN EXCLUDED.%s IS NULL THEN t.%s WHEN t.%s IS NULL THEN "
			       "EXCLUDED.%s WHEN %s THEN t.%s || EXCLUDED.%s ELSE EXCLUDED.%s || t.%s "
			       "END, ",
			       c, c, c, c, c, newer, c, c, c, c);
		else
			sb_add(&b,
			       "%s = CASE WHEN %s THEN COALESCE(EXCLUDED.%s, t.%s) ELSE COALESCE(t.%s, "
			       "EXCLUDED.%s) END, ",
			       c, newer, c, c, c, c);
	}
	sb_add(&b, "%s = GREATEST(t.%s, EXCLUDED.%s)", s->time_col, s->time_col, s->time_col);
	return b.p;
}

static char stmt_names[NSTMTS][16];
static char *stmt_sql[NSTMTS];

static int stmts_init(void)
{
	if (stmt_sql[ST_EVENT])
		return 0;
	for (int i = 0; i < NSTMTS; i++)
		snprintf(stmt_names[i], sizeof stmt_names[i], "cb%d", i);
	stmt_sql[ST_EVENT] = strdup(event_sql);
	stmt_sql[ST_REPLAY] = strdup(replay_sql);
	stmt_sql[ST_TRANSCRIPT] = strdup(transcript_sql);
	for (int t = 0; t < TBL_COUNT; t++)
		stmt_sql[ST_ROW0 + t] = upsert_sql(rows_spec((enum row_table)t));
	for (int i = 0; i < NSTMTS; i++)
		if (!stmt_sql[i])
			return -1;
	return 0;
}

/* ---- connections ---- */

enum conn_state { CS_DOWN, CS_CONNECTING, CS_IDLE, CS_BUSY };
enum phase { PH_PREPARE, PH_EVENTS, PH_ROWS, PH_ROLLBACK };
enum role { R_PREPARE, R_BEGIN, R_EVENT, R_ROW, R_COMMIT, R_ROLLBACK, R_SYNC };

/* One expected answer in the pipeline, in send order. */
struct item {
	enum role role;
	int d; /* index in the batch, or -1 */
};

struct conn {
	struct pgw *w;
	int id;
	PGconn *pg;
	enum conn_state state;
	enum phase phase;
	struct event *io;    /* connect polling (one-shot) or reads (persistent) */
	struct event *wio;   /* pending output */
	struct event *timer; /* connect timeout, reconnect backoff or batch timeout */
	int backoff_ms;

	struct pgw_delivery **batch;
	int nbatch;
	struct item *items;
	int nitems, cursor, cap;

	int err_item; /* first failed item, or -1 */
	char err_state[6];
	char err_msg[300];
};

struct pgw {
	struct event_base *base;
	char *conninfo;
	struct pgw_options opt;
	struct conn *conns;
	struct pgw_delivery *head, *tail;
	int inflight;
	struct pgw_stats stats;
};

static void conn_connect(struct conn *c);
static void conn_lost(struct conn *c, const char *why);
static void pgw_kick(struct pgw *w);

static bool conn_ready(const struct conn *c)
{
	return c->state == CS_IDLE || (c->state == CS_BUSY && c->phase != PH_PREPARE);
}

bool pgw_ready(const struct pgw *w)
{
	for (int i = 0; i < w->opt.connections; i++)
		if (conn_ready(&w->conns[i]))
			return true;
	return false;
}

void pgw_get_stats(const struct pgw *w, struct pgw_stats *out)
{
	*out = w->stats;
	out->up = pgw_ready(w);
	out->inflight = w->inflight;
}

/* Reports d's outcome. d belongs to its submitter again afterwards. */
static void finish(struct pgw *w, struct pgw_delivery *d, enum pgw_outcome outcome)
{
	d->outcome = outcome;
	d->next = NULL;
	w->inflight--;
	d->done(d);
}

static void fail_queue(struct pgw *w)
{
	while (w->head) {
		struct pgw_delivery *d = w->head;
		w->head = d->next;
		finish(w, d, PGW_UNAVAILABLE);
	}
	w->tail = NULL;
}

static void arm_timer(struct conn *c, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
}

static bool add_item(struct conn *c, enum role role, int d)
{
	if (c->nitems == c->cap) {
		int cap = c->cap ? c->cap * 2 : 64;
		struct item *p = realloc(c->items, (size_t)cap * sizeof *p);
		if (!p)
			return false;
		c->items = p;
		c->cap = cap;
	}
	c->items[c->nitems++] = (struct item){role, d};
	return true;
}

static void reset_items(struct conn *c)
{
	c->nitems = 0;
	c->cursor = 0;
	c->err_item = -1;
	c->err_state[0] = '\0';
	c->err_msg[0] = '\0';
}

/* Sends what libpq has buffered; waits for writability when the socket is full. */
static void conn_flush(struct conn *c)
{
	int r = PQflush(c->pg);
	if (r < 0)
		conn_lost(c, PQerrorMessage(c->pg));
	else if (r > 0)
		event_add(c->wio, NULL);
}

static bool send_simple(struct conn *c, const char *sql, enum role role)
{
	return PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0) && add_item(c, role, -1);
}

static bool send_sync(struct conn *c)
{
	return PQpipelineSync(c->pg) && add_item(c, R_SYNC, -1);
}

/* Moves the batch back to the front of the queue, in order. */
static void requeue_batch(struct conn *c)
{
	struct pgw *w = c->w;
	for (int i = c->nbatch; i-- > 0;) {
		struct pgw_delivery *d = c->batch[i];
		if (!d)
			continue;
		d->next = w->head;
		w->head = d;
		if (!w->tail)
			w->tail = d;
	}
	c->nbatch = 0;
}

static void start_rollback(struct conn *c)
{
	reset_items(c);
	c->phase = PH_ROLLBACK;
	if (!send_simple(c, "ROLLBACK", R_ROLLBACK) || !send_sync(c)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	conn_flush(c);
}

static const char *status_text(const struct pgw_delivery *d)
{
	static const char *const names[] = {"mapped", "unmapped", "failed"};
	return d->db_failed ? "failed" : names[d->mapped->status];
}

static void start_batch(struct conn *c)
{
	struct pgw *w = c->w;
	int n = 0;
	while (w->head && n < w->opt.batch_max) {
		struct pgw_delivery *d = w->head;
		w->head = d->next;
		d->next = NULL;
		d->fresh = false;
		c->batch[n++] = d;
	}
	if (!w->head)
		w->tail = NULL;
	c->nbatch = n;
	c->state = CS_BUSY;
	c->phase = PH_EVENTS;
	reset_items(c);
	bool ok = send_simple(c, "BEGIN", R_BEGIN);
	for (int i = 0; ok && i < n; i++) {
		struct pgw_delivery *d = c->batch[i];
		const struct mapped *m = d->mapped;
		const char *error = d->db_failed ? d->detail : m->error;
		const char *vals[9] = {d->platform,    d->dedupe_key,  m->event_type,
				       m->occurred_at, d->received_at, d->payload,
				       status_text(d), error,          d->maybe_stored ? "0" : "1"};
		char id[24];
		if (d->replay_id > 0) {
			snprintf(id, sizeof id, "%lld", d->replay_id);
			const char *rv[6] = {
				id,   d->platform, m->event_type, m->occurred_at, status_text(d),
				error};
			ok = PQsendQueryPrepared(c->pg, stmt_names[ST_REPLAY], 6, rv, NULL, NULL,
						 0);
		} else {
			ok = PQsendQueryPrepared(c->pg, stmt_names[ST_EVENT], 9, vals, NULL, NULL,
						 0);
		}
		ok = ok && add_item(c, R_EVENT, i);
	}
	ok = ok && send_sync(c);
	if (!ok) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	arm_timer(c, w->opt.batch_timeout_s * 1000);
	conn_flush(c);
}

static void send_rows(struct conn *c)
{
	c->phase = PH_ROWS;
	reset_items(c);
	bool ok = true;
	for (int i = 0; ok && i < c->nbatch; i++) {
		struct pgw_delivery *d = c->batch[i];
		const struct mapped *m = d->mapped;
		if (!d->fresh || d->db_failed || m->status != MAP_MAPPED)
			continue;
		const char *when = m->occurred_at ? m->occurred_at : d->received_at;
		for (int r = 0; ok && r < m->nrows; r++) {
			const struct row *row = &m->rows[r];
			const struct row_spec *s = rows_spec(row->table);
			const char *vals[ROW_MAXCOLS + 2];
			vals[0] = d->platform;
			vals[1] = when;
			memcpy(vals + 2, row->v, (size_t)s->ncols * sizeof vals[0]);
			ok = PQsendQueryPrepared(c->pg, stmt_names[ST_ROW0 + row->table],
						 s->ncols + 2, vals, NULL, NULL, 0) &&
			     add_item(c, R_ROW, i);
		}
		const struct transcript *t = &m->transcript;
		if (ok && t->call_external_id && t->json) {
			const char *vals[4] = {d->platform, t->call_external_id, when, t->json};
			ok = PQsendQueryPrepared(c->pg, stmt_names[ST_TRANSCRIPT], 4, vals, NULL,
						 NULL, 0) &&
			     add_item(c, R_ROW, i);
		}
	}
	ok = ok && send_simple(c, "COMMIT", R_COMMIT) && send_sync(c);
	if (!ok) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	conn_flush(c);
}

/* A data error is caused by one delivery's content, not by the database's state. */
static bool data_error(const char *sqlstate)
{
	return !strncmp(sqlstate, "22", 2) || !strncmp(sqlstate, "23", 2) ||
	       !strncmp(sqlstate, "54", 2);
}

/* Retries the batch after a transient error, giving up on deliveries tried thrice. */
static void retry_or_give_up(struct conn *c)
{
	log_warn("batch failed, retrying", "sqlstate", c->err_state, "error", c->err_msg);
	for (int i = 0; i < c->nbatch; i++) {
		struct pgw_delivery *d = c->batch[i];
		if (++d->attempts >= 3) {
			c->batch[i] = NULL;
			finish(c->w, d, PGW_UNAVAILABLE);
		}
	}
	requeue_batch(c);
}

static void segment_done(struct conn *c)
{
	struct pgw *w = c->w;
	const struct item *bad = c->err_item >= 0 ? &c->items[c->err_item] : NULL;

	switch (c->phase) {
	case PH_PREPARE:
		if (bad) {
			conn_lost(c, c->err_msg);
			return;
		}
		c->state = CS_IDLE;
		c->backoff_ms = 0;
		char id[12];
		snprintf(id, sizeof id, "%d", c->id);
		log_notice("database connected", "connection", id);
		break;
	case PH_EVENTS:
		evtimer_del(c->timer);
		if (!bad) {
			arm_timer(c, w->opt.batch_timeout_s * 1000);
			send_rows(c);
			return;
		}
		if (bad->role == R_EVENT && data_error(c->err_state)) {
			struct pgw_delivery *d = c->batch[bad->d];
			c->batch[bad->d] = NULL;
			snprintf(d->detail, sizeof d->detail, "%s", c->err_msg);
			log_warn("event refused by the database", "platform", d->platform,
				 "dedupe_key", d->dedupe_key, "sqlstate", c->err_state, "error",
				 c->err_msg);
			finish(w, d, PGW_REJECTED);
			requeue_batch(c);
		} else {
			retry_or_give_up(c);
		}
		start_rollback(c);
		return;
	case PH_ROWS:
		evtimer_del(c->timer);
		if (!bad) {
			w->stats.batches++;
			w->stats.batched += (uint64_t)c->nbatch;
			int b = 0;
			while (b < PGW_BATCH_BUCKETS && c->nbatch > (1 << b))
				b++;
			w->stats.batch_hist[b]++;
			for (int i = 0; i < c->nbatch; i++)
				finish(w, c->batch[i],
				       c->batch[i]->fresh ? PGW_STORED : PGW_DUPLICATE);
			c->nbatch = 0;
			c->state = CS_IDLE;
			break;
		}
		if (bad->role == R_ROW && data_error(c->err_state)) {
			struct pgw_delivery *d = c->batch[bad->d];
			d->db_failed = true;
			snprintf(d->detail, sizeof d->detail, "%s", c->err_msg);
			log_warn("rows refused by the database; storing the event as failed",
				 "platform", d->platform, "dedupe_key", d->dedupe_key, "sqlstate",
				 c->err_state, "error", c->err_msg);
			requeue_batch(c);
		} else {
			retry_or_give_up(c);
		}
		start_rollback(c);
		return;
	case PH_ROLLBACK:
		c->state = CS_IDLE;
		break;
	}
	pgw_kick(w);
}

static void take_result(struct conn *c, const struct item *it, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_FATAL_ERROR && c->err_item < 0) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		c->err_item = (int)(it - c->items);
		snprintf(c->err_state, sizeof c->err_state, "%s", state ? state : "XX000");
		snprintf(c->err_msg, sizeof c->err_msg, "%s", msg ? msg : PQresultErrorMessage(r));
		return;
	}
	if (it->role == R_EVENT && st == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		struct pgw_delivery *d = c->batch[it->d];
		const char *s = PQgetvalue(r, 0, 2);
		d->event_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		d->fresh = PQgetvalue(r, 0, 1)[0] == 't';
		d->stored_status = !strcmp(s, "mapped")     ? MAP_MAPPED
				   : !strcmp(s, "unmapped") ? MAP_UNMAPPED
							    : MAP_FAILED;
	}
}

/* Reads every answer that has fully arrived, in pipeline order. */
static void conn_process(struct conn *c)
{
	while (c->cursor < c->nitems) {
		if (PQisBusy(c->pg))
			return;
		const struct item *it = &c->items[c->cursor];
		PGresult *r = PQgetResult(c->pg);
		if (it->role == R_SYNC) {
			if (!r)
				return;
			ExecStatusType st = PQresultStatus(r);
			PQclear(r);
			if (st != PGRES_PIPELINE_SYNC) {
				conn_lost(c, "unexpected answer in pipeline");
				return;
			}
			c->cursor++;
			if (c->cursor == c->nitems) {
				segment_done(c);
				return;
			}
			continue;
		}
		if (!r) {
			c->cursor++; /* end of this statement's answers */
			continue;
		}
		take_result(c, it, r);
		PQclear(r);
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	if (!PQconsumeInput(c->pg)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	conn_process(c);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_flush(arg);
}

static void on_connected(struct conn *c)
{
	struct pgw *w = c->w;
	evtimer_del(c->timer);
	event_free(c->io);
	c->io = NULL;
	if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	int fd = PQsocket(c->pg);
	c->io = event_new(w->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	c->wio = event_new(w->base, fd, EV_WRITE, on_writable, c);
	if (!c->io || !c->wio) {
		conn_lost(c, "out of memory");
		return;
	}
	event_add(c->io, NULL);
	c->state = CS_BUSY;
	c->phase = PH_PREPARE;
	reset_items(c);
	bool ok = true;
	for (int i = 0; ok && i < NSTMTS; i++)
		ok = PQsendPrepare(c->pg, stmt_names[i], stmt_sql[i], 0, NULL) &&
		     add_item(c, R_PREPARE, -1);
	if (!ok || !send_sync(c)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	conn_flush(c);
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg);

static void poll_connect(struct conn *c)
{
	PostgresPollingStatusType st = PQconnectPoll(c->pg);
	if (st == PGRES_POLLING_OK) {
		on_connected(c);
		return;
	}
	if (st == PGRES_POLLING_FAILED) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	/* The socket can change between attempts (several hosts, SSL fallback). */
	if (c->io)
		event_free(c->io);
	c->io = event_new(c->w->base, PQsocket(c->pg),
			  st == PGRES_POLLING_READING ? EV_READ : EV_WRITE, on_connect_io, c);
	if (!c->io) {
		conn_lost(c, "out of memory");
		return;
	}
	event_add(c->io, NULL);
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_connect(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	if (c->state == CS_DOWN)
		conn_connect(c);
	else if (c->state == CS_CONNECTING)
		conn_lost(c, "connection attempt timed out");
	else
		conn_lost(c, "database did not answer in time");
}

static void conn_connect(struct conn *c)
{
	struct pgw *w = c->w;
	const char *keys[] = {"application_name", "dbname", NULL};
	const char *vals[] = {"callbridge", w->conninfo, NULL};
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	c->state = CS_CONNECTING;
	arm_timer(c, w->opt.connect_timeout_s * 1000);
	poll_connect(c);
}

/* Closes the connection, reports its batch unavailable and schedules a reconnect. */
static void conn_lost(struct conn *c, const char *why)
{
	struct pgw *w = c->w;
	bool was_ready = conn_ready(c);
	char reason[300];
	snprintf(reason, sizeof reason, "%s", why ? why : "");
	reason[strcspn(reason, "\n")] = '\0';

	if (c->io)
		event_free(c->io);
	if (c->wio)
		event_free(c->wio);
	c->io = c->wio = NULL;
	evtimer_del(c->timer);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	c->state = CS_DOWN;
	for (int i = 0; i < c->nbatch; i++) {
		if (!c->batch[i])
			continue;
		c->batch[i]->commit_unknown = c->phase == PH_ROWS;
		finish(w, c->batch[i], PGW_UNAVAILABLE);
	}
	c->nbatch = 0;
	reset_items(c);

	if (was_ready)
		log_error("database connection lost", "error", reason);
	else if (c->backoff_ms == 0 || log_enabled(LOG_DEBUG))
		log_warn("cannot connect to the database", "error", reason);
	if (!pgw_ready(w))
		fail_queue(w);

	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
	if (c->backoff_ms > w->opt.reconnect_max_s * 1000)
		c->backoff_ms = w->opt.reconnect_max_s * 1000;
	w->stats.reconnects++;
	arm_timer(c, c->backoff_ms);
}

static void pgw_kick(struct pgw *w)
{
	for (int i = 0; w->head && i < w->opt.connections; i++)
		if (w->conns[i].state == CS_IDLE)
			start_batch(&w->conns[i]);
}

int pgw_submit(struct pgw *w, struct pgw_delivery *d)
{
	if (!pgw_ready(w))
		return -1;
	if (w->inflight >= w->opt.max_inflight)
		return -2;
	d->next = NULL;
	d->fresh = d->db_failed = d->commit_unknown = false;
	d->attempts = 0;
	d->detail[0] = '\0';
	if (w->tail)
		w->tail->next = d;
	else
		w->head = d;
	w->tail = d;
	w->inflight++;
	pgw_kick(w);
	return 0;
}

struct pgw *pgw_new(struct event_base *base, const char *conninfo, const struct pgw_options *opt)
{
	struct pgw *w = calloc(1, sizeof *w);
	if (!w || stmts_init() < 0)
		goto fail;
	w->base = base;
	w->opt = *opt;
	w->conninfo = strdup(conninfo);
	w->conns = calloc((size_t)opt->connections, sizeof *w->conns);
	if (!w->conninfo || !w->conns)
		goto fail;
	for (int i = 0; i < opt->connections; i++) {
		struct conn *c = &w->conns[i];
		c->w = w;
		c->id = i;
		c->err_item = -1;
		c->batch = calloc((size_t)opt->batch_max, sizeof *c->batch);
		c->timer = evtimer_new(base, on_timer, c);
		if (!c->batch || !c->timer)
			goto fail;
		conn_connect(c);
	}
	return w;
fail:
	pgw_free(&w);
	return NULL;
}

void pgw_free(struct pgw **wp)
{
	struct pgw *w = *wp;
	if (!w)
		return;
	for (int i = 0; w->conns && i < w->opt.connections; i++) {
		struct conn *c = &w->conns[i];
		if (c->io)
			event_free(c->io);
		if (c->wio)
			event_free(c->wio);
		if (c->timer)
			event_free(c->timer);
		if (c->pg)
			PQfinish(c->pg);
		for (int k = 0; k < c->nbatch; k++) {
			if (!c->batch[k])
				continue;
			c->batch[k]->commit_unknown = c->state == CS_BUSY && c->phase == PH_ROWS;
			finish(w, c->batch[k], PGW_UNAVAILABLE);
		}
		free(c->batch);
		free(c->items);
	}
	fail_queue(w);
	free(w->conns);
	free(w->conninfo);
	free(w);
	*wp = NULL;
}
