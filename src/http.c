/* http — listening, routing and the webhook route over libevent's evhttp (see http.h);
 * the pre-call lookup routes are callers.c's, and every answer leaves through reply.c.
 *
 * What evhttp parses has been judged first: conn.c gives every connection a
 * bufferevent whose input passes through wire.c, a strict HTTP/1.1 framing scanner,
 * so evhttp only ever sees whole, valid heads in a normal form ("HTTP/1.1", one
 * Content-Length or chunked, an explicit Connection). A request wire refused arrives
 * here as a marker (a request, or a trailer field, "Callbridge-Refusal: <name>"); it
 * is answered with the refusal's JSON error and the connection closes lingering, so
 * nothing sent after a refused request can be read as one, and a client still sending
 * an oversized body reads its 413 instead of a reset. Every answer, evhttp's included,
 * is built by reply.c: evhttp is never left to send its own HTML page. */
#include "http.h"
#include "callers.h"
#include "conn.h"
#include "intake.h"
#include "log.h"
#include "metrics.h"
#include "platform.h"
#include "relay.h"
#include "reply.h"
#include "sources.h"
#include "status.h"
#include "ts.h"
#include "verify.h"
#include "writer.h"
#include "wire.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

/* One per event loop. The main loop's server submits deliveries to the writer on its
 * own loop; with CALLBRIDGE_WORKERS > 1, receivers on other threads submit theirs
 * through the writer's hand-off and get them back, answered, through their answers
 * relay (writer.h). */
struct http_server {
	struct event_base *base;
	const struct config *cfg;
	struct writer *writer;
	bool on_writer;        /* this loop is the writer's */
	struct relay *answers; /* receivers: answered deliveries, stop and exit */
	struct relay_node stop_node, exit_node;
	bool stop_posted; /* by the writer's thread, which alone posts these two */
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	SSL_CTX *tls;               /* NULL: plain HTTP */
	struct event *accept_pause; /* re-enables accepting after running out of files */
	struct reply_opts reply;    /* what every answer shares; closing: stopping */
	/* CALLBRIDGE_ADMIN_LISTEN (the main loop's server only): health, readiness, metrics
	 * and the status page on a listener of their own. */
	struct evhttp *admin;
	struct status *status;
	struct callers *callers; /* the pre-call lookup routes */
};

/* Over every loop: deliveries handed on and not answered yet, and accept pauses. */
static int inflight_total;
static unsigned long long accept_pauses_total;

/* One delivery waiting for the writer, with its request. req is NULL once the client
 * has gone away. */
struct pending {
	struct writer_delivery d; /* first: the writer's part */
	struct http_server *srv;
	struct evhttp_request *req;
	struct conn *conn;
	int64_t start_us;
	char body[];
};

/* ---- deliveries ---- */

static const char *header_of(void *ctx, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(ctx), name);
}

static void pending_free(struct pending *pd)
{
	rows_free(&pd->d.m);
	free(pd);
}

static void on_client_gone(void *arg)
{
	struct pending *pd = arg;
	pd->req = NULL;
	pd->conn = NULL;
}

/* On the delivery's own loop, from the writer: sends its answer (when its client is
 * still there) and frees it. */
