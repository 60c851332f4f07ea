/* platform — the platform table (see platform.h). */
#include "platform.h"
#include "config.h"
#include "tz.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const struct platform platforms[] = {
	{"simz", "SimZ", VERIFY_SIMZ, NULL, map_simz},
	{"simpleai", "Simple AI", VERIFY_STANDARD, NULL, map_simpleai},
	{"atoms", "Smallest.ai Atoms", VERIFY_HEX_BODY, "X-Signature", map_atoms},
	{"replicer", "Replicer", VERIFY_HEX_BODY, "X-Replicer-Signature", map_replicer},
	{"allo", "Allo", VERIFY_STANDARD, NULL, map_allo},
};
const int platform_count = sizeof platforms / sizeof platforms[0];
_Static_assert(sizeof platforms / sizeof platforms[0] <= PLATFORM_MAX,
	       "the platform table outgrew PLATFORM_MAX (platform.h)");

const struct platform *platform_find(const char *slug, size_t len)
{
	for (int i = 0; i < platform_count; i++)
		if (strlen(platforms[i].slug) == len && memcmp(platforms[i].slug, slug, len) == 0)
			return &platforms[i];
	return NULL;
}

const char *platform_header(const struct map_input *in, const char *name)
{
	return in->header ? in->header(in->header_ctx, name) : NULL;
}

/* The zone of each platform's local times, index as in platforms[]; NULL: UTC. Written
 * once by platform_load_zones before any delivery is mapped, then only read. */
static struct tz *zones[PLATFORM_MAX];

int platform_load_zones(char *err, size_t errlen)
{
	platform_free_zones();
	for (int i = 0; i < platform_count; i++) {
		char name[64], why[300];
		size_t n = 0;
		n += (size_t)snprintf(name, sizeof name, "CALLBRIDGE_");
		for (const char *c = platforms[i].slug; *c && n + 1 < sizeof name; c++)
			name[n++] = (char)toupper((unsigned char)*c);
		snprintf(name + n, sizeof name - n, "_TIMEZONE");
		const char *v = cfg_lookup(name);
		if (!v || !*v || !strcmp(v, "UTC") || !strcmp(v, "Etc/UTC"))
			continue;
		if (!(zones[i] = tz_load(v, why, sizeof why))) {
			snprintf(err, errlen, "%s: %s", name, why);
			platform_free_zones();
			return -1;
		}
	}
	return 0;
}

void platform_free_zones(void)
{
	for (int i = 0; i < PLATFORM_MAX; i++) {
		tz_free(zones[i]);
		zones[i] = NULL;
	}
}

const struct tz *platform_zone(const struct platform *p)
{
	return zones[p - platforms];
}
