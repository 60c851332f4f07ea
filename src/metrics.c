/* metrics — Prometheus text exposition (see metrics.h). */
#include "metrics.h"
#include "lookup.h"
#include "sources.h"
#include "wire.h"
#include "pgw.h"
#include "platform.h"
#include "spool.h"
#include "ts.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#define NBUCKETS 12

/* Per-platform counters have a row per platform (platform.c refuses to compile a table
 * longer than PLATFORM_MAX) and one more, OTHER: an index outside the table is a caller's
 * bug, and counting it there shows it on /metrics as platform="other" instead of losing
 * the delivery from every count. */
#define OTHER PLATFORM_MAX

static const char *const outcome_names[OUT_COUNT] = {
	"stored",       "duplicate", "unmapped", "failed",      "invalid",
	"unauthorized", "too_large", "rejected", "unavailable", "spooled",
};
static const double bucket_le[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					   0.1,   0.25,   0.5,   1,    2.5,   10};

static uint64_t deliveries[PLATFORM_MAX + 1][OUT_COUNT];
static uint64_t latency_buckets[NBUCKETS + 1]; /* last: +Inf */
static uint64_t latency_count;
static uint64_t latency_sum_us;
static uint64_t http_by_class[6];
static uint64_t refused[WIRE_REFUSALS];

/* 401 answers by the answer's error code; the label is the part after the '_'. */
static const char *const sig_codes[] = {"signature_missing", "signature_invalid", "signature_stale",
					"token_invalid"};
#define NSIG (int)(sizeof sig_codes / sizeof sig_codes[0])
static uint64_t sig_failures[PLATFORM_MAX + 1][NSIG];
static int64_t last_at[PLATFORM_MAX + 1];
static struct {
	int64_t at;
	char text[200];
} last_error[PLATFORM_MAX + 1];
static pthread_mutex_t error_mu = PTHREAD_MUTEX_INITIALIZER; /* guards last_error */

#define MAX_TYPES 256
static struct {
	int platform; /* a row, as platform_row() returns */
	char name[64];
	uint64_t n[OUT_COUNT];
} types[MAX_TYPES + 1]; /* the last one is "other" */
static int ntypes;
static pthread_mutex_t types_mu = PTHREAD_MUTEX_INITIALIZER; /* guards adding a type */

/* Counters are bumped from every event loop (CALLBRIDGE_WORKERS) and read by any. */
#define BUMP(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define READ(x)    __atomic_load_n(&(x), __ATOMIC_RELAXED)

static int platform_row(int platform)
{
	return platform >= 0 && platform < platform_count ? platform : OTHER;
}

static const char *row_slug(int row)
{
	return row == OTHER ? "other" : platforms[row].slug;
}

/* Whether any counter of row is set: the OTHER row is rendered only then. */
static bool row_used(const uint64_t *counters, int n)
{
	for (int i = 0; i < n; i++)
		if (READ(counters[i]))
			return true;
	return false;
}

static int find_type(int platform, const char *event_type, int n)
{
	for (int i = 0; i < n; i++)
		if (types[i].platform == platform && strcmp(types[i].name, event_type) == 0)
			return i;
	return -1;
}

