/* callers — the pre-call lookup routes (see callers.h). */
#include "callers.h"
#include "conn.h"
#include "lookup.h"
#include "metrics.h"
#include "platform.h"
#include "precall.h"
#include "reply.h"
#include "sources.h"
#include "ts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

struct callers {
	struct event_base *base;
	const struct config *cfg;
	const struct reply_opts *reply;
	struct precall *precall; /* NULL: no pre-call token configured (yet) */
};

/* One lookup waiting for the database, with its request. req is NULL once the client
 * has gone away. */
struct plookup {
	struct precall_query q; /* first: precall's part */
	struct callers *c;
	struct evhttp_request *req;
	struct conn *conn;
	const struct lookup_adapter *adapter; /* NULL: GET /v1/callers */
};

static void on_lookup_gone(void *arg)
{
	struct plookup *pl = arg;
	pl->req = NULL;
	pl->conn = NULL;
}

/* The answer, always a 200: an unknown caller's when the lookup found nothing, ran out
 * of budget or had no database. */
static void lookup_done(struct precall_query *q, enum precall_outcome out,
			const struct lookup_facts *f)
{
	struct plookup *pl = (struct plookup *)q;
	if (pl->conn)
		conn_watch(pl->conn, NULL, NULL);
	if (out != PRECALL_DROPPED && pl->req) {
		json_object *o =
			pl->adapter ? lookup_answer(pl->adapter, f)
				    : lookup_plain(f, out == PRECALL_BUDGET ? "budget_exceeded"
						      : out == PRECALL_UNAVAILABLE ? "unavailable"
										   : "ok");
		reply_object(pl->c->reply, pl->req, o);
		json_object_put(o);
	}
	free(pl);
}

/* The bearer token of a lookup: "Authorization: Bearer <token>", or ?token= for
 * senders that cannot set a header. NULL when there is none; *len its length. */
static const char *lookup_token(struct evhttp_request *req, struct evkeyvalq *query, size_t *len)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	const char *t = NULL;
	if (h && !evutil_ascii_strncasecmp(h, "Bearer ", 7)) {
		t = h + 7;
		while (*t == ' ')
			t++;
	} else {
		const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
		if (qs && evhttp_parse_query_str(qs, query) == 0)
			t = evhttp_find_header(query, "token");
	}
	if (!t || !*t)
		return NULL;
	size_t n = strlen(t);
	while (n && t[n - 1] == ' ')
		n--;
	*len = n;
	return t;
}

/* Whether token opens the lookup of adapter at source (NULL: the default source's, or for
 * GET /v1/callers any source's) in the sources set; *scope is then the source (of set)
 * whose rows alone the lookup may see, or NULL. Every candidate is compared, in
 * constant time. */
static bool lookup_authorized(const struct sources *set, const struct lookup_adapter *adapter,
			      const char *source, const char *token, size_t len,
			      const struct source **scope)
{
	const struct platform *p =
		adapter ? platform_find(adapter->slug, strlen(adapter->slug)) : NULL;
	bool ok = !source && precall_token_ok(adapter, token, len);
	*scope = NULL;
	const struct source *src;
	for (int i = 0; (src = sources_at(set, i)); i++) {
		bool mine =
			adapter ? src->platform == p && source && !strcmp(src->name, source) : true;
		const char *want = src->precall_token;
		if (mine && want && strlen(want) == len && CRYPTO_memcmp(want, token, len) == 0) {
			ok = true;
			if (src->own_rows_only && !*scope)
				*scope = src;
		}
	}
	return ok;
}

/* POST /precall/<slug> (adapter) and GET /v1/callers/<phone> (adapter NULL, phone from
 * the path). */
