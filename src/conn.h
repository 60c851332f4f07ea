/* conn — one client connection under evhttp: its bytes judged by wire (wire.h) before
 * evhttp reads them, the lingering close after a refusal, and a word to its owner when
 * the client goes away.
 *
 * conn_bev is evhttp's bufferevent callback: every accepted connection gets a socket
 * (or TLS) bufferevent with an input callback that moves each read's bytes aside and
 * gives back only what wire passes on. The connection's state is made on its first
 * byte (a client that connects and says nothing costs nothing) and freed when evhttp
 * frees the connection. Each connection belongs to the event loop that accepted it;
 * nothing here is shared between loops but the lingering list (under a lock). */
#ifndef CALLBRIDGE_CONN_H
#define CALLBRIDGE_CONN_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

struct wire_refusal_info;

struct conn;

/* Before any connection: the body limit wire enforces, and the most descriptors the
 * process may hold (connections are found by descriptor). 0/-1. */
int conn_setup(long long max_body, int max_fds) __attribute__((warn_unused_result));

/* evhttp_set_bevcb's callback; arg is an SSL_CTX for TLS, or NULL. */
struct bufferevent *conn_bev(struct event_base *base, void *arg);

/* The connection a request came on; NULL only if it did not come through conn_bev. */
struct conn *conn_of(struct evhttp_request *req);

/* Called once for each request, as it is handed over: the refusal it is answered with
 * (wire.h), or NULL for a request to handle. */
const struct wire_refusal_info *conn_refusal(struct evhttp_request *req);

/* gone(arg) is called once if the client's connection closes before conn_watch(c,
 * NULL, NULL) is called again. One watcher per connection. */
void conn_watch(struct conn *c, void (*gone)(void *arg), void *arg);

/* Marks req's answer as the connection's last: "Connection: close" is added, and once
 * the answer is written the socket stops sending and reads and drops what the client
 * still sends, for a bounded time and size, before closing — so a client still
 * sending a body reads the answer instead of a reset (nginx's lingering close). */
void conn_close_after(struct evhttp_request *req);

/* Ends the lingering closes on base's loop (at exit). */
void conn_linger_stop(struct event_base *base);

#endif
