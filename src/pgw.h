/* pgw — the PostgreSQL writer: makes deliveries durable, asynchronously, from the event
 * loop, many per transaction (group commit).
 *
 * DESIGN
 * Guarantees: a delivery's done() reports STORED or DUPLICATE only after the COMMIT that
 * holds its raw event row and all its mapped rows has succeeded; a delivery is never
 * half-written (one transaction); done() is called exactly once per submitted delivery,
 * and with a commit deadline, no later than that deadline after pgw_submit().
 *
 * Each connection is a non-blocking libpq connection in pipeline mode whose socket is
 * watched by libevent. Deliveries queue while a batch is in flight; an idle connection
 * takes up to batch_max of them and runs two pipelined round trips in one transaction:
 *   1. BEGIN; one INSERT .. ON CONFLICT into webhook_events for the whole batch; sync.
 *      Its answer says, for each delivery, whether it is new or a duplicate.
 *   2. The mapped-row upserts of the new, mapped deliveries, one per table; the
 *      transcripts, one per call; COMMIT; sync.
 * These batch statements take each column as one binary text[] and unnest them, so
 * PostgreSQL starts one statement per table and batch rather than per row (their text,
 * the arrays and the key order are batchsql's). A batch is written "row by row"
 * instead, one statement per delivery and row, when it holds a replay, a delivery that
 * may be stored already, the same event twice, or a delivery whose batch a batch
 * statement failed; and one table's rows are, when two of them share a key (an upsert
 * cannot touch one row twice).
 * Lock order: every transaction takes its row locks in one global order — the events
 * first (their keys in event_keys, then, in the second round trip, the raw events of
 * duplicates, which only the holder of their key updates), then each table in enum
 * row_table order, then the transcripts, and within
 * each of these by key (the batch is sorted by event key; each table's rows and the
 * transcripts by theirs), in both ways of writing. Two batches then never wait for each
 * other in a cycle, so PostgreSQL has no deadlock to break (each cost a second). A
 * call's row is locked first by the calls upsert (every event writing an audit or a
 * transcript writes its call too), so the audits' foreign-key lock and put_transcript's
 * FOR UPDATE on it later add no order of their own.
 * A duplicate writes only its delivery_count, never its rows again. A replayed event
 * (replay_id set) updates its stored row's status instead, and its rows are written.
 * Errors: a data error (SQLSTATE class 22, 23 or 54) in a batch statement sends the
 * batch back to be written row by row; there it is pinned on the one delivery whose
 * statement failed: a delivery whose rows PostgreSQL refuses is stored raw with status
 * 'failed' and the batch is retried; one whose raw event is refused is answered REJECTED
 * and the rest retried. Other errors retry the batch up to three times, then report
 * UNAVAILABLE. A lost connection reports UNAVAILABLE for its batch (the outcome of an
 * unanswered COMMIT is unknown: commit_unknown says so, and the caller resubmits such a
 * delivery with maybe_stored, so that finding it stored is not counted as a second
 * delivery) and is re-established with exponential backoff. While no connection is up,
 * pgw_submit() refuses at once so the caller can answer 503.
 * Deadline: a delivery not committed the commit deadline after pgw_submit() (a hung
 * COMMIT: a synchronous standby gone, a lock, a full disk) is reported UNAVAILABLE then,
 * whether it waits in the queue or in a batch in flight. One taken out of a batch is
 * detached from it: the batch's statements are already sent and go on, pgw never looks
 * at that delivery again (retries skip it), and commit_unknown says whether its COMMIT
 * was sent (the batch may still commit it later); a batch that loses a delivery before
 * its COMMIT is sent is rolled back and the rest retried, since its rows can no longer
 * be written. One timer per connection and one for the queue: the queue is kept in
 * submission order (a retried batch is merged back into it), so its head is due first.
 *
 * Poolers: statements are prepared by name on each connection (names unique to this
 * writer), unless the options say a transaction-mode pooler stands between us and
 * PostgreSQL: then each is sent unnamed (parsed with its execution, once per batch) and
 * nothing outlives a transaction. With PGW_POOLER_AUTO, a missing (26000) or existing
 * (42P05) statement of ours is the sign of a shared server connection: the writer
 * switches to unnamed statements and retries. While no connection is ready, a line a
 * minute is logged and pgw_stats.down_ms says for how long.
 *
 * States of a connection: DOWN (waiting to reconnect) -> CONNECTING -> BUSY (preparing
 * statements; skipped when unnamed) -> IDLE <-> BUSY (a batch or a rollback in flight).
 *
 * Ownership: the submitter owns each struct pgw_delivery and everything it points to;
 * they must stay valid and unchanged until done() is called, after which pgw never
 * touches the delivery again. */
#ifndef CALLBRIDGE_PGW_H
#define CALLBRIDGE_PGW_H

#include <stdbool.h>
#include <stdint.h>

#include "rows.h"

struct event_base;
struct pgw;

