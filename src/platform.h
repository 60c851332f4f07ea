/* platform — the one table of platforms: slug (the route /webhooks/<slug>), display
 * name, signature scheme and mapper. Adding a platform means a mapper file, its
 * prototype below, one line in platform.c, and its fixtures and docs; docs/platforms.md
 * names them all and tests/e2e/62-platforms.t checks them. */
#ifndef CALLBRIDGE_PLATFORM_H
#define CALLBRIDGE_PLATFORM_H

#include <json-c/json.h>

#include "rows.h"
#include "verify.h"

struct tz;

/* What a mapper sees of a delivery. header() returns a request header by
 * case-insensitive name, or NULL (always NULL when re-mapping stored events). zone is
 * the platform's CALLBRIDGE_<SLUG>_TIMEZONE (NULL: UTC), for timestamps sent without an
 * offset; intake passes the same one on arrival, when the spool drains and in replay,
 * and copies it to the struct mapped, where field_ts reads it. */
struct map_input {
	json_object *root;
	const char *(*header)(void *ctx, const char *name);
	void *header_ctx;
	const struct tz *zone;
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

/* Reads CALLBRIDGE_<SLUG>_TIMEZONE (an IANA name; unset or UTC: UTC) of every platform
 * and loads each zone once (I/O: call at start-up, before any delivery is mapped). -1
 * with "NAME: reason" in err when a zone is unknown. */
int platform_load_zones(char *err, size_t errlen) __attribute__((warn_unused_result));
void platform_free_zones(void);

/* The zone of p's local times, or NULL (UTC). */
const struct tz *platform_zone(const struct platform *p);

/* Header lookup helper for mappers: NULL-safe. */
const char *platform_header(const struct map_input *in, const char *name);

map_fn map_simz, map_simpleai, map_atoms, map_replicer, map_allo;

#endif
