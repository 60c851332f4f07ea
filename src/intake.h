/* intake — one delivery's way from raw bytes to rows, with no I/O: verify the signature
 * over the raw body, parse it once, run the platform's mapper, settle the
 * de-duplication key. Used by the HTTP server and by anything that re-feeds stored
 * bodies. */
#ifndef CALLBRIDGE_INTAKE_H
#define CALLBRIDGE_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"

/* Deepest JSON nesting accepted; deeper bodies are refused as invalid. */
#define INTAKE_MAX_DEPTH 64

struct intake_error {
	int status; /* HTTP status to answer */
	const char
		*code; /* machine-readable, e.g. "invalid_json"; every code is in the
			  docs/http.md error table (tests/e2e/60-docs.t finds them in the source) */
	char detail[200];
};

/* Fills out (which must be reset) from the body. Returns 0 when the delivery should be
 * stored (out->status may still be MAP_FAILED: stored raw as 'failed', answered 400), or
 * -1 with err filled when it must be refused without storing anything. verify=false
 * skips the signature check (bodies that were verified when they arrived). */
int intake_map(const struct platform *p, const char *body, size_t len,
	       const char *(*header)(void *ctx, const char *name), void *ctx, bool verify,
	       int64_t now_us, struct mapped *out, struct intake_error *err)
	__attribute__((warn_unused_result));

/* As intake_map without verification, for an event of the source named source (its time
 * zone; the platform's when no such source is configured now): the drainer and replay. */
int intake_map_source(const struct platform *p, const char *source, const char *body, size_t len,
		      struct mapped *out, struct intake_error *err)
	__attribute__((warn_unused_result));

/* As intake_map, with verification by the source src (its platform's mapper), for a
 * request that came with path_token (the last path segment, or NULL). */
struct source;
int intake_request(const struct source *src, const char *path_token, const char *body, size_t len,
		   const char *(*header)(void *ctx, const char *name), void *ctx, int64_t now_us,
		   struct mapped *out, struct intake_error *err)
	__attribute__((warn_unused_result));

#endif
