/* precall — lookups over a connection of their own (see precall.h). */
#include "precall.h"
#include "batchsql.h"
#include "log.h"
#include "metrics.h"
#include "pghosts.h"
#include "ts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

/* ---- tokens ---- */

static char *tokens[16]; /* per adapter; NULL: none */

static void upper_slug(const char *slug, char *out, size_t outlen)
{
	size_t i = 0;
	for (; slug[i] && i + 1 < outlen; i++)
		out[i] = (char)(slug[i] >= 'a' && slug[i] <= 'z' ? slug[i] - 32 : slug[i]);
	out[i] = '\0';
}

int precall_load_tokens(char *err, size_t errlen)
{
	for (int i = 0; i < lookup_adapter_count && i < 16; i++) {
		char up[32], name[96];
		bool bad = false;
		upper_slug(lookup_adapters[i].slug, up, sizeof up);
		snprintf(name, sizeof name, "CALLBRIDGE_%s_PRECALL_TOKEN", up);
		free(tokens[i]);
		tokens[i] = cfg_secret(name, err, errlen, &bad);
		if (bad)
			return -1;
	}
	return 0;
}

bool precall_enabled(void)
{
	for (int i = 0; i < lookup_adapter_count && i < 16; i++)
		if (tokens[i])
			return true;
	return false;
}

static bool token_is(const char *want, const char *got, size_t len)
{
	return want && strlen(want) == len && CRYPTO_memcmp(want, got, len) == 0;
}

bool precall_token_ok(const struct lookup_adapter *adapter, const char *token, size_t len)
{
	if (adapter)
		return token_is(tokens[adapter - lookup_adapters], token, len);
	bool ok = false; /* every token compared: the time says nothing about which */
	for (int i = 0; i < lookup_adapter_count && i < 16; i++)
		ok |= token_is(tokens[i], token, len);
	return ok;
}

bool precall_is_setting(const char *name)
{
	for (int i = 0; i < lookup_adapter_count; i++) {
		char up[32], want[96];
		upper_slug(lookup_adapters[i].slug, up, sizeof up);
		snprintf(want, sizeof want, "CALLBRIDGE_%s_PRECALL_TOKEN", up);
		size_t n = strlen(want);
		if (!strncmp(name, want, n) && (!name[n] || !strcmp(name + n, "_FILE")))
			return true;
	}
	return false;
}

const char *precall_outcome_name(enum precall_outcome o)
{
	static const char *const names[PRECALL_NOUTCOMES] = {"known", "unknown", "budget_exceeded",
							     "unavailable", "dropped"};
	return o < PRECALL_NOUTCOMES ? names[o] : "?";
}

/* ---- the service ---- */

/* The lookup: ISO 8601 UTC times, as the answers give them. */
static const char lookup_sql[] =
	"SELECT f.phone_e164, f.known, f.name, f.company, f.calls,"
	" to_char(f.last_call_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" f.last_call_platform, f.last_call_direction, f.last_call_outcome,"
	" f.last_call_summary, f.last_call_sentiment, f.last_qualified, f.last_qualified_reason,"
	" to_char(f.last_sms_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" f.last_sms_direction, f.last_sms, f.follow_up"
	" FROM callbridge.caller_facts($1, $2, $3) AS f";

static const char record_sql[] =
	"INSERT INTO callbridge.precall_lookups"
	" (adapter, received_at, phone, called_number, agent_id, outcome, duration_ms)"
	" SELECT v.a, v.r::timestamptz, callbridge.normalize_phone(v.p), v.c, v.g, v.o,"
	"        v.d::numeric"
	" FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
	"             $7::text[]) AS v(a, r, p, c, g, o, d)";

#define MAX_WAITING  256  /* lookups sent and not answered by the database */
#define MAX_RECORDS  4096 /* records queued for writing */
#define RECORD_BATCH 512
#define RECORD_COLS  7
#define FLUSH_MS     100

enum seg_kind { SEG_LOOKUP, SEG_RECORDS };

/* What one sync of the pipeline is for, in the order sent. */
struct seg {
	enum seg_kind kind;
	struct precall_query *q; /* SEG_LOOKUP: NULL once answered (the budget ran out) */
	int nrec;                /* SEG_RECORDS */
};

struct record {
	char adapter[16], at[TS_LEN], outcome[16], ms[16];
	char phone[64], called[64], agent[128];
};

enum pc_state { PC_DOWN, PC_CONNECTING, PC_UP };