static void count_type(int platform, const char *event_type, enum metrics_outcome outcome)
{
	int i = find_type(platform, event_type, __atomic_load_n(&ntypes, __ATOMIC_ACQUIRE));
	if (i < 0) {
		pthread_mutex_lock(&types_mu);
		i = find_type(platform, event_type, ntypes);
		if (i < 0 && (ntypes == MAX_TYPES || strlen(event_type) >= sizeof types[0].name)) {
			i = MAX_TYPES;
			types[i].platform = OTHER;
		} else if (i < 0) {
			i = ntypes;
			types[i].platform = platform;
			snprintf(types[i].name, sizeof types[i].name, "%s", event_type);
			__atomic_store_n(&ntypes, ntypes + 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&types_mu);
	}
	BUMP(types[i].n[outcome], 1);
}

void metrics_delivery(int platform, const char *event_type, enum metrics_outcome outcome,
		      int64_t latency_us)
{
	platform = platform_row(platform);
	BUMP(deliveries[platform][outcome], 1);
	__atomic_store_n(&last_at[platform], ts_now_us(), __ATOMIC_RELAXED);
	if (event_type)
		count_type(platform, event_type, outcome);
	double s = (double)latency_us / 1e6;
	int b = 0;
	while (b < NBUCKETS && s > bucket_le[b])
		b++;
	BUMP(latency_buckets[b], 1);
	BUMP(latency_count, 1);
	BUMP(latency_sum_us, (uint64_t)(latency_us > 0 ? latency_us : 0));
}

static uint64_t by_source[PLATFORM_MAX + 1][SOURCES_MAX + 1][OUT_COUNT];

void metrics_source_delivery(int platform, int label, enum metrics_outcome outcome)
{
	if (label >= 0 && label <= SOURCES_MAX)
		BUMP(by_source[platform_row(platform)][label][outcome], 1);
}

static void render_sources(struct evbuffer *out)
{
	evbuffer_add_printf(out, "# HELP callbridge_source_deliveries_total Deliveries by "
				 "platform, source and outcome.\n# TYPE "
				 "callbridge_source_deliveries_total counter\n");
	for (int p = 0; p <= PLATFORM_MAX; p++)
		for (int id = 0; id <= SOURCES_MAX; id++) {
			const char *name = NULL;
			for (int o = 0; o < OUT_COUNT; o++) {
				uint64_t n = READ(by_source[p][id][o]);
				if (!n || (!name && !(name = sources_label_name(id))))
					continue;
				evbuffer_add_printf(
					out,
					"callbridge_source_deliveries_total{platform=\"%s\","
					"source=\"%s\",outcome=\"%s\"} %llu\n",
					row_slug(p), name, outcome_names[o], (unsigned long long)n);
			}
		}
}

/* A latency histogram over bucket_le: its HELP, TYPE, buckets, sum and count. */
static void render_seconds(struct evbuffer *out, const char *name, const char *help,
			   const uint64_t *buckets, const uint64_t *sum_us, const uint64_t *count)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	uint64_t cum = 0;
	for (int b = 0; b < NBUCKETS; b++) {
		cum += READ(buckets[b]);
		evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[b],
				    (unsigned long long)cum);
	}
	cum += READ(buckets[NBUCKETS]);
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
			    (unsigned long long)cum, name, (double)READ(*sum_us) / 1e6, name,
			    (unsigned long long)READ(*count));
}

#define PRECALL_ROWS 9 /* adapters, then GET /v1/callers */
static uint64_t precall_n[PRECALL_ROWS][METRICS_PRECALL_OUTCOMES];
static uint64_t precall_buckets[NBUCKETS + 1];
static uint64_t precall_count, precall_sum_us, precall_unrecorded;

void metrics_precall(int adapter, int outcome, int64_t latency_us)
{
	if (adapter < 0 || adapter > lookup_adapter_count || adapter >= PRECALL_ROWS ||
	    outcome < 0 || outcome >= METRICS_PRECALL_OUTCOMES)
		return;
	BUMP(precall_n[adapter][outcome], 1);
	if (outcome >= METRICS_PRECALL_UNAUTHORIZED)
		return;
	double s = (double)latency_us / 1e6;
	int b = 0;
	while (b < NBUCKETS && s > bucket_le[b])
		b++;
	BUMP(precall_buckets[b], 1);
	BUMP(precall_count, 1);
	BUMP(precall_sum_us, (uint64_t)(latency_us > 0 ? latency_us : 0));
}

void metrics_precall_unrecorded(uint64_t n)
{
	BUMP(precall_unrecorded, n);
}

/* ---- maintenance ---- */