static void answer(struct writer_delivery *d)
{
	struct pending *pd = (struct pending *)d;
	struct http_server *s = pd->srv;
	__atomic_fetch_sub(&inflight_total, 1, __ATOMIC_RELAXED);
	if (d->dropped) { /* at exit: its loop is gone */
		pending_free(pd);
		return;
	}
	int64_t latency = ts_now_us() - pd->start_us;
	metrics_delivery((int)(d->platform - platforms), d->m.event_type, d->out, latency);
	metrics_source_delivery((int)(d->platform - platforms), d->source_label, d->out);
	if (!d->word)
		metrics_delivery_error((int)(d->platform - platforms), d->error, d->detail);
	if (log_enabled(LOG_INFO)) {
		char ms[32];
		snprintf(ms, sizeof ms, "%.1f", (double)latency / 1000.0);
		log_write(LOG_INFO, "delivery", "platform", d->platform->slug, "source", d->source,
			  "event", d->m.event_type, "dedupe_key", d->w.dedupe_key, "outcome",
			  d->word ? d->word : d->error, "ms", ms, (const char *)NULL);
	}
	if (pd->req) {
		struct evhttp_request *req = pd->req;
		conn_watch(pd->conn, NULL, NULL);
		if (!d->word) {
			reply_error(&s->reply, req, d->status, d->error, d->detail);
		} else {
			struct evbuffer *b = evbuffer_new();
			if (b) {
				evbuffer_add_printf(b, "{\"status\":\"%s\",\"platform\":\"%s\",",
						    d->word, d->platform->slug);
				if (d->w.event_id)
					evbuffer_add_printf(b, "\"event_id\":%lld,", d->w.event_id);
				evbuffer_add_printf(b, "\"event_type\":");
				if (d->m.event_type)
					reply_json_string(b, d->m.event_type);
				else
					evbuffer_add_printf(b, "null");
				evbuffer_add_printf(b, ",\"dedupe_key\":");
				reply_json_string(b, d->w.dedupe_key);
				evbuffer_add_printf(b, "}\n");
				reply_json(&s->reply, req, 200, b);
				evbuffer_free(b);
			} else {
				reply_bare(req, 500);
			}
		}
	}
	pending_free(pd);
}

static void handle_webhook(struct http_server *s, struct evhttp_request *req,
			   const struct source *src, const char *token)
{
	const struct platform *p = src->platform;
	int idx = (int)(p - platforms);
	int64_t now = ts_arrival_us();
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct intake_error err;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		reply_error(&s->reply, req, 405, "method_not_allowed",
			    "webhooks are delivered with POST");
		return;
	}
	if ((long long)len > s->cfg->max_body_bytes) { /* wire.c refuses these first */
		metrics_delivery(idx, NULL, OUT_TOO_LARGE, ts_now_us() - now);
		metrics_delivery_error(idx, "body_too_large", "over CALLBRIDGE_MAX_BODY_BYTES");
		reply_error(&s->reply, req, 413, "body_too_large",
			    "the body is larger than CALLBRIDGE_MAX_BODY_BYTES");
		return;
	}
	if (s->reply.closing) {
		reply_error(&s->reply, req, 503, "shutting_down",
			    "the server is stopping; retry later");
		return;
	}

	struct pending *pd = calloc(1, sizeof *pd + len + 1);
	if (!pd) {
		reply_error(&s->reply, req, 503, "out_of_memory", "retry later");
		return;
	}
	struct writer_delivery *d = &pd->d;
	evbuffer_copyout(in, pd->body, len);
	pd->body[len] = '\0';
	pd->srv = s;
	pd->start_us = now;
	d->platform = p;
	d->body = pd->body;
	d->body_len = len;

	snprintf(d->source, sizeof d->source, "%s", src->name);
	d->source_label = src->label;
	if (intake_request(src, token, pd->body, len, header_of, req, now, &d->m, &err) < 0) {
		enum metrics_outcome out = err.status == 401                     ? OUT_UNAUTHORIZED
					   : strcmp(err.code, "unstorable") == 0 ? OUT_REJECTED
										 : OUT_INVALID;
		metrics_delivery(idx, NULL, out, ts_now_us() - now);
		metrics_source_delivery(idx, d->source_label, out);
		if (err.status == 401)
			metrics_signature_failure(idx, err.code);
		metrics_delivery_error(idx, err.code, err.detail);
		log_info("delivery refused", "platform", p->slug, "source", src->name, "error",
			 err.code, "detail", err.detail);
		reply_error(&s->reply, req, err.status, err.code, err.detail);
		pending_free(pd);
		return;
	}

	ts_format(now, d->received_at);
	d->home = s->answers; /* NULL on the writer's loop */
	d->done = answer;
	pd->req = req;
	pd->conn = conn_of(req);
	if (!pd->conn) { /* every request comes through conn.c: not reached */
		reply_error(&s->reply, req, 503, "unavailable", "retry later");
		pending_free(pd);
		return;
	}
	conn_watch(pd->conn, on_client_gone, pd);
	__atomic_fetch_add(&inflight_total, 1, __ATOMIC_RELAXED);
	writer_submit(s->writer, d);
}

/* ---- routing ---- */