static void handle_lookup(struct callers *c, struct evhttp_request *req,
			  const struct lookup_adapter *adapter, const char *source,
			  const char *path_phone)
{
	int idx = adapter ? (int)(adapter - lookup_adapters) : lookup_adapter_count;
	int64_t now = ts_now_us();
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	if (adapter ? m != EVHTTP_REQ_POST : !reply_is_read(req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  adapter ? "POST" : "GET, HEAD");
		reply_error(c->reply, req, 405, "method_not_allowed",
			    adapter ? "pre-call lookups are POSTed" : "callers are read with GET");
		return;
	}
	struct evkeyvalq query = {0};
	TAILQ_INIT(&query);
	size_t tlen = 0;
	const char *token = lookup_token(req, &query, &tlen);
	char scope_name[SOURCE_NAME_MAX + 1] = "";
	struct sources *set = sources_acquire(); /* scope points into it until copied */
	const struct source *scope = NULL;
	bool ok = token && lookup_authorized(set, adapter, source, token, tlen, &scope);
	if (ok && scope)
		snprintf(scope_name, sizeof scope_name, "%s", scope->name);
	sources_release(set);
	evhttp_clear_headers(&query);
	if (!ok) {
		metrics_precall(idx, METRICS_PRECALL_UNAUTHORIZED, 0);
		reply_error(c->reply, req, 401, token ? "token_invalid" : "token_missing",
			    token ? "the bearer token is not this lookup's"
				  : "send the pre-call token as Authorization: Bearer <token>");
		return;
	}
	struct plookup *pl = calloc(1, sizeof *pl);
	if (!pl) {
		reply_error(c->reply, req, 503, "out_of_memory", "retry later");
		return;
	}
	struct precall_query *q = &pl->q;
	q->adapter = idx;
	q->start_us = now;
	snprintf(q->scope, sizeof q->scope, "%s", scope_name);
	if (adapter) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		json_tokener *tok = json_tokener_new();
		json_object *root =
			tok ? json_tokener_parse_ex(tok, (const char *)evbuffer_pullup(in, -1),
						    (int)len)
			    : NULL;
		bool whole = tok && root && json_tokener_get_error(tok) == json_tokener_success &&
			     json_tokener_get_parse_end(tok) == len;
		struct lookup_request r = {0};
		bool shaped = whole && adapter->parse(root, &r);
		if (shaped) {
			snprintf(q->phone, sizeof q->phone, "%s", r.phone ? r.phone : "");
			snprintf(q->called, sizeof q->called, "%s", r.called ? r.called : "");
			snprintf(q->agent, sizeof q->agent, "%s", r.agent ? r.agent : "");
		}
		json_object_put(root);
		if (tok)
			json_tokener_free(tok);
		if (!shaped) {
			metrics_precall(idx, METRICS_PRECALL_INVALID, 0);
			reply_error(c->reply, req, 400, whole ? "invalid_request" : "invalid_json",
				    whole ? "not this platform's pre-call request"
					  : "the body is not one JSON value");
			free(pl);
			return;
		}
	} else {
		snprintf(q->phone, sizeof q->phone, "%s", path_phone);
	}
	pl->c = c;
	pl->adapter = adapter;
	pl->req = req;
	pl->conn = conn_of(req);
	q->done = lookup_done;
	if (pl->conn)
		conn_watch(pl->conn, on_lookup_gone, pl);
	if (!c->precall) /* the first token came with a reload */
		c->precall = precall_new(c->base, c->cfg);
	if (!c->precall) {
		struct lookup_facts none;
		lookup_facts_unknown(&none);
		lookup_done(q, PRECALL_UNAVAILABLE, &none);
		return;
	}
	precall_lookup(c->precall, q);
}

/* /precall/<slug>[/default][/] and /v1/callers/<phone>. false: not such a path. */
bool callers_route(struct callers *c, struct evhttp_request *req, const char *path)
{
	static const char pre[] = "/precall/", callers[] = "/v1/callers/";
	if (!strncmp(path, pre, sizeof pre - 1)) {
		/* /precall/<slug>[/<source>][/] */
		const char *slug = path + sizeof pre - 1;
		size_t n = strcspn(slug, "/");
		const char *rest = slug[n] == '/' ? slug + n + 1 : "";
		const struct lookup_adapter *a = lookup_adapter_find(slug, n);
		size_t sl = strcspn(rest, "/");
		bool extra = rest[sl] == '/' && rest[sl + 1] != '\0';
		char source[SOURCE_NAME_MAX + 1] = "";
		if (sl > 0 && sources_valid_name(rest, sl))
			snprintf(source, sizeof source, "%.*s", (int)sl, rest);
		if (!a || extra || (sl > 0 && !source[0])) {
			reply_error(
				c->reply, req, 404, a ? "unknown_source" : "unknown_platform",
				a ? "no such source; use /precall/<slug>[/<source>]"
				  : "no pre-call lookup for this platform; see docs/precall.md");
			return true;
		}
		bool named = source[0] && strcmp(source, "default");
		if (named) { /* a source of the sources file, of the platform of this shape */
			struct sources *set = sources_acquire();
			const struct platform *p = platform_find(a->slug, strlen(a->slug));
			bool known = p && sources_find(set, p, source, strlen(source));
			sources_release(set);
			if (!known) {
				reply_error(c->reply, req, 404, "unknown_source",
					    "no such source; use /precall/<slug>[/<source>]");
				return true;
			}
		}
		handle_lookup(c, req, a, named ? source : NULL, NULL);
		return true;
	}
	if (!strncmp(path, callers, sizeof callers - 1)) {
		const char *p = path + sizeof callers - 1;
		size_t n = strcspn(p, "/");
		char phone[64];
		if (n == 0 || (p[n] == '/' && p[n + 1] != '\0') ||
		    !lookup_path_decode(p, n, phone, sizeof phone)) {
			reply_error(c->reply, req, 404, "not_found", "use /v1/callers/<phone>");
			return true;
		}
		handle_lookup(c, req, NULL, NULL, phone);
		return true;
	}
	return false;
}

struct callers *callers_new(struct event_base *base, const struct config *cfg,
			    const struct reply_opts *reply)
{
	struct callers *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->base = base;
	c->cfg = cfg;
	c->reply = reply;
	if (precall_enabled() && !(c->precall = precall_new(base, cfg))) {
		free(c);
		return NULL;
	}
	return c;
}

void callers_free(struct callers **cp)
{
	struct callers *c = *cp;
	if (!c)
		return;
	precall_free(&c->precall);
	free(c);
	*cp = NULL;
}
