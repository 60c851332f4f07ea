/* reply — HTTP answers (see reply.h). */
#include "reply.h"
#include "metrics.h"

#include <stdio.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>

void reply_json_string(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			evbuffer_add_printf(b, "\\u%04x", *p);
		else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "\"", 1);
}

/* Reason phrases evhttp 2.1 does not know. */
static const char *reason_of(int status)
{
	switch (status) {
	case 413:
		return "Content Too Large";
	case 417:
		return "Expectation Failed";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return NULL;
	}
}

void reply_send(const struct reply_opts *o, struct evhttp_request *req, int status,
		const char *type, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	if (status == 503) {
		char secs[16];
		snprintf(secs, sizeof secs, "%d", o->retry_after_s);
		evhttp_add_header(h, "Retry-After", secs);
	}
	const char *conn = evhttp_find_header(evhttp_request_get_input_headers(req), "Connection");
	if (o->closing)
		evhttp_add_header(h, "Connection", "close");
	else if (conn && !evutil_ascii_strcasecmp(conn, "keep-alive") &&
		 !evhttp_find_header(h, "Connection"))
		evhttp_add_header(h, "Connection", "keep-alive");
	metrics_http(status);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		char len[24];
		snprintf(len, sizeof len, "%zu", body ? evbuffer_get_length(body) : 0);
		evhttp_add_header(h, "Content-Length", len);
		body = NULL;
	}
	evhttp_send_reply(req, status, reason_of(status), body);
}

void reply_json(const struct reply_opts *o, struct evhttp_request *req, int status,
		struct evbuffer *body)
{
	reply_send(o, req, status, "application/json", body);
}

void reply_bare(struct evhttp_request *req, int status)
{
	metrics_http(status);
	evhttp_send_reply(req, status, reason_of(status), NULL);
}

void reply_error(const struct reply_opts *o, struct evhttp_request *req, int status,
		 const char *code, const char *detail)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		reply_bare(req, status);
		return;
	}
	evbuffer_add_printf(b, "{\"error\":");
	reply_json_string(b, code);
	evbuffer_add_printf(b, ",\"detail\":");
	reply_json_string(b, detail);
	evbuffer_add_printf(b, "}\n");
	reply_json(o, req, status, b);
	evbuffer_free(b);
}

void reply_text(const struct reply_opts *o, struct evhttp_request *req, int status,
		const char *json)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		reply_bare(req, status);
		return;
	}
	evbuffer_add_printf(b, "%s\n", json);
	reply_json(o, req, status, b);
	evbuffer_free(b);
}

void reply_object(const struct reply_opts *o, struct evhttp_request *req, json_object *obj)
{
	struct evbuffer *b = obj ? evbuffer_new() : NULL;
	if (!b) {
		reply_bare(req, 500);
		return;
	}
	evbuffer_add_printf(b, "%s\n",
			    json_object_to_json_string_ext(
				    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	reply_json(o, req, 200, b);
	evbuffer_free(b);
}

bool reply_is_read(struct evhttp_request *req)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
}