/* The path segment at *p (up to the next '/'): its length, and *p moved past it and its
 * '/'. */
static size_t next_segment(const char **p, const char **seg)
{
	*seg = *p;
	size_t n = strcspn(*p, "/");
	*p += n + ((*p)[n] == '/');
	return n;
}

/* /webhooks/<slug>[/<source>][/<token>][/]: a segment that names a configured source of
 * the platform is the source; otherwise, when the default source has a path token, it
 * is that token. */
static void route_webhook(struct http_server *s, struct evhttp_request *req, const char *rest)
{
	const char *seg[4];
	size_t len[4];
	int n = 0;
	while (*rest && n < 4)
		len[n] = next_segment(&rest, &seg[n]), n++;
	const struct platform *p = n ? platform_find(seg[0], len[0]) : NULL;
	bool empty = false;
	for (int i = 1; i < n; i++)
		empty |= len[i] == 0;
	if (!p || *rest || n == 4 || empty) {
		reply_error(&s->reply, req, 404, p ? "not_found" : "unknown_platform",
			    p ? "use /webhooks/<slug>[/<source>][/<token>]"
			      : "no such platform; use /webhooks/<slug>");
		return;
	}
	struct sources *set = sources_acquire();
	if (!set) {
		reply_error(&s->reply, req, 503, "out_of_memory", "retry later");
		return;
	}
	const struct source *src = n > 1 ? sources_find(set, p, seg[1], len[1]) : NULL;
	const char *tok = NULL;
	size_t toklen = 0;
	if (src) {
		tok = n > 2 ? seg[2] : NULL, toklen = n > 2 ? len[2] : 0;
	} else {
		src = sources_default(set, p);
		tok = n > 1 ? seg[1] : NULL, toklen = n > 1 ? len[1] : 0;
		if (n > 2 || (tok && !verify_keys_have_path_token(src->keys))) {
			reply_error(&s->reply, req, 404, "unknown_source",
				    "no such source for this platform (see the sources file)");
			sources_release(set);
			return;
		}
	}
	if (tok && !verify_keys_have_path_token(src->keys)) {
		reply_error(&s->reply, req, 404, "not_found",
			    "this source's route has no token segment");
		sources_release(set);
		return;
	}
	char token[256];
	if (tok && toklen >= sizeof token) {
		reply_error(&s->reply, req, 401, "token_invalid",
			    "the route's token is missing or wrong");
		sources_release(set);
		return;
	}
	if (tok)
		snprintf(token, sizeof token, "%.*s", (int)toklen, tok);
	handle_webhook(s, req, src, tok ? token : NULL);
	sources_release(set);
}

/* A request wire.c refused: its JSON error, and the connection's end. */
static bool answer_refusal(struct http_server *s, struct evhttp_request *req)
{
	const struct wire_refusal_info *r = conn_refusal(req);
	if (!r)
		return false;
	metrics_refused(r->name);
	log_info("request refused", "reason", r->name, "detail", r->detail);
	conn_close_after(req);
	reply_error(&s->reply, req, r->status, r->code, r->detail);
	return true;
}

static void serve_ops(struct http_server *s, struct evhttp_request *req, const char *path,
		      bool on_admin);

static void on_admin_request(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (answer_refusal(s, req))
		return;
	serve_ops(s, req, path ? path : "", true);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	static const char prefix[] = "/webhooks/";

	if (answer_refusal(s, req))
		return;
	if (!path)
		path = "";
	if (strncmp(path, prefix, sizeof prefix - 1) == 0) {
		route_webhook(s, req, path + sizeof prefix - 1);
		return;
	}
	if (callers_route(s->callers, req, path))
		return;
	serve_ops(s, req, path, false);
}

/* The operator's paths: on the public port /healthz always, and /readyz and /metrics
 * unless an admin listener is set; on the admin listener all of them and /status. */