enum pgw_outcome {
	PGW_STORED,      /* first delivery, committed */
	PGW_DUPLICATE,   /* already stored; delivery_count bumped, committed */
	PGW_REJECTED,    /* PostgreSQL refuses even the raw event (detail says why) */
	PGW_UNAVAILABLE, /* not durable: database unreachable or failing */
};

struct pgw_delivery {
	/* Input. */
	const char *platform;
	const char *source; /* the source's name; NULL: "default" */
	const char *dedupe_key;
	const char *received_at; /* canonical timestamp */
	const char *payload;     /* the body: JSON text */
	struct mapped *mapped;   /* event type, time, status, rows */
	long long replay_id;     /* >0: re-map the stored event with this id instead of inserting */
	bool maybe_stored;       /* an earlier attempt of this same delivery may have committed:
				    when stored already, answer DUPLICATE without counting it */
	bool spooled;            /* from the spool: when its event is stored with this very arrival
				    instant, it is this delivery again (a segment drained twice), not counted
				  */
	void (*done)(struct pgw_delivery *d);
	void *arg;

	/* Output, valid in done(). */
	enum pgw_outcome outcome;
	enum map_status
		stored_status; /* of the stored event row (the original's, for duplicates) */
	long long event_id;
	bool commit_unknown; /* UNAVAILABLE after the COMMIT was sent: it may be stored */
	char detail[300];    /* PostgreSQL's message when a row or the event was refused */

	/* Private to pgw. */
	struct pgw_delivery *next;
	uint64_t seq;   /* submission order */
	int64_t due_ms; /* its deadline (monotonic clock), or INT64_MAX */
	bool fresh;
	bool db_failed;  /* rows refused: store the raw event as 'failed' */
	bool row_by_row; /* an array statement failed in its batch: no more of them */
	int attempts;
};

/* How server connections are reached: directly or through a session pooler (named
 * prepared statements), or through a transaction-mode pooler (unnamed statements, no
 * session state). AUTO: named until the database shows a connection is shared. */
enum pgw_pooler { PGW_POOLER_AUTO, PGW_POOLER_TRANSACTION, PGW_POOLER_SESSION };

struct pgw_options {
	int connections;
	int batch_max;
	int max_inflight;
	int connect_timeout_s;
	int reconnect_max_s;
	int batch_timeout_s;
	enum pgw_pooler pooler;
};

#define PGW_BATCH_BUCKETS  11 /* batch size histogram: <=1, <=2, ... <=1024, more */
#define PGW_COMMIT_BUCKETS 12 /* commit time histogram: bounds in pgw_commit_le_s, more */
extern const double pgw_commit_le_s[PGW_COMMIT_BUCKETS];

/* Why a batch was rolled back and its deliveries tried again. */
enum pgw_retry {
	PGW_RETRY_DEADLOCK,      /* 40P01 */
	PGW_RETRY_SERIALIZATION, /* 40001 */
	PGW_RETRY_DATA,     /* a delivery's data refused, or the answer incomplete: row by row */
	PGW_RETRY_DEADLINE, /* a delivery left at its deadline before the COMMIT was sent */
	PGW_RETRY_OTHER,
	PGW_RETRY_COUNT
};

struct pgw_stats {
	bool up;             /* at least one connection ready */
	int inflight;        /* submitted, done() not yet called */
	uint64_t batches;    /* committed batches */
	uint64_t batched;    /* deliveries in committed batches */
	uint64_t row_by_row; /* committed batches written with statements per delivery */
	uint64_t reconnects;
	uint64_t batch_hist[PGW_BATCH_BUCKETS + 1];
	uint64_t commit_hist[PGW_COMMIT_BUCKETS + 1]; /* a batch's time from sent to COMMIT done */
	uint64_t commit_ms_sum;
	uint64_t retries[PGW_RETRY_COUNT]; /* rolled-back batches tried again, by reason */
	uint64_t expired; /* deliveries reported UNAVAILABLE at their commit deadline */
	bool unnamed;     /* statements are sent unnamed (transaction-mode pooler) */
	int64_t down_ms;  /* how long no connection has been ready; 0 while one is */
};

struct pgw *pgw_new(struct event_base *base, const char *conninfo, const struct pgw_options *opt);

/* Queues d. Returns 0; or -1 when no database connection is ready, -2 when too many
 * deliveries are in flight: then done() will not be called. */
int pgw_submit(struct pgw *w, struct pgw_delivery *d) __attribute__((warn_unused_result));

/* Sets the commit deadline, before the first pgw_submit(): done() then comes at the
 * latest ms milliseconds after pgw_submit(). 0, the default: none (only batch_timeout_s
 * bounds the wait, by dropping the connection). */
void pgw_set_commit_deadline(struct pgw *w, int ms);

bool pgw_ready(const struct pgw *w);
/* The label of a retry reason in /metrics: "deadlock", "serialization", ... */
const char *pgw_retry_name(enum pgw_retry r);
void pgw_get_stats(const struct pgw *w, struct pgw_stats *out);

/* Closes every connection; deliveries still queued or in flight are reported
 * UNAVAILABLE. *w is set to NULL. */
void pgw_free(struct pgw **w);

#endif
