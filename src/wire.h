/* wire — strict HTTP/1.1 request framing (RFC 9112), judged before evhttp sees a byte.
 *
 * Pure: no sockets, no libevent. A connection's bytes are fed in as they arrive; the
 * scanner passes on, through an emit callback, only what a strict server would accept,
 * in a normal form that libevent 2.1's lenient parser cannot read differently:
 *   - a head is held back until it is whole and valid, then emitted as a request line
 *     "METHOD TARGET HTTP/1.1", its fields, and the framing fields it decided on
 *     (exactly one Content-Length, or Transfer-Encoding: chunked; Connection: close or
 *     keep-alive);
 *   - a Content-Length body passes through as it is; a chunked body passes through with
 *     chunk extensions and trailer fields dropped (RFC 9112 7.1.1, 7.1.2 allow both);
 *   - the body of a method evhttp does not read (GET, HEAD, DELETE, OPTIONS) is
 *     swallowed here, so it can never be taken for the next request.
 * On a framing error nothing more of the bad request is passed on. Its head not yet
 * passed on, a marker request takes its place, carrying "Callbridge-Refusal: <name>";
 * in the middle of a chunked body, its last chunk ends it early (evhttp 2.1 drops
 * trailer fields, so no marker could ride there). Either way refused_at numbers the
 * request, counting the heads passed on, and the HTTP layer answers that request with
 * the refusal's JSON error and a closed connection. A client cannot forge the marker:
 * a request that carries that field is itself refused. Every byte after a refusal, or
 * after a request that asked to close the connection, is dropped.
 *
 * Feeding contract: wire_feed judges whole lines and returns how many bytes it used;
 * bytes it did not use (a partial line) must be given again, with more after them.
 * In a body, wire_body_left says how many of the next bytes are body data: the caller
 * passes them on itself (or drops them when wire_body_kept is false) and reports them
 * with wire_body_passed. */
#ifndef CALLBRIDGE_WIRE_H
#define CALLBRIDGE_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#define WIRE_HEAD_MAX       (64 * 1024) /* request line and fields */
#define WIRE_FIELDS_MAX     100
#define WIRE_CHUNK_LINE_MAX 4096
#define WIRE_MARKER_FIELD   "Callbridge-Refusal"

enum wire_refusal {
	WIRE_OK = 0,
	WIRE_REQUEST_LINE,
	WIRE_LINE_ENDING,
	WIRE_FIELD_NAME,
	WIRE_FIELD_VALUE,
	WIRE_OBS_FOLD,
	WIRE_HOST,
	WIRE_CONTENT_LENGTH,
	WIRE_TE_WITH_CL,
	WIRE_TRANSFER_ENCODING,
	WIRE_TE_UNSUPPORTED,
	WIRE_CHUNK,
	WIRE_RESERVED_FIELD,
	WIRE_METHOD,
	WIRE_VERSION,
	WIRE_HEAD_TOO_LARGE,
	WIRE_BODY_TOO_LARGE,
	WIRE_EXPECT,
	WIRE_REFUSALS
};

/* What a refusal is answered with. name is the metrics label and the marker's value. */
struct wire_refusal_info {
	const char *name;
	int status;
	const char *code, *detail;
};

enum wire_state {
	WIRE_ST_START, /* before a request line; empty lines are skipped */
	WIRE_ST_HEAD,
	WIRE_ST_BODY, /* Content-Length body data */
	WIRE_ST_CHUNK_SIZE,
	WIRE_ST_CHUNK_DATA,
	WIRE_ST_CHUNK_END, /* the CRLF after chunk data */
	WIRE_ST_TRAILER,
	WIRE_ST_DONE /* refused, or closing: everything else is dropped */
};

typedef void (*wire_emit_fn)(void *arg, const char *p, size_t n);

/* One connection's scanner. Zeroed by wire_init; owns head, freed by wire_free. */
struct wire {
	long long max_body;
	enum wire_state st;
	enum wire_refusal refusal;
	unsigned heads, refused_at; /* heads passed on; the refused request's number */
	size_t scanned;             /* bytes of the current partial line already searched */
	size_t head_bytes;          /* of this head, empty lines before it included */
	char *head;                 /* the normal form being built */
	size_t head_len, head_cap;
	bool head_oom;
	/* this request */
	int minor, fields, hosts, lengths, chunked, codings, te_fields;
	bool is_head, keeps_body, chunked_last, conn_close, conn_keep_alive;
	long long length, body_left, body_total;
};

void wire_init(struct wire *w, long long max_body);
void wire_free(struct wire *w);

size_t wire_feed(struct wire *w, const char *p, size_t n, wire_emit_fn emit, void *arg);

/* Bytes the scanner will judge in one wire_feed call at most: a caller need not
 * gather more than this into contiguous memory. */
size_t wire_lookahead(const struct wire *w);

long long wire_body_left(const struct wire *w);
bool wire_body_kept(const struct wire *w);
void wire_body_passed(struct wire *w, long long n);

/* The refusal by its marker value; NULL for an unknown name. */
const struct wire_refusal_info *wire_refusal_named(const char *name);
const struct wire_refusal_info *wire_refusal_info(enum wire_refusal r);

#endif
