/* The per-platform counters: one series per platform in the table, and a delivery
 * counted under an index outside the table shows as platform="other" instead of being
 * dropped from every count. */
#include "harness.h"
#include "metrics.h"
#include "pgw.h"
#include "platform.h"

#include <stdlib.h>

#include <event2/buffer.h>

/* /metrics as text (malloc'd). */
static char *render(void)
{
	struct pgw_stats db = {0};
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return NULL;
	metrics_render(b, &db, NULL, 0, 0);
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	if (s) {
		evbuffer_remove(b, s, n);
		s[n] = '\0';
	}
	evbuffer_free(b);
	return s;
}

static bool has(const char *text, const char *line)
{
	char want[512];
	snprintf(want, sizeof want, "\n%s\n", line);
	return strstr(text, want) != NULL;
}

int main(void)
{
	char line[256];
	char *m = render();
	if (!ok(m != NULL, "metrics render"))
		return done_testing();
	for (int p = 0; p < platform_count; p++) {
		snprintf(line, sizeof line,
			 "callbridge_deliveries_total{platform=\"%s\",outcome=\"stored\"} 0",
			 platforms[p].slug);
		ok(has(m, line), "a series for %s", platforms[p].slug);
	}
	ok(!strstr(m, "platform=\"other\""), "no \"other\" series while nothing counts there");
	free(m);

	metrics_delivery(0, "call.completed", OUT_STORED, 1000);
	metrics_delivery(platform_count, "call.completed", OUT_STORED, 1000);
	metrics_delivery(PLATFORM_MAX, NULL, OUT_INVALID, 1000);
	metrics_delivery(-1, NULL, OUT_INVALID, 1000);
	metrics_signature_failure(platform_count, "signature_invalid");
	m = render();
	if (!ok(m != NULL, "metrics render again"))
		return done_testing();
	snprintf(line, sizeof line,
		 "callbridge_deliveries_total{platform=\"%s\",outcome=\"stored\"} 1",
		 platforms[0].slug);
	ok(has(m, line), "a platform's delivery counts under it");
	ok(has(m, "callbridge_deliveries_total{platform=\"other\",outcome=\"stored\"} 1"),
	   "an index past the table counts as platform=\"other\"");
	ok(has(m, "callbridge_deliveries_total{platform=\"other\",outcome=\"invalid\"} 2"),
	   "so do PLATFORM_MAX and -1");
	ok(has(m, "callbridge_events_total{platform=\"other\",event_type=\"call.completed\","
		  "outcome=\"stored\"} 1"),
	   "and its event type, under \"other\"");
	ok(has(m, "callbridge_signature_failures_total{platform=\"other\",reason=\"invalid\"} 1"),
	   "a signature failure too");
	ok(has(m, "callbridge_delivery_seconds_count 4"), "every delivery is in the histogram");
	free(m);
	return done_testing();
}
