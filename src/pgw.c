/* pgw — asynchronous group-commit writer over libpq pipeline mode (see pgw.h DESIGN):
 * connections, the pipeline, batch scheduling, deadlines and answers. The statements'
 * text, their array parameters and the key order of rows are batchsql's. */
#include "pgw.h"
#include "migrate.h"
#include "batchsql.h"
#include "pghosts.h"
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

/* ---- connections ---- */

enum conn_state { CS_DOWN, CS_CONNECTING, CS_IDLE, CS_BUSY };
enum phase { PH_PREPARE, PH_EVENTS, PH_ROWS, PH_ROLLBACK };
/* R_EVENT and R_ROW belong to one delivery, R_EVENTS and R_ROWS to the whole batch. */
enum role {
	R_SCHEMA,
	R_PREPARE,
	R_BEGIN,
	R_EVENT,
	R_EVENTS,
	R_DUPLICATE,
	R_ROW,
	R_ROWS,
	R_COMMIT,
	R_ROLLBACK,
	R_SYNC
};

/* One expected answer in the pipeline, in send order. */
struct item {
	enum role role;
	int d; /* index in the batch, or -1 */
};

/* The most parameters of one statement: a row's columns, platform, event time, clear
 * mask and source (batchsql_row_nparams). */
#define PGW_MAXPARAMS (ROW_MAXCOLS + 4)

struct conn {
	struct pgw *w;
	int id;
	PGconn *pg;
	enum conn_state state;
	enum phase phase;
	struct event *io;    /* connect polling (one-shot) or reads (persistent) */
	struct event *wio;   /* pending output */
	struct event *timer; /* connect timeout, reconnect backoff or batch timeout */
	struct event *due;   /* the commit deadline of the batch's first delivery due */
	int backoff_ms;

	struct pgw_delivery **batch; /* sorted by event key; NULL: left at its deadline */
	int nbatch;
	int nlive;          /* entries of batch not NULL */
	int64_t started_ms; /* when this batch was sent */
	bool many;          /* this batch is written with the array statements */
	int matched;        /* deliveries named by the answer of BATCHSQL_EVENTS */
	struct item *items;
	int nitems, cursor, cap;

	/* Scratch for the array statements, kept from batch to batch. */
	struct batchsql_array arr[PGW_MAXPARAMS];
	struct batchsql_ref *refs; /* batch_max * ROWS_MAX: the rows of one table, to sort */

	int err_item; /* first failed item, or -1 */
	char err_state[6];
	char err_msg[300];
};

/* A delivery's source: "default" unless it names one. */
static const char *src_of(const struct pgw_delivery *d)
{
	return d->source ? d->source : "default";
}

struct pgw {
	struct event_base *base;
	struct pghosts hosts; /* DATABASE_URL, with failover across its hosts */
	struct pgw_options opt;
	struct conn *conns;
	struct pgw_delivery *head, *tail; /* the queue, in submission order */
	uint64_t seq;                     /* of the next submission */
	int inflight;
	struct event *kick; /* starts a batch once the one in flight is late */
	struct event *due;  /* the commit deadline of the queue's head */
	int deadline_ms;    /* 0: none */
	struct pgw_stats stats;
	struct batchsql_stmts stmts; /* prepared on every connection, unless unnamed */
	bool unnamed;                /* statements sent unnamed: a transaction-mode pooler */
	int64_t down_since_ms;       /* when the last ready connection went; 0: one is ready */
	int64_t down_logged_ms;      /* when "still cannot connect" was last logged */
};

const double pgw_commit_le_s[PGW_COMMIT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
						    0.1,   0.25,   0.5,   1,    2.5,   10};

static void conn_connect(struct conn *c);
static void conn_up(struct conn *c);
static void conn_lost(struct conn *c, const char *why);
static void pgw_kick(struct pgw *w);

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	out->unnamed = w->unnamed;
	out->down_ms = out->up || !w->down_since_ms ? 0 : now_ms() - w->down_since_ms;
}

/* Sends statement st: prepared by name, or unnamed (parsed with each execution) where
 * server connections are shared by a pooler. */
static bool send_stmt(struct conn *c, enum batchsql_stmt st, int n, const char *const *vals,
		      const int *lens, const int *fmts)
{
	if (c->w->unnamed)
		return PQsendQueryParams(c->pg, c->w->stmts.sql[st], n, NULL, vals, lens, fmts, 0);
	return PQsendQueryPrepared(c->pg, c->w->stmts.name[st], n, vals, lens, fmts, 0);
}

/* A named statement of ours missing (26000) or found already there (42P05) on a new
 * connection: the server connection is not ours alone — a pooler in transaction mode
 * hands it to others between transactions. From then on statements go unnamed. */
