/* callers — the pre-call lookup routes (docs/precall.md): POST /precall/<slug>[/<source>]
 * in a platform's own request shape (lookup.h's adapters) and GET /v1/callers/<phone>.
 * The bearer token is compared with every candidate in constant time, the request is
 * parsed, the lookup runs on this loop's precall service (precall.h) and its answer, a
 * 200 once the token is right (an unknown caller's when nothing comes in time), leaves
 * through reply.h. */
#ifndef CALLBRIDGE_CALLERS_H
#define CALLBRIDGE_CALLERS_H

#include "config.h"

#include <stdbool.h>

struct event_base;
struct evhttp_request;
struct reply_opts;
struct callers;

/* The routes of one server on base's loop; its answers share reply (borrowed). NULL
 * when out of memory or when the lookup service cannot be set up. */
struct callers *callers_new(struct event_base *base, const struct config *cfg,
			    const struct reply_opts *reply);

/* Answers req and returns true when path is a lookup route; false when it is not one. */
bool callers_route(struct callers *c, struct evhttp_request *req, const char *path);

/* Frees the lookup service, answering nothing more (before the connections its lookups
 * watch are freed). */
void callers_free(struct callers **c);

#endif
