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

/* The port http_listen bound (the kernel's pick when the configured port is 0); -1
 * before. */
int http_port(const struct http_server *s);

/* Deliveries handed to the writer and not answered yet, over every loop. */
int http_inflight(void);

/* CALLBRIDGE_WORKERS > 1: receivers are servers on other threads' loops that share the
 * port (SO_REUSEPORT), verify, parse and map on their own loop, and hand each delivery
 * to the writer (the server created with the pgw and the spool, on the main loop), which
 * sends it back answered. /readyz and /metrics on a receiver show the writer's database
 * and spool as of at most 100 ms ago.
 * On the writer, before its loop runs: */
int http_enable_handoff(struct http_server *writer) __attribute__((warn_unused_result));
/* Before the receiver's loop runs; then http_listen it. */
struct http_server *http_new_receiver(struct event_base *base, struct http_server *writer);
/* From the writer's thread: the receiver stops accepting (like http_stop); exit also
 * stops it, then it leaves its loop once it has answered what was sent back before. */
void http_post_stop(struct http_server *receiver);
void http_post_exit(struct http_server *receiver);
/* On the writer, after its pgw and spool are freed: deliveries handed over from now on
 * are answered 503. Receivers are still running. */
void http_detach(struct http_server *writer);

void http_free(struct http_server **s);

#endif