struct precall {
	struct event_base *base;
	int budget_ms, connect_timeout_s, reconnect_max_s;
	struct pghosts hosts;
	PGconn *pg;
	enum pc_state state;
	struct event *io, *wio, *timer, *flush;
	int backoff_ms;
	struct seg segs[MAX_WAITING + 8]; /* a ring */
	int head, nseg, nlookups;
	/* Lookups that came while the first connection was being made: sent once it is up,
	 * answered unknown if it fails or their budget runs out first. */
	struct precall_query *parked[MAX_WAITING];
	int nparked;
	bool ever_up;
	struct record *rec; /* a ring of MAX_RECORDS */
	int rhead, nrec, rsent;
	struct batchsql_array arr[RECORD_COLS];
	char budget_text[16];
};

#define NSEGS ((int)(sizeof((struct precall *)0)->segs / sizeof(struct seg)))

static void pc_connect(struct precall *pc);
static void pc_lost(struct precall *pc, const char *why);
static void pc_flush_records(struct precall *pc);
static bool send_lookup(struct precall *pc, struct precall_query *q);

static void arm(struct event *ev, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

static void finish(struct precall *pc, struct precall_query *q, enum precall_outcome out,
		   const struct lookup_facts *f)
{
	if (q->budget) {
		event_free(q->budget);
		q->budget = NULL;
	}
	int64_t now = ts_now_us();
	if (out != PRECALL_DROPPED)
		metrics_precall(q->adapter, (int)out, now - q->start_us);
	if (out != PRECALL_DROPPED) {
		if (pc->nrec < MAX_RECORDS) {
			struct record *r = &pc->rec[(pc->rhead + pc->nrec++) % MAX_RECORDS];
			snprintf(r->adapter, sizeof r->adapter, "%s",
				 q->adapter < lookup_adapter_count
					 ? lookup_adapters[q->adapter].slug
					 : "api");
			if (!ts_format(q->start_us, r->at))
				r->at[0] = '\0';
			snprintf(r->outcome, sizeof r->outcome, "%s", precall_outcome_name(out));
			snprintf(r->ms, sizeof r->ms, "%.3f", (double)(now - q->start_us) / 1000.0);
			memcpy(r->phone, q->phone, sizeof r->phone);
			memcpy(r->called, q->called, sizeof r->called);
			memcpy(r->agent, q->agent, sizeof r->agent);
			if (!evtimer_pending(pc->flush, NULL))
				arm(pc->flush, FLUSH_MS);
		} else {
			metrics_precall_unrecorded(1);
		}
	}
	struct lookup_facts none;
	lookup_facts_unknown(&none);
	q->done(q, out, f ? f : &none);
}

static void unpark(struct precall *pc, struct precall_query *q)
{
	for (int i = 0; i < pc->nparked; i++)
		if (pc->parked[i] == q) {
			pc->parked[i] = pc->parked[--pc->nparked];
			return;
		}
}

static void on_budget(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct precall_query *q = arg;
	struct precall *pc = q->pc;
	unpark(pc, q);
	for (int i = 0; i < pc->nseg; i++) { /* its result, when it comes, is dropped */
		struct seg *s = &pc->segs[(pc->head + i) % NSEGS];
		if (s->kind == SEG_LOOKUP && s->q == q)
			s->q = NULL;
	}
	finish(pc, q, PRECALL_BUDGET, NULL);
}

/* ---- the connection ---- */

static void pc_send(struct precall *pc)
{
	int r = PQflush(pc->pg);
	if (r < 0)
		pc_lost(pc, PQerrorMessage(pc->pg));
	else if (r > 0)
		event_add(pc->wio, NULL);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pc_send(arg);
}

static struct seg *push_seg(struct precall *pc, enum seg_kind kind)
{
	struct seg *s = &pc->segs[(pc->head + pc->nseg++) % NSEGS];
	*s = (struct seg){.kind = kind};
	return s;
}

static void on_result(struct precall *pc, struct seg *s, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	if (s->kind == SEG_RECORDS) {
		if (st == PGRES_FATAL_ERROR) {
			metrics_precall_unrecorded((uint64_t)s->nrec);
			log_warn("pre-call lookups not recorded", "error",
				 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
		}
		return;
	}
	struct precall_query *q = s->q;
	if (!q)
		return;
	s->q = NULL;
	if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == LF_COUNT) {
		struct lookup_facts f;
		for (int k = 0; k < LF_COUNT; k++)
			f.v[k] = PQgetisnull(r, 0, k) ? NULL : PQgetvalue(r, 0, k);
		bool known = f.v[LF_KNOWN] && f.v[LF_KNOWN][0] == 't';
		finish(pc, q, known ? PRECALL_KNOWN : PRECALL_UNKNOWN, &f);
		return;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	/* lock_not_available, query_canceled: the budget, spent waiting */
	bool slow = state && (!strcmp(state, "55P03") || !strcmp(state, "57014"));
	if (!slow)
		log_warn("pre-call lookup failed", "error",
			 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	finish(pc, q, slow ? PRECALL_BUDGET : PRECALL_UNAVAILABLE, NULL);
}

static void pc_process(struct precall *pc)
{
	while (pc->nseg > 0 && !PQisBusy(pc->pg)) {
		PGresult *r = PQgetResult(pc->pg);
		if (!r)
			continue; /* the end of one statement's results */
		struct seg *s = &pc->segs[pc->head];
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			if (s->kind == SEG_RECORDS)
				pc->rsent = 0;
			else
				pc->nlookups--;
			pc->head = (pc->head + 1) % NSEGS;
			pc->nseg--;
		} else {
			on_result(pc, s, r);
		}
		PQclear(r);
	}
	if (pc->nrec >= RECORD_BATCH)
		pc_flush_records(pc);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct precall *pc = arg;
	if (!PQconsumeInput(pc->pg)) {
		pc_lost(pc, PQerrorMessage(pc->pg));
		return;
	}
	pc_process(pc);
	if (pc->pg && PQstatus(pc->pg) == CONNECTION_BAD)
		pc_lost(pc, PQerrorMessage(pc->pg));
}

static void on_connected(struct precall *pc)
{
	evtimer_del(pc->timer);
	event_free(pc->io);
	pc->io = NULL;
	if (PQsetnonblocking(pc->pg, 1) != 0 || !PQenterPipelineMode(pc->pg)) {
		pc_lost(pc, PQerrorMessage(pc->pg));
		return;
	}
	int fd = PQsocket(pc->pg);
	pc->io = event_new(pc->base, fd, EV_READ | EV_PERSIST, on_readable, pc);
	pc->wio = event_new(pc->base, fd, EV_WRITE, on_writable, pc);
	if (!pc->io || !pc->wio) {
		pc_lost(pc, "out of memory");
		return;
	}
	event_add(pc->io, NULL);
	pc->state = PC_UP;
	pc->backoff_ms = 0;
	pc->ever_up = true;
	log_info("pre-call lookup connection ready");
	while (pc->nparked > 0) {
		struct precall_query *q = pc->parked[--pc->nparked];
		if (!send_lookup(pc, q)) {
			pc->parked[pc->nparked++] = q;
			pc_lost(pc, PQerrorMessage(pc->pg));
			return;
		}
	}
	pc_send(pc);
	if (pc->nrec)
		pc_flush_records(pc);
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg);

static void poll_connect(struct precall *pc)
{
	PostgresPollingStatusType st = PQconnectPoll(pc->pg);
	if (st == PGRES_POLLING_OK) {
		on_connected(pc);
		return;
	}
	if (st == PGRES_POLLING_FAILED) {
		pc_lost(pc, PQerrorMessage(pc->pg));
		return;
	}
	if (pc->io) /* the socket can change between attempts */
		event_free(pc->io);
	pc->io = event_new(pc->base, PQsocket(pc->pg),
			   st == PGRES_POLLING_READING ? EV_READ : EV_WRITE, on_connect_io, pc);
	if (!pc->io) {
		pc_lost(pc, "out of memory");
		return;
	}
	event_add(pc->io, NULL);
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
	struct precall *pc = arg;
	if (pc->state == PC_DOWN) {
		pc_connect(pc);
	} else if (pc->state == PC_CONNECTING) {
		pghosts_stuck(&pc->hosts, pc->pg);
		pc_lost(pc, "connection attempt timed out");
	}
}

static void pc_connect(struct precall *pc)
{
	pc->pg = pghosts_start(&pc->hosts, "callbridge-precall");
	if (!pc->pg || PQstatus(pc->pg) == CONNECTION_BAD) {
		pc_lost(pc, pc->pg ? PQerrorMessage(pc->pg) : "out of memory");
		return;
	}
	pc->state = PC_CONNECTING;
	arm(pc->timer, pc->connect_timeout_s * 1000);
	poll_connect(pc);
}

/* Closes the connection, answers what waits on it unknown, and reconnects later. */
static void pc_lost(struct precall *pc, const char *why)
{
	bool was_up = pc->state == PC_UP;
	char reason[200];
	snprintf(reason, sizeof reason, "%s", why ? why : "");
	reason[strcspn(reason, "\n")] = '\0';
	if (pc->io)
		event_free(pc->io);
	if (pc->wio)
		event_free(pc->wio);
	pc->io = pc->wio = NULL;
	evtimer_del(pc->timer);
	if (pc->pg)
		PQfinish(pc->pg);
	pc->pg = NULL;
	pc->state = PC_DOWN;
	while (pc->nseg > 0) {
		struct seg s = pc->segs[pc->head];
		pc->head = (pc->head + 1) % NSEGS;
		pc->nseg--;
		if (s.kind == SEG_LOOKUP && s.q) {
			finish(pc, s.q, PRECALL_UNAVAILABLE, NULL);
		} else if (s.kind == SEG_RECORDS) {
			metrics_precall_unrecorded((uint64_t)s.nrec);
		}
	}
	pc->nlookups = 0;
	pc->rsent = 0;
	pc->ever_up = true; /* from now on, no connection means unknown at once */
	while (pc->nparked > 0)
		finish(pc, pc->parked[--pc->nparked], PRECALL_UNAVAILABLE, NULL);
	if (was_up)
		log_warn("pre-call lookup connection lost; lookups answer unknown until it is back",
			 "error", reason);
	else if (pc->backoff_ms == 0)
		log_warn("pre-call lookups cannot connect to the database", "error", reason);
	pc->backoff_ms = pc->backoff_ms ? pc->backoff_ms * 2 : 100;
	if (pc->backoff_ms > pc->reconnect_max_s * 1000)
		pc->backoff_ms = pc->reconnect_max_s * 1000;
	arm(pc->timer, pc->backoff_ms);
}

/* ---- records ---- */

static void pc_flush_records(struct precall *pc)
{
	if (pc->state != PC_UP || pc->rsent || !pc->nrec || pc->nseg >= NSEGS)
		return;
	int n = pc->nrec < RECORD_BATCH ? pc->nrec : RECORD_BATCH;
	for (int k = 0; k < RECORD_COLS; k++)
		batchsql_array_begin(&pc->arr[k]);
	for (int i = 0; i < n; i++) {
		const struct record *r = &pc->rec[(pc->rhead + i) % MAX_RECORDS];
		const char *v[RECORD_COLS] = {r->adapter,
					      r->at[0] ? r->at : NULL,
					      r->phone[0] ? r->phone : NULL,
					      r->called[0] ? r->called : NULL,
					      r->agent[0] ? r->agent : NULL,
					      r->outcome,
					      r->ms};
		for (int k = 0; k < RECORD_COLS; k++)
			batchsql_array_add(&pc->arr[k], v[k]);
	}
	const char *vals[RECORD_COLS];
	int lens[RECORD_COLS], fmts[RECORD_COLS];
	bool oom = false;
	for (int k = 0; k < RECORD_COLS; k++) {
		batchsql_array_end(&pc->arr[k]);
		oom |= pc->arr[k].oom;
		vals[k] = (const char *)pc->arr[k].p;
		lens[k] = (int)pc->arr[k].len;
		fmts[k] = 1;
	}
	/* Written whatever happens next: dropped from the queue now. */
	pc->rhead = (pc->rhead + n) % MAX_RECORDS;
	pc->nrec -= n;
	if (oom) {
		metrics_precall_unrecorded((uint64_t)n);
		return;
	}
	bool ok = PQsendQueryParams(pc->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) &&
		  PQsendQueryParams(pc->pg, "SET LOCAL synchronous_commit TO off", 0, NULL, NULL,
				    NULL, NULL, 0) &&
		  PQsendQueryParams(pc->pg, record_sql, RECORD_COLS, NULL, vals, lens, fmts, 0) &&
		  PQsendQueryParams(pc->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) &&
		  PQpipelineSync(pc->pg);
	if (!ok) {
		metrics_precall_unrecorded((uint64_t)n);
		pc_lost(pc, PQerrorMessage(pc->pg));
		return;
	}
	push_seg(pc, SEG_RECORDS)->nrec = n;
	pc->rsent = 1;
	pc_send(pc);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct precall *pc = arg;
	if (pc->state != PC_UP) {
		/* no database: what waits is counted and dropped, not kept for hours */
		metrics_precall_unrecorded((uint64_t)pc->nrec);
		pc->rhead = (pc->rhead + pc->nrec) % MAX_RECORDS;
		pc->nrec = 0;
		return;
	}
	pc_flush_records(pc);
	if (pc->nrec)
		arm(pc->flush, FLUSH_MS);
}

/* ---- lookups ---- */

/* Sends q on the connection (up, with room). false: the connection failed. */
static bool send_lookup(struct precall *pc, struct precall_query *q)
{
	const char *vals[3] = {q->phone, pc->budget_text, q->scope[0] ? q->scope : NULL};
	if (!PQsendQueryParams(pc->pg, lookup_sql, 3, NULL, vals, NULL, NULL, 0) ||
	    !PQpipelineSync(pc->pg))
		return false;
	push_seg(pc, SEG_LOOKUP)->q = q;
	pc->nlookups++;
	return true;
}

static void arm_budget(struct precall *pc, struct precall_query *q)
{
	q->budget = evtimer_new(pc->base, on_budget, q);
	if (q->budget) {
		int64_t left = pc->budget_ms - (ts_now_us() - q->start_us) / 1000;
		arm(q->budget, left > 0 ? (int)left : 0);
	}
}

void precall_lookup(struct precall *pc, struct precall_query *q)
{
	q->pc = pc;
	q->budget = NULL;
	if (!q->start_us)
		q->start_us = ts_now_us();
	if (!pc->ever_up && pc->state != PC_UP && pc->nparked < MAX_WAITING) {
		pc->parked[pc->nparked++] = q; /* the first connection is on its way */
		arm_budget(pc, q);
		return;
	}
	if (pc->state != PC_UP || pc->nseg >= NSEGS - 1 || pc->nlookups >= MAX_WAITING) {
		finish(pc, q, PRECALL_UNAVAILABLE, NULL);
		return;
	}
	if (!send_lookup(pc, q)) {
		finish(pc, q, PRECALL_UNAVAILABLE, NULL);
		pc_lost(pc, PQerrorMessage(pc->pg));
		return;
	}
	arm_budget(pc, q);
	pc_send(pc);
}

struct precall *precall_new(struct event_base *base, const struct config *cfg)
{
	struct precall *pc = calloc(1, sizeof *pc);
	if (!pc)
		return NULL;
	pc->base = base;
	pc->budget_ms = cfg->precall_budget_ms;
	pc->connect_timeout_s = cfg->db_connect_timeout_seconds;
	pc->reconnect_max_s = cfg->db_reconnect_max_seconds;
	snprintf(pc->budget_text, sizeof pc->budget_text, "%dms", cfg->precall_budget_ms);
	pc->rec = calloc(MAX_RECORDS, sizeof *pc->rec);
	pc->timer = evtimer_new(base, on_timer, pc);
	pc->flush = evtimer_new(base, on_flush, pc);
	if (pghosts_init(&pc->hosts, cfg->database_url ? cfg->database_url : "") < 0 || !pc->rec ||
	    !pc->timer || !pc->flush) {
		precall_free(&pc);
		return NULL;
	}
	arm(pc->timer, 0); /* connect from the loop */
	return pc;
}

void precall_free(struct precall **pcp)
{
	struct precall *pc = *pcp;
	if (!pc)
		return;
	while (pc->nseg > 0) {
		struct seg s = pc->segs[pc->head];
		pc->head = (pc->head + 1) % NSEGS;
		pc->nseg--;
		if (s.kind == SEG_LOOKUP && s.q)
			finish(pc, s.q, PRECALL_DROPPED, NULL);
	}
	while (pc->nparked > 0)
		finish(pc, pc->parked[--pc->nparked], PRECALL_DROPPED, NULL);
	if (pc->io)
		event_free(pc->io);
	if (pc->wio)
		event_free(pc->wio);
	if (pc->timer)
		event_free(pc->timer);
	if (pc->flush)
		event_free(pc->flush);
	if (pc->pg)
		PQfinish(pc->pg);
	for (int k = 0; k < RECORD_COLS; k++)
		batchsql_array_free(&pc->arr[k]);
	pghosts_free(&pc->hosts);
	free(pc->rec);
	free(pc);
	*pcp = NULL;
}