static void pooler_evidence(struct pgw *w, const char *sqlstate)
{
	if (w->unnamed || w->opt.pooler != PGW_POOLER_AUTO ||
	    (strcmp(sqlstate, "26000") && strcmp(sqlstate, "42P05")))
		return;
	w->unnamed = true;
	log_warn("the database connection is shared (a transaction-mode pooler?): statements "
		 "are sent unnamed from now on; set CALLBRIDGE_DB_POOLER=transaction to start so",
		 "sqlstate", sqlstate);
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

/* Sets a deadline timer to fire at due_ms (now_ms()'s clock). */
static void arm_due(struct event *ev, int64_t due_ms)
{
	int64_t ms = due_ms - now_ms();
	if (ms < 0)
		ms = 0;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ev, &tv);
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
	c->matched = 0;
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

/* The batch is over (committed, handed back or retried): its deadline goes with it. */
static void clear_batch(struct conn *c)
{
	c->nbatch = c->nlive = 0;
	evtimer_del(c->due);
}

static int seq_cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct pgw_delivery *const *)a)->seq;
	uint64_t y = (*(struct pgw_delivery *const *)b)->seq;
	return (x > y) - (x < y);
}

/* Puts the batch's deliveries back into the queue, each at its place in submission
 * order: the queue's head then stays the delivery due first (one deadline timer for the
 * whole queue), and a retried delivery keeps its turn. A merge: retries are rare. */