enum { MAINT_OK, MAINT_FAILED, MAINT_BUSY, MAINT_OUTCOMES };
static uint64_t maint_runs[MAINT_OUTCOMES], maint_made, maint_dropped, maint_events, maint_keys,
	maint_lookups;
static int64_t maint_last_ok_us;

void metrics_maintenance(int ok, int busy, uint64_t made, uint64_t dropped, uint64_t events,
			 uint64_t keys, uint64_t lookups)
{
	BUMP(maint_runs[!ok ? MAINT_FAILED : busy ? MAINT_BUSY : MAINT_OK], 1);
	if (!ok)
		return;
	BUMP(maint_made, made);
	BUMP(maint_dropped, dropped);
	BUMP(maint_events, events);
	BUMP(maint_keys, keys);
	BUMP(maint_lookups, lookups);
	if (!busy)
		__atomic_store_n(&maint_last_ok_us, ts_now_us(), __ATOMIC_RELAXED);
}

static void render_maintenance(struct evbuffer *out)
{
	evbuffer_add_printf(
		out,
		"# HELP callbridge_maintenance_runs_total Maintenance runs (partitions ahead, "
		"retention) by outcome; busy: another instance was maintaining.\n"
		"# TYPE callbridge_maintenance_runs_total counter\n"
		"callbridge_maintenance_runs_total{outcome=\"ok\"} %llu\n"
		"callbridge_maintenance_runs_total{outcome=\"failed\"} %llu\n"
		"callbridge_maintenance_runs_total{outcome=\"busy\"} %llu\n",
		(unsigned long long)READ(maint_runs[MAINT_OK]),
		(unsigned long long)READ(maint_runs[MAINT_FAILED]),
		(unsigned long long)READ(maint_runs[MAINT_BUSY]));
	int64_t last = __atomic_load_n(&maint_last_ok_us, __ATOMIC_RELAXED);
	evbuffer_add_printf(out,
			    "# HELP callbridge_maintenance_last_success_timestamp_seconds When "
			    "this instance last maintained the database (0: not yet).\n"
			    "# TYPE callbridge_maintenance_last_success_timestamp_seconds gauge\n"
			    "callbridge_maintenance_last_success_timestamp_seconds %.3f\n",
			    (double)last / 1e6);
	evbuffer_add_printf(out,
			    "# HELP callbridge_partitions_made_total Day partitions of "
			    "webhook_events made ahead.\n"
			    "# TYPE callbridge_partitions_made_total counter\n"
			    "callbridge_partitions_made_total %llu\n"
			    "# HELP callbridge_partitions_dropped_total Day partitions of "
			    "webhook_events dropped by the retention.\n"
			    "# TYPE callbridge_partitions_dropped_total counter\n"
			    "callbridge_partitions_dropped_total %llu\n",
			    (unsigned long long)READ(maint_made),
			    (unsigned long long)READ(maint_dropped));
	evbuffer_add_printf(out,
			    "# HELP callbridge_retention_removed_total Rows removed by the "
			    "retention, by kind.\n"
			    "# TYPE callbridge_retention_removed_total counter\n"
			    "callbridge_retention_removed_total{kind=\"raw_events\"} %llu\n"
			    "callbridge_retention_removed_total{kind=\"dedupe_keys\"} %llu\n"
			    "callbridge_retention_removed_total{kind=\"precall_lookups\"} %llu\n",
			    (unsigned long long)READ(maint_events),
			    (unsigned long long)READ(maint_keys),
			    (unsigned long long)READ(maint_lookups));
}

