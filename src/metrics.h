/* metrics — counters and a latency histogram, rendered in Prometheus text format for
 * GET /metrics. Safe from any thread: counters are atomic. */
#ifndef CALLBRIDGE_METRICS_H
#define CALLBRIDGE_METRICS_H

#include <stdint.h>

struct evbuffer;
struct pgw_stats;
struct spool_stats;

/* Outcomes of a delivery, as answered. */
enum metrics_outcome {
	OUT_STORED,
	OUT_DUPLICATE,
	OUT_UNMAPPED,
	OUT_FAILED,       /* stored raw as failed, answered 400 */
	OUT_INVALID,      /* refused before storing: bad JSON, UTF-8, shape (400) */
	OUT_UNAUTHORIZED, /* signature missing, wrong or stale (401) */
	OUT_TOO_LARGE,    /* 413 */
	OUT_REJECTED,     /* the database refused the raw event (400) */
	OUT_UNAVAILABLE,  /* 503 */
	OUT_SPOOLED,      /* database away: fsync'd in the spool, 200 */
	OUT_COUNT
};

/* platform is an index into platforms[]. */
/* event_type may be NULL (refused before it was known). The first 256 distinct
 * (platform, event type) pairs get their own series; later ones count as "other". */
void metrics_delivery(int platform, const char *event_type, enum metrics_outcome outcome,
		      int64_t latency_us);
void metrics_http(int status);
/* The error answer of a delivery (4xx/5xx): kept as the platform's last error. */
void metrics_delivery_error(int platform, const char *code, const char *detail);

/* One platform's counts since start, for the status page. */
struct metrics_platform {
	uint64_t n[OUT_COUNT];
	uint64_t sig_failures;
	int64_t last_at_us;       /* the last delivery answered, any outcome; 0: none yet */
	int64_t last_error_at_us; /* 0: none yet */
	char last_error[200];     /* "code: detail" */
};
void metrics_platform_read(int platform, struct metrics_platform *out);
const char *metrics_outcome_name(enum metrics_outcome o);
/* A 401: code is the answer's error code (signature_missing, signature_invalid,
 * signature_stale or token_invalid). */
void metrics_signature_failure(int platform, const char *code);
/* A request wire.c refused; reason is the refusal's name (wire_refusal_info). */
void metrics_refused(const char *reason);
/* A delivery's outcome by source (sources.h): label is the source's sources_label_id
 * (configured sources only; -1: no series). */
void metrics_source_delivery(int platform, int label, enum metrics_outcome outcome);

/* Pre-call lookups: adapter is an index into lookup_adapters (lookup.h), or
 * lookup_adapter_count for GET /v1/callers; outcome is an enum precall_outcome below
 * PRECALL_DROPPED (those are not counted), or one of the two refusals here. */
enum { METRICS_PRECALL_UNAUTHORIZED = 4, METRICS_PRECALL_INVALID, METRICS_PRECALL_OUTCOMES };
void metrics_precall(int adapter, int outcome, int64_t latency_us);
/* Lookups answered but not recorded in callbridge.precall_lookups. */
void metrics_precall_unrecorded(uint64_t n);

/* A maintenance run of the daemon (retention.h): ok false when it failed, busy when
 * another instance was maintaining; the counts are what it did. */
void metrics_maintenance(int ok, int busy, uint64_t made, uint64_t dropped, uint64_t events,
			 uint64_t keys, uint64_t lookups);

/* sp is NULL when the spool is disabled; drained and drain_refused count the drainer's
 * records since start: written, and refused by the database (see drain_counts). */
void metrics_render(struct evbuffer *out, const struct pgw_stats *db, const struct spool_stats *sp,
		    uint64_t drained, uint64_t drain_refused);
/* The HTTP layer's own counters: requests refused for their framing (metrics_refused)
 * and accept_pauses, the times accepting paused at the open-files limit. */
void metrics_render_http(struct evbuffer *out, unsigned long long accept_pauses);

#endif
