/* platform — the platform table (see platform.h). */
#include "platform.h"

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