static void render_precall(struct evbuffer *out)
{
	static const char *const names[METRICS_PRECALL_OUTCOMES] = {
		"known", "unknown", "budget_exceeded", "unavailable", "unauthorized", "invalid"};
	evbuffer_add_printf(out, "# HELP callbridge_precall_lookups_total Pre-call lookups by "
				 "adapter and outcome.\n# TYPE callbridge_precall_lookups_total "
				 "counter\n");
	for (int a = 0; a <= lookup_adapter_count && a < PRECALL_ROWS; a++)
		for (int o = 0; o < METRICS_PRECALL_OUTCOMES; o++) {
			uint64_t n = READ(precall_n[a][o]);
			if (n)
				evbuffer_add_printf(
					out,
					"callbridge_precall_lookups_total{adapter=\"%s\",outcome=\"%s\"} "
					"%llu\n",
					a < lookup_adapter_count ? lookup_adapters[a].slug : "api",
					names[o], (unsigned long long)n);
		}
	render_seconds(out, "callbridge_precall_seconds",
		       "Time from a pre-call lookup's arrival to its answer.", precall_buckets,
		       &precall_sum_us, &precall_count);
	evbuffer_add_printf(out,
			    "# HELP callbridge_precall_unrecorded_total Pre-call lookups answered "
			    "but not recorded in precall_lookups (no database).\n"
			    "# TYPE callbridge_precall_unrecorded_total counter\n"
			    "callbridge_precall_unrecorded_total %llu\n",
			    (unsigned long long)READ(precall_unrecorded));
}

void metrics_delivery_error(int platform, const char *code, const char *detail)
{
	platform = platform_row(platform);
	pthread_mutex_lock(&error_mu);
	last_error[platform].at = ts_now_us();
	snprintf(last_error[platform].text, sizeof last_error[platform].text, "%s: %s",
		 code ? code : "", detail ? detail : "");
	pthread_mutex_unlock(&error_mu);
}

void metrics_platform_read(int platform, struct metrics_platform *out)
{
	platform = platform_row(platform);
	memset(out, 0, sizeof *out);
	for (int o = 0; o < OUT_COUNT; o++)
		out->n[o] = READ(deliveries[platform][o]);
	for (int i = 0; i < NSIG; i++)
		out->sig_failures += READ(sig_failures[platform][i]);
	out->last_at_us = READ(last_at[platform]);
	pthread_mutex_lock(&error_mu);
	out->last_error_at_us = last_error[platform].at;
	memcpy(out->last_error, last_error[platform].text, sizeof out->last_error);
	pthread_mutex_unlock(&error_mu);
}

const char *metrics_outcome_name(enum metrics_outcome o)
{
	return o >= 0 && o < OUT_COUNT ? outcome_names[o] : "?";
}

void metrics_http(int status)
{
	int cls = status / 100;
	if (cls >= 1 && cls <= 5)
		BUMP(http_by_class[cls], 1);
}

void metrics_refused(const char *reason)
{
	for (int r = WIRE_OK + 1; r < WIRE_REFUSALS; r++)
		if (!strcmp(wire_refusal_info(r)->name, reason)) {
			BUMP(refused[r], 1);
			return;
		}
}

void metrics_signature_failure(int platform, const char *code)
{
	platform = platform_row(platform);
	int i = 0;
	while (i < NSIG - 1 && strcmp(sig_codes[i], code) != 0)
		i++;
	if (strcmp(sig_codes[i], code) != 0)
		i = 1; /* an unknown code counts as invalid */
	BUMP(sig_failures[platform][i], 1);
}

