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
/* A 401: code is the answer's error code (signature_missing, signature_invalid,
 * signature_stale or token_invalid). */
void metrics_signature_failure(int platform, const char *code);
/* A request wire.c refused; reason is the refusal's name (wire_refusal_info). */
void metrics_refused(const char *reason);
/* sp is NULL when the spool is disabled. */
void metrics_render(struct evbuffer *out, const struct pgw_stats *db, const struct spool_stats *sp);
/* The HTTP layer's own counters: requests refused for their framing (metrics_refused)
 * and accept_pauses, the times accepting paused at the open-files limit. */
void metrics_render_http(struct evbuffer *out, unsigned long long accept_pauses);

#endif
