/* rows — what a mapper produces from one event: the event's identity (type, time,
 * de-duplication key, mapping status) and the rows to upsert into the contract tables.
 *
 * Ownership: every string in a struct mapped lives in its arena and is freed by
 * rows_reset()/rows_free(); values from json-c are copied in, never borrowed, so the
 * parsed JSON may be released before the rows are written. A NULL column value means
 * "this event does not carry it": the writer never overwrites a stored value with it.
 * An event that carries an entity's whole state (an Allo contact update) may instead
 * clear a column: its bit in struct row.clear, for tables whose row_spec.clears is set. */
#ifndef CALLBRIDGE_ROWS_H
#define CALLBRIDGE_ROWS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct tz;

enum row_table { TBL_CALLS, TBL_AUDITS, TBL_SMS, TBL_CONTACTS, TBL_COUNT };

enum col_type { COL_TEXT, COL_TS, COL_NUM, COL_BOOL, COL_JSONB, COL_TEXTARR };

/* Columns of callbridge.calls that events carry (platform and last_event_at are the
 * writer's). Order matches rows_spec(TBL_CALLS). */
enum call_col {
	CALL_EXTERNAL_ID,
	CALL_ACCOUNT_ID,
	CALL_AGENT_ID,
	CALL_AGENT_NAME,
	CALL_DIRECTION,
	CALL_FROM_NUMBER,
	CALL_FROM_NAME,
	CALL_TO_NUMBER,
	CALL_TO_NAME,
	CALL_CUSTOMER_NUMBER,
	CALL_CUSTOMER_NAME,
	CALL_STATUS,
	CALL_DISPOSITION,
	CALL_SUCCESSFUL,
	CALL_STARTED_AT,
	CALL_ANSWERED_AT,
	CALL_ENDED_AT,
	CALL_DURATION_SECONDS,
	CALL_BILLED_MINUTES,
	CALL_RECORDING_URL,
	CALL_SUMMARY,
	CALL_SENTIMENT,
	CALL_DISCONNECTION_REASON,
	CALL_COST,
	CALL_TRANSCRIPT_TEXT,
	CALL_METADATA,
	CALL_COST_UNIT,       /* usd, credits, tokens...: what cost counts, NULL when unknown */
	CALL_TAGS,            /* text[] */
	CALL_CARRIER_CALL_ID, /* the telephony carrier's call id (Twilio's CallSid) */
	CALL_DIALED_NUMBER,   /* the line dialled before routing */
	CALL_DIALED_NAME,
	CALL_TRANSFER_CHAIN_ID, /* the first call of the transfer chain this call is in */
	CALL_TRANSFERRED_FROM_NUMBER,
	CALL_TRANSFERRED_FROM_NAME,
	CALL_TRANSFERRED_FROM_EMAIL,
	CALL_TRANSFERRED_TO_NUMBER,
	CALL_TRANSFERRED_TO_NAME,
	CALL_TRANSFERRED_TO_EMAIL,
	CALL_INTEGRATION_ID,
	CALL_OWNER_EMAIL, /* the user who owns the route the call came in on (Allo) */
	CALL_NCOLS
};

/* Columns of callbridge.call_audits; the call is named by its external id. */
enum audit_col {
	AUDIT_CALL_EXTERNAL_ID,
	AUDIT_KIND,
	AUDIT_STATUS,
	AUDIT_QUALIFIED,
	AUDIT_REASON,
	AUDIT_SUMMARY,
	AUDIT_RESULTS,
	AUDIT_NCOLS
};

/* Columns of callbridge.sms_messages. */
enum sms_col {
	SMS_EXTERNAL_ID,
	SMS_DIRECTION,
	SMS_MESSAGE_TYPE,
	SMS_CONTENT,
	SMS_SENT_AT,
	SMS_FROM_NUMBER,
	SMS_FROM_NAME,
	SMS_TO_NUMBER,
	SMS_TO_NAME,
	SMS_NCOLS
};

/* Columns of callbridge.contacts; the arrays are PostgreSQL array literals
 * (see field_text_array). */
enum contact_col {
	CONTACT_EXTERNAL_ID,
	CONTACT_FIRST_NAME,
	CONTACT_LAST_NAME,
	CONTACT_COMPANY,
	CONTACT_EMAILS,
	CONTACT_PHONE_NUMBERS,
	CONTACT_NCOLS
};

/* One line of a transcript. role is agent|customer|system|unknown (see field_role). */
struct segment {
	const char *role;
	const char *speaker;
	const char *content;
	const char *spoken_at;
};

/* The whole transcript of one call as this event knows it. The writer replaces the
 * call's stored segments with it, unless the stored ones come from a newer event. */
struct transcript {
	const char *call_external_id; /* NULL: the event carries no transcript */
	int n, cap;
	struct segment *seg; /* malloc'd; freed by rows_reset/rows_free */
	const char *json;    /* set by rows_finish: the segments as a JSON array */
};

/* A table's columns plus one: the clear mask is passed as one more parameter. */
#define ROW_MAXCOLS 48
#define ROWS_MAX    8