static void serve_ops(struct http_server *s, struct evhttp_request *req, const char *path,
		      bool on_admin)
{
	bool ops = on_admin || !s->cfg->admin_listen;
	bool health = !strcmp(path, "/healthz"), ready = ops && !strcmp(path, "/readyz"),
	     metrics = ops && !strcmp(path, "/metrics"),
	     status = on_admin && !strcmp(path, "/status");
	if (!health && !ready && !metrics && !status) {
		reply_error(&s->reply, req, 404, "not_found", "no such path");
		return;
	}
	if (!reply_is_read(req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_error(&s->reply, req, 405, "method_not_allowed", "use GET");
		return;
	}
	if (health) {
		reply_text(&s->reply, req, 200, "{\"status\":\"ok\"}");
		return;
	}
	struct writer_view v;
	writer_view(s->writer, &v, s->on_writer);
	if (ready) {
		long long down_s = v.db.down_ms / 1000;
		int limit = s->cfg->ready_db_down_seconds;
		char msg[160];
		if (s->reply.closing) {
			reply_error(&s->reply, req, 503, "shutting_down", "the server is stopping");
		} else if (!v.ready) {
			reply_error(&s->reply, req, 503, "not_ready",
				    v.has_spool
					    ? "the database is unavailable and the spool is full"
					    : "no database connection is ready");
		} else if (limit > 0 && down_s >= limit) {
			snprintf(msg, sizeof msg,
				 "no database connection for %lld s "
				 "(CALLBRIDGE_READY_DB_DOWN_SECONDS=%d); deliveries are spooled",
				 down_s, limit);
			reply_error(&s->reply, req, 503, "database_down", msg);
		} else {
			snprintf(
				msg, sizeof msg,
				"{\"status\":\"ready\",\"database\":\"%s\",\"database_down_seconds\":%lld}",
				v.db.up ? "up" : "down", down_s);
			reply_text(&s->reply, req, 200, msg);
		}
	} else if (status) {
		struct evbuffer *b = evbuffer_new();
		if (!b) {
			reply_bare(req, 503);
			return;
		}
		status_render(s->status, b, &v);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
				  "no-store");
		reply_send(&s->reply, req, 200, "text/html; charset=utf-8", b);
		evbuffer_free(b);
	} else if (metrics) {
		struct evbuffer *b = evbuffer_new();
		if (!b) {
			reply_bare(req, 503);
			return;
		}
		metrics_render(b, &v.db, v.has_spool ? &v.sp : NULL, v.drained, v.drain_refused);
		metrics_render_http(b, __atomic_load_n(&accept_pauses_total, __ATOMIC_RELAXED));
		reply_send(&s->reply, req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
		evbuffer_free(b);
	}
}

/* Limits, methods and the strict framing of conn.c, for the public and admin listeners. */
static void http_setup(struct evhttp *h, const struct config *cfg,
		       void (*cb)(struct evhttp_request *, void *), struct http_server *s)
{
	evhttp_set_max_body_size(h, (ev_ssize_t)cfg->max_body_bytes + 1024 * 1024);
	evhttp_set_max_headers_size(h, 2 * WIRE_HEAD_MAX);
	evhttp_set_timeout(h, cfg->read_timeout_seconds);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
					      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
					      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
					      EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	evhttp_set_bevcb(h, conn_bev, NULL);
	evhttp_set_gencb(h, cb, s);
}

/* A server on base's loop; the main loop's, unless http_new_receiver makes it one on
 * another thread's loop. */
static struct http_server *server_new(struct event_base *base, const struct config *cfg,
				      struct writer *writer)
{
	struct http_server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base = base;
	s->cfg = cfg;
	s->writer = writer;
	s->on_writer = true;
	s->http = evhttp_new(base);
	if (!s->http) {
		free(s);
		return NULL;
	}
	/* wire.c enforces the limits (CALLBRIDGE_MAX_BODY_BYTES, WIRE_HEAD_MAX) and answers
	 * them in JSON; evhttp's own, which it would answer with an HTML page, sit above
	 * anything wire passes on (a normal head is a few bytes longer than the original). */
	if (conn_setup(cfg->max_body_bytes, 0) < 0) {
		evhttp_free(s->http);
		free(s);
		return NULL;
	}
	http_setup(s->http, cfg, on_request, s);
	s->reply.retry_after_s = cfg->retry_after_seconds;
	if (!(s->callers = callers_new(base, cfg, &s->reply))) {
		evhttp_free(s->http);
		free(s);
		return NULL;
	}
	return s;
}

static int tls_setup(struct http_server *s, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	if (!cfg->tls_cert_file && !cfg->tls_key_file)
		return 0;
	if (!cfg->tls_cert_file || !cfg->tls_key_file) {
		snprintf(err, errlen,
			 "CALLBRIDGE_TLS_CERT_FILE and CALLBRIDGE_TLS_KEY_FILE go together");
		return -1;
	}
	s->tls = SSL_CTX_new(TLS_server_method());
	if (!s->tls || !SSL_CTX_set_min_proto_version(s->tls, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(s->tls, cfg->tls_cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(s->tls, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(s->tls) != 1) {
		char reason[160];
		ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
		snprintf(err, errlen, "CALLBRIDGE_TLS_CERT_FILE/CALLBRIDGE_TLS_KEY_FILE: %s",
			 reason);
		return -1;
	}
	SSL_CTX_set_options(s->tls, SSL_OP_NO_RENEGOTIATION);
	evhttp_set_bevcb(s->http, conn_bev, s->tls); /* a TLS session per connection */
	return 0;
}

/* Connections at once are bounded by the open-files limit (CALLBRIDGE_MAX_CONNECTIONS
 * sets it; libevent 2.1's evhttp has no limit of its own). When accept() runs out of
 * descriptors, the listener would be woken again at once and spin: instead it pauses for
 * ACCEPT_PAUSE_MS, and new clients wait in the kernel's listen queue meanwhile. The error
 * callback gets evhttp's argument, not ours: the server is found by its listener. */
#define ACCEPT_PAUSE_MS 100
#define MAX_SERVERS     64
static struct http_server *servers[MAX_SERVERS];
static pthread_mutex_t servers_mu = PTHREAD_MUTEX_INITIALIZER;

static void register_server(struct http_server *s, bool add)
{
	pthread_mutex_lock(&servers_mu);
	for (int i = 0; i < MAX_SERVERS; i++)
		if (add ? !servers[i] : servers[i] == s) {
			servers[i] = add ? s : NULL;
			break;
		}
	pthread_mutex_unlock(&servers_mu);
}

static struct http_server *server_of(struct evconnlistener *l)
{
	struct http_server *found = NULL;
	pthread_mutex_lock(&servers_mu);
	for (int i = 0; i < MAX_SERVERS && !found; i++)
		if (servers[i] && servers[i]->sock &&
		    evhttp_bound_socket_get_listener(servers[i]->sock) == l)
			found = servers[i];
	pthread_mutex_unlock(&servers_mu);
	return found;
}

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_server *s = arg;
	if (s->sock && !s->reply.closing)
		evconnlistener_enable(evhttp_bound_socket_get_listener(s->sock));
}

static void accept_failed(struct evconnlistener *l, void *arg)
{
	(void)arg;
	int e = EVUTIL_SOCKET_ERROR();
	struct http_server *s = server_of(l);
	if (!s || (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)) {
		log_warn("accept failed", "error", evutil_socket_error_to_string(e));
		return;
	}
	evconnlistener_disable(l);
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	evtimer_add(s->accept_pause, &tv);
	if (__atomic_fetch_add(&accept_pauses_total, 1, __ATOMIC_RELAXED) == 0) /* then counted */
		log_warn("out of file descriptors: new connections wait until some close "
			 "(CALLBRIDGE_MAX_CONNECTIONS)",
			 "error", evutil_socket_error_to_string(e));
}

/* A listener on the port that the other loops' listeners share (SO_REUSEPORT: the
 * kernel spreads new connections over them). */
static struct evhttp_bound_socket *bind_shared(struct http_server *s)
{
	struct evutil_addrinfo hints = {0}, *ai = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", s->cfg->port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
	if (evutil_getaddrinfo(s->cfg->listen, port, &hints, &ai) != 0 || !ai)
		return NULL;
	struct evconnlistener *l =
		evconnlistener_new_bind(s->base, NULL, NULL,
					LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
						LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_CLOSE_ON_FREE,
					128, ai->ai_addr, (int)ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	if (!l)
		return NULL;
	struct evhttp_bound_socket *b = evhttp_bind_listener(s->http, l);
	if (!b)
		evconnlistener_free(l);
	return b;
}

/* CALLBRIDGE_ADMIN_LISTEN is HOST:PORT or [IPV6]:PORT (config.c checked its form). */
static int admin_listen(struct http_server *s, char *err, size_t errlen)
{
	char host[256];
	int port = 0;
	if (cfg_split_hostport(s->cfg->admin_listen, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "CALLBRIDGE_ADMIN_LISTEN: expected HOST:PORT");
		return -1;
	}
	s->admin = evhttp_new(s->base);
	s->status = status_new(s->base, s->cfg->database_url, s->cfg->db_connect_timeout_seconds);
	if (!s->admin || !s->status) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	http_setup(s->admin, s->cfg, on_admin_request, s);
	if (evhttp_bind_socket(s->admin, host, (ev_uint16_t)port) < 0) {
		snprintf(err, errlen, "cannot listen on %s (CALLBRIDGE_ADMIN_LISTEN)",
			 s->cfg->admin_listen);
		return -1;
	}
	return 0;
}

int http_listen(struct http_server *s, char *err, size_t errlen)
{
	if (tls_setup(s, err, errlen) < 0)
		return -1;
	s->sock = s->cfg->workers > 1 ? bind_shared(s)
				      : evhttp_bind_socket_with_handle(s->http, s->cfg->listen,
								       (ev_uint16_t)s->cfg->port);
	if (!s->sock) {
		snprintf(err, errlen, "cannot listen on %s:%d", s->cfg->listen, s->cfg->port);
		return -1;
	}
	s->accept_pause = evtimer_new(s->base, accept_resume, s);
	if (!s->accept_pause) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	register_server(s, true);
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(s->sock), accept_failed);
	if (s->on_writer && s->cfg->admin_listen && admin_listen(s, err, errlen) < 0)
		return -1;
	return 0;
}

void http_stop(struct http_server *s)
{
	if (s->accept_pause)
		evtimer_del(s->accept_pause);
	pthread_mutex_lock(&servers_mu); /* server_of() may look at sock from another loop */
	if (s->sock)
		evhttp_del_accept_socket(s->http, s->sock);
	s->sock = NULL;
	pthread_mutex_unlock(&servers_mu);
	s->reply.closing = true;
}

int http_port(const struct http_server *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	evutil_socket_t fd = s->sock ? evhttp_bound_socket_get_fd(s->sock) : -1;
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

int http_inflight(void)
{
	return __atomic_load_n(&inflight_total, __ATOMIC_RELAXED);
}

struct http_server *http_new(struct event_base *base, const struct config *cfg,
			     struct writer *writer)
{
	return server_new(base, cfg, writer);
}

/* ---- receivers (CALLBRIDGE_WORKERS > 1) ---- */

static void on_answer(struct relay_node *n, void *arg)
{
	struct http_server *s = arg;
	if (n == &s->stop_node)
		http_stop(s);
	else if (n == &s->exit_node)
		event_base_loopexit(s->base, NULL);
	else
		answer((struct writer_delivery *)n);
}

struct http_server *http_new_receiver(struct event_base *base, struct http_server *main_server)
{
	struct http_server *s = server_new(base, main_server->cfg, main_server->writer);
	if (!s)
		return NULL;
	s->on_writer = false;
	s->answers = relay_new(base, on_answer, s);
	if (!s->answers)
		http_free(&s);
	return s;
}

void http_post_stop(struct http_server *r)
{
	if (!r->stop_posted)
		relay_post(r->answers, &r->stop_node);
	r->stop_posted = true;
}

void http_post_exit(struct http_server *r)
{
	http_post_stop(r);
	relay_post(r->answers, &r->exit_node);
}

void http_free(struct http_server **sp)
{
	struct http_server *s = *sp;
	if (!s)
		return;
	callers_free(&s->callers); /* before the connections its lookups watch */
	evhttp_free(s->http);
	if (s->admin)
		evhttp_free(s->admin);
	status_free(&s->status);
	conn_linger_stop(s->base);
	relay_free(&s->answers);
	if (s->accept_pause)
		event_free(s->accept_pause);
	register_server(s, false);
	SSL_CTX_free(s->tls);
	free(s);
	*sp = NULL;
}
