/* http — the evhttp server: routes, limits and answers. Every request ends in exactly one
 * reply. POST /webhooks/<slug> runs intake (verify, parse, map) and hands the delivery to
 * the writer; its answer is sent when the writer reports, i.e. after COMMIT. When the
 * database cannot take it, the delivery goes to the spool instead and is answered
 * "spooled" after fsync. */
#ifndef CALLBRIDGE_HTTP_H
#define CALLBRIDGE_HTTP_H

#include "config.h"

struct event_base;
struct pgw;
struct spool;
struct http_server;

/* spool may be NULL (disabled): deliveries the database cannot take are then 503. */
struct http_server *http_new(struct event_base *base, const struct config *cfg, struct pgw *pgw,
			     struct spool *spool);

/* Binds cfg->listen:cfg->port. Returns -1 with err filled when it cannot. */
int http_listen(struct http_server *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Stops accepting connections; requests that still arrive on open connections are
 * answered 503. Deliveries already handed to the writer are answered as usual. */
void http_stop(struct http_server *s);

/* Deliveries handed to the writer and not answered yet. */
int http_inflight(const struct http_server *s);

void http_free(struct http_server **s);

#endif
