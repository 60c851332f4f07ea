/* platform — the platform table (see platform.h). */
#include "platform.h"

#include <string.h>

const struct platform platforms[] = {
	{"simz", "SimZ", VERIFY_SIMZ, map_simz},
};
const int platform_count = sizeof platforms / sizeof platforms[0];

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