/* A label value, quoted and escaped as the text format wants. */
static void label_value(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* The writer's retried batches by reason, and deliveries handed back at their deadline. */
static void render_retries(struct evbuffer *out, const struct pgw_stats *db)
{
	evbuffer_add_printf(out, "# HELP callbridge_batch_retries_total Batches rolled back and "
				 "tried again, by reason.\n"
				 "# TYPE callbridge_batch_retries_total counter\n");
	for (int r = 0; r < PGW_RETRY_COUNT; r++)
		evbuffer_add_printf(out, "callbridge_batch_retries_total{reason=\"%s\"} %llu\n",
				    pgw_retry_name((enum pgw_retry)r),
				    (unsigned long long)db->retries[r]);
	evbuffer_add_printf(out,
			    "# HELP callbridge_commit_deadline_expired_total Deliveries not "
			    "committed within CALLBRIDGE_COMMIT_DEADLINE_MS, handed back to be "
			    "spooled.\n"
			    "# TYPE callbridge_commit_deadline_expired_total counter\n"
			    "callbridge_commit_deadline_expired_total %llu\n",
			    (unsigned long long)db->expired);
}

/* Deliveries by platform and outcome, signature failures, deliveries by event type. */
static void render_deliveries(struct evbuffer *out)
{
	evbuffer_add_printf(out,
			    "# HELP callbridge_deliveries_total Webhook deliveries by "
			    "platform and outcome.\n# TYPE callbridge_deliveries_total counter\n");
	for (int p = 0; p <= OTHER; p++) {
		if (p == platform_count)
			p = OTHER;
		if (p == OTHER && !row_used(deliveries[p], OUT_COUNT))
			break;
		for (int o = 0; o < OUT_COUNT; o++)
			evbuffer_add_printf(
				out,
				"callbridge_deliveries_total{platform=\"%s\",outcome=\"%s\"} "
				"%llu\n",
				row_slug(p), outcome_names[o],
				(unsigned long long)READ(deliveries[p][o]));
	}

	evbuffer_add_printf(out, "# HELP callbridge_signature_failures_total Deliveries refused "
				 "401, by platform and reason.\n"
				 "# TYPE callbridge_signature_failures_total counter\n");
	for (int p = 0; p <= OTHER; p++) {
		if (p == platform_count)
			p = OTHER;
		if (p == OTHER && !row_used(sig_failures[p], NSIG))
			break;
		for (int i = 0; i < NSIG; i++) {
			const char *code = sig_codes[i];
			const char *reason =
				strncmp(code, "signature_", 10) == 0 ? code + 10 : "token";
			evbuffer_add_printf(out,
					    "callbridge_signature_failures_total{platform=\"%s\","
					    "reason=\"%s\"} %llu\n",
					    row_slug(p), reason,
					    (unsigned long long)READ(sig_failures[p][i]));
		}
	}

	evbuffer_add_printf(out, "# HELP callbridge_events_total Deliveries by platform, event "
				 "type and outcome.\n# TYPE callbridge_events_total counter\n");
	int known = __atomic_load_n(&ntypes, __ATOMIC_ACQUIRE);
	for (int i = 0; i <= MAX_TYPES; i++) {
		if (i == known && i < MAX_TYPES)
			i = MAX_TYPES;
		for (int o = 0; o < OUT_COUNT; o++) {
			uint64_t n = READ(types[i].n[o]);
			if (!n)
				continue;
			evbuffer_add_printf(out,
					    "callbridge_events_total{platform=\"%s\",event_type=",
					    row_slug(types[i].platform));
			label_value(out, i == MAX_TYPES ? "other" : types[i].name);
			evbuffer_add_printf(out, ",outcome=\"%s\"} %llu\n", outcome_names[o],
					    (unsigned long long)n);
		}
	}
}

/* The writer: connection state, batches, commit times, retries. */
static void render_database(struct evbuffer *out, const struct pgw_stats *db)
{
	evbuffer_add_printf(
		out,
		"# HELP callbridge_database_up Whether a database connection is ready.\n"
		"# TYPE callbridge_database_up gauge\ncallbridge_database_up %d\n"
		"# HELP callbridge_database_down_seconds How long no database connection has "
		"been ready (0 while one is).\n"
		"# TYPE callbridge_database_down_seconds gauge\n"
		"callbridge_database_down_seconds %.3f\n"
		"# HELP callbridge_database_unnamed_statements Whether statements are sent "
		"unnamed, for a transaction-mode pooler (set, or seen to be needed).\n"
		"# TYPE callbridge_database_unnamed_statements gauge\n"
		"callbridge_database_unnamed_statements %d\n"
		"# HELP callbridge_inflight Deliveries waiting for the database.\n"
		"# TYPE callbridge_inflight gauge\ncallbridge_inflight %d\n"
		"# HELP callbridge_batches_total Committed batches.\n"
		"# TYPE callbridge_batches_total counter\ncallbridge_batches_total %llu\n"
		"# HELP callbridge_batched_deliveries_total Deliveries in committed "
		"batches.\n# TYPE callbridge_batched_deliveries_total counter\n"
		"callbridge_batched_deliveries_total %llu\n"
		"# HELP callbridge_batches_row_by_row_total Committed batches written with "
		"statements per delivery instead of per batch.\n"
		"# TYPE callbridge_batches_row_by_row_total counter\n"
		"callbridge_batches_row_by_row_total %llu\n"
		"# HELP callbridge_database_reconnects_total Lost or failed database "
		"connections.\n# TYPE callbridge_database_reconnects_total counter\n"
		"callbridge_database_reconnects_total %llu\n",
		db->up ? 1 : 0, (double)db->down_ms / 1000, db->unnamed ? 1 : 0, db->inflight,
		(unsigned long long)db->batches, (unsigned long long)db->batched,
		(unsigned long long)db->row_by_row, (unsigned long long)db->reconnects);
	evbuffer_add_printf(out, "# HELP callbridge_batch_size Deliveries per committed batch.\n"
				 "# TYPE callbridge_batch_size histogram\n");
	uint64_t bcum = 0;
	for (int b = 0; b < PGW_BATCH_BUCKETS; b++) {
		bcum += db->batch_hist[b];
		evbuffer_add_printf(out, "callbridge_batch_size_bucket{le=\"%d\"} %llu\n", 1 << b,
				    (unsigned long long)bcum);
	}
	bcum += db->batch_hist[PGW_BATCH_BUCKETS];
	evbuffer_add_printf(out,
			    "callbridge_batch_size_bucket{le=\"+Inf\"} %llu\n"
			    "callbridge_batch_size_sum %llu\ncallbridge_batch_size_count %llu\n",
			    (unsigned long long)bcum, (unsigned long long)db->batched,
			    (unsigned long long)db->batches);
	evbuffer_add_printf(out, "# HELP callbridge_commit_seconds A batch's time from its "
				 "statements sent to its COMMIT done.\n"
				 "# TYPE callbridge_commit_seconds histogram\n");
	bcum = 0;
	for (int b = 0; b < PGW_COMMIT_BUCKETS; b++) {
		bcum += db->commit_hist[b];
		evbuffer_add_printf(out, "callbridge_commit_seconds_bucket{le=\"%g\"} %llu\n",
				    pgw_commit_le_s[b], (unsigned long long)bcum);
	}
	bcum += db->commit_hist[PGW_COMMIT_BUCKETS];
	evbuffer_add_printf(
		out,
		"callbridge_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
		"callbridge_commit_seconds_sum %.3f\ncallbridge_commit_seconds_count %llu\n",
		(unsigned long long)bcum, (double)db->commit_ms_sum / 1000,
		(unsigned long long)bcum);
	render_retries(out, db);
}

/* The spool and its drain. */
static void render_spool(struct evbuffer *out, const struct spool_stats *sp, uint64_t drained,
			 uint64_t drain_refused)
{
	int64_t since = sp->backlog_since_us;
	double backlog = since ? (double)(ts_now_us() - since) / 1e6 : 0;
	evbuffer_add_printf(
		out,
		"# HELP callbridge_spool_backlog_seconds How long the spool has held "
		"records without being empty (0 when empty).\n"
		"# TYPE callbridge_spool_backlog_seconds gauge\n"
		"callbridge_spool_backlog_seconds %.3f\n"
		"# HELP callbridge_spool_drained_total Spooled records written to the "
		"database since start.\n# TYPE callbridge_spool_drained_total counter\n"
		"callbridge_spool_drained_total %llu\n"
		"# HELP callbridge_spool_refused_total Spooled records the database "
		"refused when drained: stored raw as failed (dead letters), or kept in "
		"quarantine.\n"
		"# TYPE callbridge_spool_refused_total counter\n"
		"callbridge_spool_refused_total %llu\n"
		"# HELP callbridge_spool_quarantined_segments_total Spool segments kept "
		"in quarantine (refused even as dead letters).\n"
		"# TYPE callbridge_spool_quarantined_segments_total counter\n"
		"callbridge_spool_quarantined_segments_total %llu\n",
		backlog > 0 ? backlog : 0, (unsigned long long)drained,
		(unsigned long long)drain_refused, (unsigned long long)sp->quarantined);
	evbuffer_add_printf(
		out,
		"# HELP callbridge_spool_bytes Bytes in the spool.\n"
		"# TYPE callbridge_spool_bytes gauge\ncallbridge_spool_bytes %llu\n"
		"# HELP callbridge_spool_records Records waiting in the spool.\n"
		"# TYPE callbridge_spool_records gauge\ncallbridge_spool_records %llu\n"
		"# HELP callbridge_spool_corrupt_records_total Records skipped at "
		"start-up because their checksum failed.\n"
		"# TYPE callbridge_spool_corrupt_records_total counter\n"
		"callbridge_spool_corrupt_records_total %llu\n"
		"# HELP callbridge_spool_fsyncs_total Spool syncs (each covers a group of "
		"records).\n# TYPE callbridge_spool_fsyncs_total counter\n"
		"callbridge_spool_fsyncs_total %llu\n",
		(unsigned long long)sp->bytes, (unsigned long long)sp->records,
		(unsigned long long)sp->corrupt, (unsigned long long)sp->fsyncs);
}

void metrics_render(struct evbuffer *out, const struct pgw_stats *db, const struct spool_stats *sp,
		    uint64_t drained, uint64_t drain_refused)
{
	render_deliveries(out);
	render_seconds(out, "callbridge_delivery_seconds",
		       "Time from a delivery's arrival to its answer.", latency_buckets,
		       &latency_sum_us, &latency_count);
	render_sources(out);
	render_precall(out);
	render_maintenance(out);
	evbuffer_add_printf(out, "# HELP callbridge_http_responses_total HTTP answers by status "
				 "class.\n# TYPE callbridge_http_responses_total counter\n");
	for (int c = 1; c <= 5; c++)
		evbuffer_add_printf(out, "callbridge_http_responses_total{class=\"%dxx\"} %llu\n",
				    c, (unsigned long long)READ(http_by_class[c]));
	render_database(out, db);
	if (sp)
		render_spool(out, sp, drained, drain_refused);
}

void metrics_render_http(struct evbuffer *out, unsigned long long accept_pauses)
{
	evbuffer_add_printf(out, "# HELP callbridge_http_refused_total Requests refused for their "
				 "framing or size before any handling, by reason; each closes its "
				 "connection.\n"
				 "# TYPE callbridge_http_refused_total counter\n");
	for (int r = WIRE_OK + 1; r < WIRE_REFUSALS; r++)
		evbuffer_add_printf(
			out, "callbridge_http_refused_total{reason=\"%s\"} %llu\n",
			wire_refusal_info(r)->name,
			(unsigned long long)__atomic_load_n(&refused[r], __ATOMIC_RELAXED));
	evbuffer_add_printf(out,
			    "# HELP callbridge_accept_pauses_total Times accepting paused because "
			    "the open-files limit (CALLBRIDGE_MAX_CONNECTIONS) was reached.\n"
			    "# TYPE callbridge_accept_pauses_total counter\n"
			    "callbridge_accept_pauses_total %llu\n",
			    accept_pauses);
}
