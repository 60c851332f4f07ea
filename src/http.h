/* http — the evhttp server: listening, TLS, routes, limits and answers. Every request
 * ends in exactly one reply. POST /webhooks/<slug> runs intake (verify, parse, map) and
 * submits the delivery to the writer (writer.h); its answer is sent when the writer
 * reports: after COMMIT, or after the spool's fsync when the database cannot take it. */
#ifndef CALLBRIDGE_HTTP_H
#define CALLBRIDGE_HTTP_H

#include "config.h"

struct event_base;
struct http_server;
struct writer;

/* The main loop's server: it submits to writer on this loop. */
struct http_server *http_new(struct event_base *base, const struct config *cfg,
			     struct writer *writer);

/* Binds cfg->listen:cfg->port. Returns -1 with err filled when it cannot. */
int http_listen(struct http_server *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Stops accepting connections; requests that still arrive on open connections are
 * answered 503. Deliveries already handed to the writer are answered as usual. */
void http_stop(struct http_server *s);

/* The port http_listen bound (the kernel's pick when the configured port is 0); -1
 * before. */
int http_port(const struct http_server *s);

/* Deliveries handed to the writer and not answered yet, over every loop. */
int http_inflight(void);

/* CALLBRIDGE_WORKERS > 1: receivers are servers on other threads' loops that share the
 * port (SO_REUSEPORT), verify, parse and map on their own loop, and submit each delivery
 * through the writer's hand-off (writer_enable_handoff first), which sends it back
 * answered. /readyz and /metrics on a receiver show the writer's database and spool as
 * of at most 100 ms ago.
 * Before the receiver's loop runs; then http_listen it. */
struct http_server *http_new_receiver(struct event_base *base, struct http_server *main_server);
/* From the writer's thread: the receiver stops accepting (like http_stop); exit also
 * stops it, then it leaves its loop once it has answered what was sent back before. */
void http_post_stop(struct http_server *receiver);
void http_post_exit(struct http_server *receiver);

void http_free(struct http_server **s);

#endif