/* Longest text, in bytes, that goes into an index: the de-duplication key, the event type
 * and every indexed column (row_spec.indexed). A longer value is stored as "sha256:" and
 * the hex SHA-256 of its text (rows_bound_key), by the pure code, before anything is
 * acknowledged. Why: PostgreSQL refuses a btree entry over 2704 bytes (GIN: about as
 * much), so such an event would be refused with the database up and, acknowledged from
 * the spool, refused when drained. A digest rather than a prefix: it is as stable (every
 * event of a call with a 6 KB id finds the same row) and two ids sharing a long prefix
 * stay apart. The full value is always in the raw payload. 200 keeps every index entry
 * far below the limit; no real id or event type comes near it. */
#define ROWS_MAX_KEY_LEN 200

struct row_spec {
	const char *table;    /* qualified table name */
	const char *conflict; /* natural key, as ON CONFLICT target */
	const char *time_col; /* the column holding the newest event time applied */
	int ncols;
	const char *const *cols;
	const enum col_type *types;
	int nkeys;    /* leading columns that form the key with platform (never merged) */
	int via_call; /* column 0 is a call external id, resolved to calls.id */
	/* Columns (bit i: column i) in an index of sql/migrations besides the key: bounded
	 * to ROWS_MAX_KEY_LEN like the key columns; a text[] column element by element. */
	unsigned long long indexed;
	/* Rows of this table may clear columns (struct row.clear): its upsert takes one more
	 * parameter, the mask as text (see rows_clear_text). */
	int clears;
};

const struct row_spec *rows_spec(enum row_table t);

struct row {
	enum row_table table;
	const char *v[ROW_MAXCOLS];
	/* Bit c: column c is cleared (set to NULL) by this event, when the event is newer
	 * than the stored row; an older event clears nothing (it only fills gaps). Only for
	 * tables whose spec says clears; v[c] must then be NULL. */
	unsigned long long clear;
};

enum map_status { MAP_MAPPED, MAP_UNMAPPED, MAP_FAILED };

struct arena_chunk;

struct mapped {
	enum map_status status;
	const char *event_type;  /* as sent, or NULL */
	const char *occurred_at; /* the platform's event time, canonical UTC, or NULL */
	const char *dedupe_key;  /* NULL: the caller keys on a hash of the body */
	const char *entity_id;   /* the external id of the call, SMS or contact, or NULL */
	const char *error;       /* MAP_FAILED: why, for the 400 answer and the stored row */
	/* The zone of timestamps sent without an offset (map_input.zone; NULL: UTC), read by
	 * field_ts. Borrowed; set by intake before the mapper runs. */
	const struct tz *zone;
	int nrows;
	struct row rows[ROWS_MAX];
	struct transcript transcript;
	struct arena_chunk *arena;
};

/* Empties m for reuse, keeping one arena chunk. */
void rows_reset(struct mapped *m);
void rows_free(struct mapped *m);

/* n writable bytes in the arena, zeroed; NULL when out of memory. */
char *rows_alloc(struct mapped *m, size_t n);

/* Arena copies; NULL in, NULL out. Out of memory yields NULL (the column is dropped). */
const char *rows_strdup(struct mapped *m, const char *s);
const char *rows_strndup(struct mapped *m, const char *s, size_t n);
const char *rows_printf(struct mapped *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The clear mask of r as parameter text: one '0' or '1' per column of its table, in
 * column order, in out (ROW_MAXCOLS + 1 bytes); NULL when nothing is cleared. */
const char *rows_clear_text(const struct row *r, char out[ROW_MAXCOLS + 1]);

/* Appends a row of table t with every column NULL; NULL when ROWS_MAX is reached. */
struct row *rows_add(struct mapped *m, enum row_table t);

/* The first row of table t whose column 0 equals key, or NULL. */
struct row *rows_find(struct mapped *m, enum row_table t, const char *key);

/* Appends an empty segment to the transcript of call_external_id (the first call decides;
 * one transcript per event). NULL when out of memory. */
struct segment *rows_add_segment(struct mapped *m, const char *call_external_id);

/* The transcript as text, one "<speaker or role>: <content>" line per segment, for
 * calls.transcript_text; NULL when there are no segments. */
const char *rows_transcript_text(struct mapped *m);

/* Completes m after mapping: names the entity when the mapper did not (the key of the
 * first call, SMS or contact row, else the call of the first audit or of the
 * transcript), bounds every value bound for an index (the event type, the entity, the
 * key and indexed columns of each row, the transcript's call; see ROWS_MAX_KEY_LEN) and
 * serialises the transcript for the writer. The de-duplication key is the caller's to
 * bound. -1 when out of memory. */
int rows_finish(struct mapped *m) __attribute__((warn_unused_result));

/* "sha256:<hex>" of len bytes, in the arena; NULL when out of memory. */
const char *rows_digest(struct mapped *m, const void *bytes, size_t len);

/* s when it is at most ROWS_MAX_KEY_LEN bytes, else its rows_digest. NULL in, NULL out;
 * NULL for a long s when out of memory. */
const char *rows_bound_key(struct mapped *m, const char *s);

/* Marks m failed with a reason (printf-style). Rows already added are dropped. */
void rows_fail(struct mapped *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes m as sorted "table.column = value" lines: the format of the expected-rows
 * fixtures beside each test payload. */
void rows_dump(const struct mapped *m, FILE *out);

#endif
