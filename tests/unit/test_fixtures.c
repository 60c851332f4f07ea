/* Data-driven mapper tests: every tests/fixtures/<slug>/<name>.json is run through intake
 * (parse, map; signatures are not checked here) and the result, in rows_dump's format,
 * must equal <name>.rows beside it. <name>.headers, when present, holds request headers
 * ("Name: value" lines); <name>.zone, when present, the platform's time zone
 * (CALLBRIDGE_<SLUG>_TIMEZONE) for that fixture. A refused body dumps as
 * "refused = <status> <code>".
 * With UPDATE_FIXTURES=1 a missing .rows file is written (review it before committing);
 * FIXTURE_PLATFORM=<slug> runs one platform's fixtures only. */
#include "harness.h"
#include "intake.h"
#include "ts.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <strings.h>

#define MAX_HEADERS 32

struct headers {
	int n;
	char name[MAX_HEADERS][128];
	char value[MAX_HEADERS][1024];
};

static const char *header_get(void *ctx, const char *name)
{
	struct headers *h = ctx;
	for (int i = 0; i < h->n; i++)
		if (!strcasecmp(h->name[i], name))
			return h->value[i];
	return NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n + 4096 > cap) {
			cap = (cap + 4096) * 2;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void read_headers(const char *path, struct headers *h)
{
	h->n = 0;
	FILE *f = fopen(path, "r");
	char line[1200];
	if (!f)
		return;
	while (h->n < MAX_HEADERS && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		snprintf(h->name[h->n], sizeof h->name[0], "%.127s", line);
		snprintf(h->value[h->n], sizeof h->value[0], "%.1023s", v);
		h->n++;
	}
	fclose(f);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Sets CALLBRIDGE_<SLUG>_TIMEZONE to zone (NULL: unsets it) and reloads the zones. */
static void set_zone(const struct platform *p, const char *zone)
{
	char name[64], err[300];
	int n = snprintf(name, sizeof name, "CALLBRIDGE_");
	for (const char *c = p->slug; *c; c++)
		name[n++] = (char)toupper((unsigned char)*c);
	snprintf(name + n, sizeof name - (size_t)n, "_TIMEZONE");
	if (zone)
		setenv(name, zone, 1);
	else
		unsetenv(name);
	ok(platform_load_zones(err, sizeof err) == 0, "%s=%s loads (%s)", name,
	   zone ? zone : "(unset)", zone ? err : "UTC");
}

static void run_fixture(const struct platform *p, const char *dir, const char *file)
{
	char path[1024], rows_path[1024], hdr_path[1024], zone_path[1024];
	size_t len = 0;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	snprintf(rows_path, sizeof rows_path, "%s/%.*s.rows", dir, (int)(strlen(file) - 5), file);
	snprintf(hdr_path, sizeof hdr_path, "%s/%.*s.headers", dir, (int)(strlen(file) - 5), file);

	snprintf(zone_path, sizeof zone_path, "%s/%.*s.zone", dir, (int)(strlen(file) - 5), file);
	char *zone = slurp(zone_path, NULL);
	if (zone) {
		zone[strcspn(zone, "\r\n")] = '\0';
		set_zone(p, zone);
	}
	char *body = slurp(path, &len);
	if (!ok(body != NULL, "%s: readable", path)) {
		free(zone);
		return;
	}
	struct headers h;
	read_headers(hdr_path, &h);
	struct mapped m = {0};
	struct intake_error err;
	char *got = NULL;
	size_t got_len = 0;
	FILE *out = open_memstream(&got, &got_len);
	/* A fixed clock, so fixtures without an event time map the same every run. */
	int64_t now = 1767225600LL * 1000000; /* 2026-01-01T00:00:00Z */
	if (intake_map(p, body, len, header_get, &h, false, now, &m, &err) < 0)
		fprintf(out, "refused = %d %s\n", err.status, err.code);
	else
		rows_dump(&m, out);
	fclose(out);

	char *want = slurp(rows_path, NULL);
	if (!want && getenv("UPDATE_FIXTURES")) {
		FILE *f = fopen(rows_path, "w");
		if (f) {
			fputs(got, f);
			fclose(f);
		}
		want = slurp(rows_path, NULL);
	}
	if (!want) {
		ok(0, "%s: expected rows in %s", path, rows_path);
		printf("# got:\n");
		for (char *line = strtok(got, "\n"); line; line = strtok(NULL, "\n"))
			printf("#   %s\n", line);
	} else {
		is_str(got, want, "%s maps as %s", path, rows_path);
	}
	free(want);
	free(got);
	free(body);
	rows_free(&m);
	if (zone)
		set_zone(p, NULL);
	free(zone);
}

int main(void)
{
	const char *only = getenv("FIXTURE_PLATFORM"); /* run one platform's fixtures */
	for (int i = 0; i < platform_count; i++) {
		const struct platform *p = &platforms[i];
		if (only && strcmp(only, p->slug) != 0)
			continue;
		char dir[256];
		struct dirent **names = NULL;
		snprintf(dir, sizeof dir, "tests/fixtures/%s", p->slug);
		int n = scandir(dir, &names, NULL, by_name);
		int seen = 0;
		for (int k = 0; k < n; k++) {
			const char *f = names[k]->d_name;
			size_t l = strlen(f);
			if (l > 5 && !strcmp(f + l - 5, ".json")) {
				run_fixture(p, dir, f);
				seen++;
			}
			free(names[k]);
		}
		free(names);
		ok(seen > 0, "%s has fixtures (%d)", p->slug, seen);
	}
	return done_testing();
}