static void requeue_batch(struct conn *c)
{
	struct pgw *w = c->w;
	int n = 0;
	for (int i = 0; i < c->nbatch; i++)
		if (c->batch[i])
			c->batch[n++] = c->batch[i];
	qsort(c->batch, (size_t)n, sizeof *c->batch, seq_cmp);
	struct pgw_delivery *head = NULL, **link = &head, *q = w->head, *last = NULL;
	for (int i = 0; i < n || q;) {
		if (q && (i == n || q->seq < c->batch[i]->seq)) {
			last = q;
			q = q->next;
		} else {
			last = c->batch[i++];
		}
		*link = last;
		link = &last->next;
	}
	*link = NULL;
	w->head = head;
	w->tail = last;
	clear_batch(c);
	if (w->head && w->deadline_ms > 0)
		arm_due(w->due, w->head->due_ms);
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

/* The batch's lock order (see batchsql.h): by event key, then in submission order, so
 * that a sender's repeat comes after its first. */
static int event_cmp(const void *a, const void *b)
{
	const struct pgw_delivery *x = *(struct pgw_delivery *const *)a;
	const struct pgw_delivery *y = *(struct pgw_delivery *const *)b;
	int d = batchsql_key_cmp(x->platform, y->platform);
	if (d == 0)
		d = batchsql_key_cmp(src_of(x), src_of(y));
	if (d == 0)
		d = batchsql_key_cmp(x->dedupe_key, y->dedupe_key);
	return d != 0 ? d : seq_cmp(a, b);
}

/* Sends a prepared statement whose n parameters are the arrays c->arr[0..n-1]. */
static bool send_arrays(struct conn *c, enum batchsql_stmt st, int n, enum role role)
{
	const char *vals[PGW_MAXPARAMS] = {0};
	int lens[PGW_MAXPARAMS] = {0}, fmts[PGW_MAXPARAMS] = {0};
	for (int i = 0; i < n; i++) {
		if (c->arr[i].oom)
			return false;
		vals[i] = c->arr[i].p;
		lens[i] = (int)c->arr[i].len;
		fmts[i] = 1;
	}
	bool ok = send_stmt(c, st, n, vals, lens, fmts) && add_item(c, role, -1);
	for (int i = 0; i < n; i++)
		batchsql_array_trim(&c->arr[i]);
	return ok;
}

/* A batch is written with the array statements (a few statements per batch rather than
 * a few per delivery) unless one of its deliveries needs a statement of its own: a
 * replay, one that may be stored already (its count must not grow), one whose batch an
 * array statement failed (so that the error is pinned on the delivery causing it), or
 * a second delivery of the same event (an upsert cannot touch one row twice; the batch
 * is sorted by event key, so the two are neighbours). */
static bool batch_many(const struct conn *c)
{
	for (int i = 0; i < c->nbatch; i++) {
		const struct pgw_delivery *d = c->batch[i];
		if (d->replay_id > 0 || d->maybe_stored || d->row_by_row)
			return false;
		if (i > 0 && !batchsql_key_cmp(d->platform, c->batch[i - 1]->platform) &&
		    !batchsql_key_cmp(src_of(d), src_of(c->batch[i - 1])) &&
		    !batchsql_key_cmp(d->dedupe_key, c->batch[i - 1]->dedupe_key))
			return false;
	}
	return true;
}

static bool send_event(struct conn *c, int i)
{
	const struct pgw_delivery *d = c->batch[i];
	const struct mapped *m = d->mapped;
	const char *error = d->db_failed ? d->detail : m->error;
	bool ok;
	if (d->replay_id > 0) {
		char id[24];
		snprintf(id, sizeof id, "%lld", d->replay_id);
		const char *rv[8] = {
			id,    d->platform,  m->event_type, m->occurred_at, status_text(d),
			error, m->entity_id, d->received_at};
		ok = send_stmt(c, BATCHSQL_REPLAY, 8, rv, NULL, NULL);
	} else {
		const char *vals[10] = {
			d->platform, d->dedupe_key,  m->event_type, m->occurred_at, d->received_at,
			d->payload,  status_text(d), error,         m->entity_id,   src_of(d)};
		ok = send_stmt(c, BATCHSQL_EVENT, 10, vals, NULL, NULL);
	}
	return ok && add_item(c, R_EVENT, i);
}

static bool send_events(struct conn *c)
{
	for (int k = 0; k < BATCHSQL_EVENTS_NPARAMS; k++)
		batchsql_array_begin(&c->arr[k]);
	for (int i = 0; i < c->nbatch; i++) {
		const struct pgw_delivery *d = c->batch[i];
		const struct mapped *m = d->mapped;
		const char *vals[BATCHSQL_EVENTS_NPARAMS] = {
			d->platform,    d->dedupe_key,
			m->event_type,  m->occurred_at,
			d->received_at, d->payload,
			status_text(d), d->db_failed ? d->detail : m->error,
			m->entity_id,   src_of(d)};
		for (int k = 0; k < BATCHSQL_EVENTS_NPARAMS; k++)
			batchsql_array_add(&c->arr[k], vals[k]);
	}
	for (int k = 0; k < BATCHSQL_EVENTS_NPARAMS; k++)
		batchsql_array_end(&c->arr[k]);
	return send_arrays(c, BATCHSQL_EVENTS, BATCHSQL_EVENTS_NPARAMS, R_EVENTS);
}

static void start_batch(struct conn *c)
{
	struct pgw *w = c->w;
	int n = 0;
	int64_t due = w->head ? w->head->due_ms : INT64_MAX; /* the queue's first is due first */
	while (w->head && n < w->opt.batch_max) {
		struct pgw_delivery *d = w->head;
		w->head = d->next;
		d->next = NULL;
		d->fresh = false;
		c->batch[n++] = d;
	}
	if (!w->head)
		w->tail = NULL;
	c->nbatch = c->nlive = n;
	c->started_ms = now_ms();
	c->state = CS_BUSY;
	c->phase = PH_EVENTS;
	qsort(c->batch, (size_t)n, sizeof *c->batch, event_cmp); /* lock order */
	c->many = batch_many(c);
	if (w->deadline_ms > 0)
		arm_due(c->due, due);
	reset_items(c);
	bool ok = send_simple(c, "BEGIN", R_BEGIN);
	if (c->many)
		ok = ok && send_events(c);
	for (int i = 0; ok && !c->many && i < n; i++)
		ok = send_event(c, i);
	ok = ok && send_sync(c);
	if (!ok) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	arm_timer(c, w->opt.batch_timeout_s * 1000);
	conn_flush(c);
}

/* Whether d's mapped rows are written in this batch. */
static bool writes_rows(const struct pgw_delivery *d)
{
	return d->fresh && !d->db_failed && d->mapped->status == MAP_MAPPED;
}

static const char *event_time(const struct pgw_delivery *d)
{
	return d->mapped->occurred_at ? d->mapped->occurred_at : d->received_at;
}

static bool send_row(struct conn *c, int i, const struct row *row)
{
	const struct pgw_delivery *d = c->batch[i];
	const struct row_spec *s = rows_spec(row->table);
	const char *vals[PGW_MAXPARAMS];
	char clear[ROW_MAXCOLS + 1];
	vals[0] = d->platform;
	vals[1] = event_time(d);
	memcpy(vals + 2, row->v, (size_t)s->ncols * sizeof vals[0]);
	vals[s->ncols + 2] = rows_clear_text(row, clear); /* sent only when s->clears */
	int n = batchsql_row_nparams(s);
	vals[n - 1] = src_of(d); /* last, after the mask when there is one */
	return send_stmt(c, BATCHSQL_ROW0 + row->table, n, vals, NULL, NULL) &&
	       add_item(c, R_ROW, i);
}

/* Steps (*i, *r) to the batch's next row of table t to be written; false past the end.
 * Start with *i = 0, *r = -1. Called only while no delivery has left the batch (rows are
 * sent only then). */
static bool next_row(const struct conn *c, enum row_table t, int *i, int *r)
{
	for (; *i < c->nbatch; (*i)++, *r = -1) {
		const struct pgw_delivery *d = c->batch[*i];
		if (!writes_rows(d))
			continue;
		while (++*r < d->mapped->nrows)
			if (d->mapped->rows[*r].table == t)
				return true;
	}
	return false;
}

/* Writes the batch's rows of table t in key order: with one array statement when the
 * batch is written that way and their keys are all distinct, else one statement per
 * row. */
static bool send_table(struct conn *c, enum row_table t)
{
	const struct row_spec *s = rows_spec(t);
	int n = 0;
	for (int i = 0, r = -1; next_row(c, t, &i, &r); n++) {
		const struct row *row = &c->batch[i]->mapped->rows[r];
		c->refs[n] = (struct batchsql_ref){{c->batch[i]->platform, src_of(c->batch[i]),
						    row->v[0], s->nkeys > 1 ? row->v[1] : NULL},
						   i,
						   r};
	}
	if (n == 0)
		return true;
	if (!batchsql_refs_sort(c->refs, n) || !c->many) {
		bool ok = true;
		for (int j = 0; ok && j < n; j++)
			ok = send_row(c, c->refs[j].i,
				      &c->batch[c->refs[j].i]->mapped->rows[c->refs[j].r]);
		return ok;
	}
	int nparams = batchsql_row_nparams(s);
	for (int k = 0; k < nparams; k++)
		batchsql_array_begin(&c->arr[k]);
	for (int j = 0; j < n; j++) {
		const struct pgw_delivery *d = c->batch[c->refs[j].i];
		const struct row *row = &d->mapped->rows[c->refs[j].r];
		char clear[ROW_MAXCOLS + 1];
		batchsql_array_add(&c->arr[0], d->platform);
		batchsql_array_add(&c->arr[1], event_time(d));
		for (int k = 0; k < s->ncols; k++)
			batchsql_array_add(&c->arr[k + 2], row->v[k]);
		if (s->clears)
			batchsql_array_add(&c->arr[s->ncols + 2], rows_clear_text(row, clear));
		batchsql_array_add(&c->arr[nparams - 1], src_of(d));
	}
	for (int k = 0; k < nparams; k++)
		batchsql_array_end(&c->arr[k]);
	return send_arrays(c, (enum batchsql_stmt)(BATCHSQL_ROWS0 + t), nparams, R_ROWS);
}

/* Writes the batch's transcripts, one statement per call, in key order: put_transcript
 * locks the call's row and then its segments. */
static bool send_transcripts(struct conn *c)
{
	int n = 0;
	for (int i = 0; i < c->nbatch; i++) {
		const struct pgw_delivery *d = c->batch[i];
		const struct transcript *t = &d->mapped->transcript;
		if (writes_rows(d) && t->call_external_id && t->json)
			c->refs[n++] = (struct batchsql_ref){
				{d->platform, src_of(d), t->call_external_id, NULL}, i, 0};
	}
	(void)batchsql_refs_sort(c->refs, n); /* one call twice: both run, in the batch's order */
	bool ok = true;
	for (int j = 0; ok && j < n; j++) {
		const struct pgw_delivery *d = c->batch[c->refs[j].i];
		const struct transcript *t = &d->mapped->transcript;
		const char *vals[5] = {d->platform, t->call_external_id, event_time(d), t->json,
				       src_of(d)};
		ok = send_stmt(c, BATCHSQL_TRANSCRIPT, 5, vals, NULL, NULL) &&
		     add_item(c, R_ROW, c->refs[j].i);
	}
	return ok;
}

/* Counts each duplicate delivery of the batch on its stored event and reads that event's
 * status (see batchsql.c, event_sql: why not in the first round trip). In the batch's
 * order, which is the keys' lock order; a delivery that may be stored already (from the
 * spool) is not counted again. */
static bool send_duplicates(struct conn *c)
{
	bool ok = true;
	for (int i = 0; ok && i < c->nbatch; i++) {
		const struct pgw_delivery *d = c->batch[i];
		if (!d || d->fresh || d->replay_id > 0)
			continue;
		const char *vals[6] = {d->platform,
				       src_of(d),
				       d->dedupe_key,
				       d->received_at,
				       d->maybe_stored ? "0" : "1",
				       d->spooled ? "t" : "f"};
		ok = send_stmt(c, BATCHSQL_DUPLICATE, 6, vals, NULL, NULL) &&
		     add_item(c, R_DUPLICATE, i);
	}
	return ok;
}

/* The second round trip: the duplicates' counts, the rows of every table in enum order,
 * then the transcripts (the lock order of DESIGN), then COMMIT. */
static void send_rows(struct conn *c)
{
	c->phase = PH_ROWS;
	reset_items(c);
	bool ok = send_duplicates(c);
	for (int t = 0; ok && t < TBL_COUNT; t++)
		ok = send_table(c, (enum row_table)t);
	ok = ok && send_transcripts(c) && send_simple(c, "COMMIT", R_COMMIT) && send_sync(c);
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

const char *pgw_retry_name(enum pgw_retry r)
{
	static const char *const names[PGW_RETRY_COUNT] = {
		[PGW_RETRY_DEADLOCK] = "deadlock", [PGW_RETRY_SERIALIZATION] = "serialization",
		[PGW_RETRY_DATA] = "data",         [PGW_RETRY_DEADLINE] = "deadline",
		[PGW_RETRY_OTHER] = "other",
	};
	return r >= 0 && r < PGW_RETRY_COUNT ? names[r] : "other";
}

static enum pgw_retry retry_reason(const char *sqlstate)
{
	if (!strcmp(sqlstate, "40P01"))
		return PGW_RETRY_DEADLOCK;
	if (!strcmp(sqlstate, "40001"))
		return PGW_RETRY_SERIALIZATION;
	return PGW_RETRY_OTHER;
}

/* Retries the batch after a transient error, giving up on deliveries tried thrice. */
static void retry_or_give_up(struct conn *c)
{
	log_warn("batch failed, retrying", "sqlstate", c->err_state, "error", c->err_msg);
	c->w->stats.retries[retry_reason(c->err_state)]++;
	for (int i = 0; i < c->nbatch; i++) {
		struct pgw_delivery *d = c->batch[i];
		if (d && ++d->attempts >= 3) {
			c->batch[i] = NULL;
			c->nlive--;
			finish(c->w, d, PGW_UNAVAILABLE);
		}
	}
	requeue_batch(c);
}

/* An array statement failed on some delivery's data, or its answer did not name every
 * delivery: the batch is tried again with statements of its own per delivery, which
 * pin an error on the one delivery causing it. Its deliveries keep that mode. */
static void retry_row_by_row(struct conn *c)
{
	log_info("batch refused as a whole; retrying it delivery by delivery", "sqlstate",
		 c->err_state, "error", c->err_msg);
	c->w->stats.retries[PGW_RETRY_DATA]++;
	for (int i = 0; i < c->nbatch; i++)
		if (c->batch[i])
			c->batch[i]->row_by_row = true;
	requeue_batch(c);
}

static void segment_done(struct conn *c)
{
	struct pgw *w = c->w;
	const struct item *bad = c->err_item >= 0 ? &c->items[c->err_item] : NULL;
	if (bad)
		pooler_evidence(w, c->err_state);

	switch (c->phase) {
	case PH_PREPARE:
		if (bad && bad->role == R_SCHEMA) {
			conn_lost(c,
				  "the database schema is older than this build (run `callbridge "
				  "migrate`); deliveries wait in the spool");
			return;
		}
		if (bad && !w->unnamed) {
			conn_lost(c, c->err_msg);
			return;
		}
		conn_up(c);
		break;
	case PH_EVENTS:
		evtimer_del(c->timer);
		if (!bad && c->nlive < c->nbatch) {
			/* Deliveries left at their deadline: their rows cannot be written any
			 * more, so their events must not be committed either. */
			w->stats.retries[PGW_RETRY_DEADLINE]++;
			requeue_batch(c);
			start_rollback(c);
			return;
		}
		if (!bad && c->many && c->matched != c->nbatch) {
			snprintf(c->err_msg, sizeof c->err_msg, "%d of %d deliveries answered",
				 c->matched, c->nbatch);
			retry_row_by_row(c);
			start_rollback(c);
			return;
		}
		if (!bad) {
			arm_timer(c, w->opt.batch_timeout_s * 1000);
			send_rows(c);
			return;
		}
		if (bad->role == R_EVENTS && data_error(c->err_state)) {
			retry_row_by_row(c);
		} else if (bad->role == R_EVENT && data_error(c->err_state)) {
			struct pgw_delivery *d = c->batch[bad->d];
			w->stats.retries[PGW_RETRY_DATA]++;
			if (d) { /* else it has left at its deadline; the spool has it */
				c->batch[bad->d] = NULL;
				c->nlive--;
				snprintf(d->detail, sizeof d->detail, "%s", c->err_msg);
				log_warn("event refused by the database", "platform", d->platform,
					 "dedupe_key", d->dedupe_key, "sqlstate", c->err_state,
					 "error", c->err_msg);
				finish(w, d, PGW_REJECTED);
			}
			requeue_batch(c);
		} else {
			retry_or_give_up(c);
		}
		start_rollback(c);
		return;
	case PH_ROWS:
		evtimer_del(c->timer);
		if (!bad) {
			/* Deliveries that left at their deadline are committed too: their
			 * copies in the spool, marked maybe stored, will find them. */
			w->stats.batches++;
			w->stats.batched += (uint64_t)c->nlive;
			w->stats.row_by_row += !c->many;
			int b = 0;
			while (b < PGW_BATCH_BUCKETS && c->nlive > (1 << b))
				b++;
			w->stats.batch_hist[b]++;
			int64_t took = now_ms() - c->started_ms;
			b = 0;
			while (b < PGW_COMMIT_BUCKETS && (double)took / 1000 > pgw_commit_le_s[b])
				b++;
			w->stats.commit_hist[b]++;
			w->stats.commit_ms_sum += (uint64_t)(took > 0 ? took : 0);
			for (int i = 0; i < c->nbatch; i++) {
				struct pgw_delivery *d = c->batch[i];
				if (d)
					finish(w, d, d->fresh ? PGW_STORED : PGW_DUPLICATE);
			}
			clear_batch(c);
			c->state = CS_IDLE;
			break;
		}
		if (bad->role == R_ROWS && data_error(c->err_state)) {
			retry_row_by_row(c);
		} else if (bad->role == R_ROW && data_error(c->err_state)) {
			struct pgw_delivery *d = c->batch[bad->d];
			w->stats.retries[PGW_RETRY_DATA]++;
			if (d) { /* else it has left at its deadline: the rest go on without it */
				d->db_failed = true;
				snprintf(d->detail, sizeof d->detail, "%s", c->err_msg);
				log_warn(
					"rows refused by the database; storing the event as failed",
					"platform", d->platform, "dedupe_key", d->dedupe_key,
					"sqlstate", c->err_state, "error", c->err_msg);
			}
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

static void read_status(struct pgw_delivery *d, const char *s)
{
	d->stored_status = !strcmp(s, "mapped")     ? MAP_MAPPED
			   : !strcmp(s, "unmapped") ? MAP_UNMAPPED
						    : MAP_FAILED;
}

/* Reads id, inserted (true) or updated, and status from row j of r, from column col on. */
static void read_event(struct pgw_delivery *d, const PGresult *r, int j, int col)
{
	d->event_id = strtoll(PQgetvalue(r, j, col), NULL, 10);
	d->fresh = PQgetvalue(r, j, col + 1)[0] == 't';
	read_status(d, PQgetvalue(r, j, col + 2));
}

/* The delivery of the batch with this event key; PostgreSQL answers in the order sent,
 * so it is looked for at position hint first. */
static struct pgw_delivery *batch_find(const struct conn *c, const char *platform,
				       const char *source, const char *key, int hint)
{
	for (int k = 0; k < c->nbatch; k++) {
		struct pgw_delivery *d = c->batch[(hint + k) % c->nbatch];
		if (d && !strcmp(d->dedupe_key, key) && !strcmp(d->platform, platform) &&
		    !strcmp(src_of(d), source))
			return d;
	}
	return NULL;
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
	if (it->role == R_EVENT && st == PGRES_TUPLES_OK && PQntuples(r) == 1 && c->batch[it->d])
		read_event(c->batch[it->d], r, 0, 0);
	if (it->role == R_DUPLICATE && st == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    c->batch[it->d])
		read_status(c->batch[it->d], PQgetvalue(r, 0, 0));
	if (it->role == R_EVENTS && st == PGRES_TUPLES_OK) {
		for (int j = 0; j < PQntuples(r); j++) {
			struct pgw_delivery *d =
				batch_find(c, PQgetvalue(r, j, 0), PQgetvalue(r, j, 5),
					   PQgetvalue(r, j, 1), j);
			if (d) {
				read_event(d, r, j, 2);
				c->matched++;
			}
		}
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

/* The connection is ready for batches. */
static void conn_up(struct conn *c)
{
	struct pgw *w = c->w;
	c->state = CS_IDLE;
	c->backoff_ms = 0;
	char id[12], down[24];
	snprintf(id, sizeof id, "%d", c->id);
	if (w->down_since_ms) {
		snprintf(down, sizeof down, "%.1f", (double)(now_ms() - w->down_since_ms) / 1000);
		log_notice("database connected", "connection", id, "down_seconds", down,
			   "statements", w->unnamed ? "unnamed" : "prepared");
	} else {
		log_notice("database connected", "connection", id);
	}
	w->down_since_ms = 0;
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
	reset_items(c);
	c->state = CS_BUSY;
	c->phase = PH_PREPARE;
	/* This build's statements need its newest migration: until it is applied, the
	 * connection is not used (deliveries go to the spool, as with the database away). */
	const char *newest[] = {migrate_list[migrate_count - 1].version};
	bool ok = PQsendQueryParams(c->pg,
				    "SELECT 1 / (SELECT count(*)::integer FROM"
				    " callbridge.schema_migrations WHERE version = $1)",
				    1, NULL, newest, NULL, NULL, 0) &&
		  add_item(c, R_SCHEMA, -1);
	for (int i = 0; ok && !w->unnamed && i < BATCHSQL_NSTMTS; i++)
		ok = PQsendPrepare(c->pg, w->stmts.name[i], w->stmts.sql[i], 0, NULL) &&
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
	else if (c->state == CS_CONNECTING) {
		pghosts_stuck(&c->w->hosts, c->pg);
		conn_lost(c, "connection attempt timed out");
	} else
		conn_lost(c, "database did not answer in time");
}

/* A new attempt, beginning with the host after one that hung (pghosts.h). */
static void conn_connect(struct conn *c)
{
	struct pgw *w = c->w;
	c->pg = pghosts_start(&w->hosts, "callbridge");
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	c->state = CS_CONNECTING;
	arm_timer(c, w->opt.connect_timeout_s * 1000);
	poll_connect(c);
}

#define DOWN_LOG_EVERY_MS 60000

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
	clear_batch(c);
	reset_items(c);

	int64_t now = now_ms();
	if (was_ready)
		log_error("database connection lost", "error", reason);
	else if (c->backoff_ms == 0 || log_enabled(LOG_DEBUG))
		log_warn("cannot connect to the database", "error", reason);
	if (!pgw_ready(w)) {
		fail_queue(w);
		if (!w->down_since_ms)
			w->down_since_ms = w->down_logged_ms = now;
	}
	/* Not silent while it lasts: a line a minute says for how long, and why. */
	if (w->down_since_ms && now - w->down_logged_ms >= DOWN_LOG_EVERY_MS) {
		char down[24];
		snprintf(down, sizeof down, "%lld", (long long)(now - w->down_since_ms) / 1000);
		log_error("still no database connection; deliveries go to the spool or get 503",
			  "down_seconds", down, "error", reason);
		w->down_logged_ms = now;
	}

	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
	if (c->backoff_ms > w->opt.reconnect_max_s * 1000)
		c->backoff_ms = w->opt.reconnect_max_s * 1000;
	w->stats.reconnects++;
	arm_timer(c, c->backoff_ms);
}

/* Batches are kept large: PostgreSQL's cost per delivery falls with a batch's size, and
 * an idle connection taking whatever is queued the moment it is free splits the stream
 * into small batches (measured in BENCHMARKS.md). So while a batch is in flight, another
 * starts only once as many deliveries wait as that batch holds (two batches of the same
 * size then overlap), or when every batch in flight has taken longer than OVERTAKE_MS —
 * it waits for a lock or a slow disk — so that one stuck batch does not hold up the rest. */
#define OVERTAKE_MS 50

/* Milliseconds until another batch may start: 0 when it may now. */
static int64_t wait_to_start(const struct pgw *w)
{
	int64_t now = now_ms(), wait = 0;
	int writing = 0, smallest = w->opt.batch_max;
	for (int i = 0; i < w->opt.connections; i++) {
		const struct conn *c = &w->conns[i];
		if (c->state != CS_BUSY || c->nlive == 0)
			continue;
		writing += c->nlive;
		if (c->nlive < smallest)
			smallest = c->nlive;
		int64_t left = c->started_ms + OVERTAKE_MS - now;
		if (left > wait)
			wait = left;
	}
	return w->inflight - writing >= smallest ? 0 : wait;
}

static void pgw_kick(struct pgw *w)
{
	for (int i = 0; w->head && i < w->opt.connections; i++) {
		if (w->conns[i].state != CS_IDLE)
			continue;
		int64_t wait = wait_to_start(w);
		if (wait > 0) {
			struct timeval tv = {0, (suseconds_t)(wait * 1000)};
			if (!evtimer_pending(w->kick, NULL))
				evtimer_add(w->kick, &tv);
			return;
		}
		start_batch(&w->conns[i]);
	}
	/* Deliveries left waiting: the queue's deadline timer, set for its head (the first
	 * due), is kept pending while any wait; a stale one fires early and is set again. */
	if (w->head && w->deadline_ms > 0 && !evtimer_pending(w->due, NULL))
		arm_due(w->due, w->head->due_ms);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pgw_kick(arg);
}

/* ---- commit deadlines (see DESIGN) ---- */

/* Deliveries due within this long of a deadline firing go with it, so that one firing
 * takes those submitted together, a few milliseconds apart. */
#define DUE_SLACK_MS 10

/* Reports UNAVAILABLE each delivery of list (linked by next), now taken out of the
 * queue or its batch. Reads next before done(), which may free the delivery. */
static void expire(struct pgw *w, struct pgw_delivery *list, bool commit_unknown)
{
	while (list) {
		struct pgw_delivery *d = list;
		list = d->next;
		d->commit_unknown = commit_unknown;
		w->stats.expired++;
		finish(w, d, PGW_UNAVAILABLE);
	}
}

/* The first delivery of a batch in flight is due: those due leave the batch, which goes
 * on without them (its statements are sent; their answers about them are ignored). */
static void on_batch_due(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	int64_t now = now_ms(), next = INT64_MAX;
	struct pgw_delivery *gone = NULL, **link = &gone;
	int n = 0;
	for (int i = 0; i < c->nbatch; i++) {
		struct pgw_delivery *d = c->batch[i];
		if (!d)
			continue;
		if (d->due_ms > now + DUE_SLACK_MS) {
			next = d->due_ms < next ? d->due_ms : next;
			continue;
		}
		c->batch[i] = NULL;
		c->nlive--;
		*link = d;
		link = &d->next;
		n++;
	}
	*link = NULL;
	if (next != INT64_MAX)
		arm_due(c->due, next);
	if (!gone)
		return;
	/* Only once COMMIT is sent can the batch store them; before, it is rolled back. */
	bool unknown = c->phase == PH_ROWS;
	char count[16], ms[24];
	snprintf(count, sizeof count, "%d", n);
	snprintf(ms, sizeof ms, "%lld", (long long)(now - c->started_ms));
	log_warn("the database did not commit in time; deliveries handed back", "deliveries", count,
		 "batch_ms", ms, "waiting_for", unknown ? "commit" : "statements");
	expire(c->w, gone, unknown);
}

/* The queue's head is due: every delivery due leaves the queue. */
static void on_queue_due(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pgw *w = arg;
	int64_t now = now_ms();
	struct pgw_delivery *gone = w->head, *last = NULL;
	while (w->head && w->head->due_ms <= now + DUE_SLACK_MS) {
		last = w->head;
		w->head = last->next;
	}
	if (!w->head)
		w->tail = NULL;
	else
		arm_due(w->due, w->head->due_ms);
	if (!last)
		return;
	last->next = NULL;
	expire(w, gone, false); /* a queued delivery was never in a batch that could commit */
}

void pgw_set_commit_deadline(struct pgw *w, int ms)
{
	w->deadline_ms = ms > 0 ? ms : 0;
}

int pgw_submit(struct pgw *w, struct pgw_delivery *d)
{
	if (!pgw_ready(w))
		return -1;
	if (w->inflight >= w->opt.max_inflight)
		return -2;
	d->next = NULL;
	d->fresh = d->db_failed = d->commit_unknown = d->row_by_row = false;
	d->attempts = 0;
	d->seq = w->seq++;
	d->due_ms = w->deadline_ms > 0 ? now_ms() + w->deadline_ms : INT64_MAX;
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
	/* A tag per writer: its statements' names are its own on a shared server connection. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned tag =
		(unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)w;
	if (!w || batchsql_stmts_init(&w->stmts, tag) < 0)
		goto fail;
	w->base = base;
	w->opt = *opt;
	w->unnamed = opt->pooler == PGW_POOLER_TRANSACTION;
	w->down_since_ms = now_ms(); /* until the first connection is up */
	bool hosts_ok = pghosts_init(&w->hosts, conninfo) == 0;
	w->conns = calloc((size_t)opt->connections, sizeof *w->conns);
	w->kick = evtimer_new(base, on_kick, w);
	w->due = evtimer_new(base, on_queue_due, w);
	if (!hosts_ok || !w->conns || !w->kick || !w->due)
		goto fail;
	for (int i = 0; i < opt->connections; i++) {
		struct conn *c = &w->conns[i];
		c->w = w;
		c->id = i;
		c->err_item = -1;
		c->batch = calloc((size_t)opt->batch_max, sizeof *c->batch);
		c->timer = evtimer_new(base, on_timer, c);
		c->due = evtimer_new(base, on_batch_due, c);
		c->refs = calloc((size_t)opt->batch_max * ROWS_MAX, sizeof *c->refs);
		if (!c->batch || !c->timer || !c->due || !c->refs)
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
		if (c->due)
			event_free(c->due);
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
		free(c->refs);
		for (int k = 0; k < PGW_MAXPARAMS; k++)
			batchsql_array_free(&c->arr[k]);
	}
	fail_queue(w);
	if (w->kick)
		event_free(w->kick);
	if (w->due)
		event_free(w->due);
	free(w->conns);
	pghosts_free(&w->hosts);
	batchsql_stmts_free(&w->stmts);
	free(w);
	*wp = NULL;
}
