/* platform — the one table of platforms: slug (the route /webhooks/<slug>), display
 * name, signature scheme and mapper. Adding a platform means a mapper file, its
 * prototype below, one line in platform.c, and its fixtures and docs; docs/platforms.md
 * names them all and tests/e2e/62-platforms.t checks them. */
#ifndef CALLBRIDGE_PLATFORM_H
#define CALLBRIDGE_PLATFORM_H

#include <json-c/json.h>

#include "rows.h"
#include "verify.h"

/* What a mapper sees of a delivery. header() returns a request header by
 * case-insensitive name, or NULL (always NULL when re-mapping stored events). */
struct map_input {
	json_object *root;
	const char *(*header)(void *ctx, const char *name);
	void *header_ctx;
};

/* A mapper is pure: it reads in (borrowed) and fills out (already reset); it does no I/O.
 * It sets out->status: MAP_MAPPED with rows, MAP_UNMAPPED for an event type it does not
 * know (stored raw, answered 2xx), or MAP_FAILED via rows_fail() when the event cannot
 * be used (answered 400). It sets the de-duplication key whenever it can. */
typedef void map_fn(const struct map_input *in, struct mapped *out);

struct platform {
	const char *slug;
	const char *name;
	enum verify_scheme scheme;
	const char *signature_header; /* VERIFY_HEX_BODY: where the signature comes */
	map_fn *map;
};

/* The capacity of the per-platform tables in verify.c and metrics.c; platform.c
 * refuses to compile a table that does not fit. */
#define PLATFORM_MAX 16

extern const struct platform platforms[];
extern const int platform_count;

const struct platform *platform_find(const char *slug, size_t len);

/* Header lookup helper for mappers: NULL-safe. */
const char *platform_header(const struct map_input *in, const char *name);

map_fn map_simz, map_simpleai, map_atoms, map_replicer, map_allo;

#endif
