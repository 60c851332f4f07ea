/* reply — every HTTP answer callbridge sends leaves through here: JSON bodies and
 * errors, a HEAD answer with the GET's headers and no body, Retry-After on every 503,
 * the Connection header, and the count of answers by status class. evhttp is never left
 * to send a page of its own. */
#ifndef CALLBRIDGE_REPLY_H
#define CALLBRIDGE_REPLY_H

#include <stdbool.h>

#include <json-c/json.h>

struct evbuffer;
struct evhttp_request;

/* What the answers of one server share. */
struct reply_opts {
	int retry_after_s; /* Retry-After of every 503 */
	bool closing;      /* the server is stopping: every answer closes its connection */
};

/* Sends status with body (NULL: none) as type. A HEAD answer carries the GET's headers,
 * its Content-Length included, and no body. An HTTP/1.0 client that asked to keep the
 * connection is told it is kept. */
void reply_send(const struct reply_opts *o, struct evhttp_request *req, int status,
		const char *type, struct evbuffer *body);
void reply_json(const struct reply_opts *o, struct evhttp_request *req, int status,
		struct evbuffer *body);
/* {"error": code, "detail": detail} */
void reply_error(const struct reply_opts *o, struct evhttp_request *req, int status,
		 const char *code, const char *detail);
/* json (a complete JSON text) and a newline. */
void reply_text(const struct reply_opts *o, struct evhttp_request *req, int status,
		const char *json);
/* 200 with obj; a bare 500 when obj is NULL (out of memory). */
void reply_object(const struct reply_opts *o, struct evhttp_request *req, json_object *obj);
/* With no memory for a body: the status alone. */
void reply_bare(struct evhttp_request *req, int status);

/* Appends s as a JSON string (quoted, escaped); NULL as "". */
void reply_json_string(struct evbuffer *b, const char *s);

/* GET or HEAD: the methods that read (HEAD answered as GET, without the body). */
bool reply_is_read(struct evhttp_request *req);

#endif
