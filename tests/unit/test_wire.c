/* wire — the strict HTTP/1.1 framing scanner, case by case: raw bytes in, the exact
 * normal form passed on, and the refusal (if any) with the request it numbers. Every
 * case is also fed one byte at a time and in random pieces, through a driver that does
 * what conn.c's judge() does, and must come out byte for byte the same. */
#include "harness.h"
#include "wire.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY 1024 /* CALLBRIDGE_MAX_BODY_BYTES's least value */

/* A literal with its length, NULs included. */
#define BYTES(s) s, sizeof(s) - 1

/* What wire passes on in place of a request refused in its head. */
#define MARK(name)                                                                                 \
	"GET / HTTP/1.1\r\nHost: callbridge\r\nCallbridge-Refusal: " name                          \
	"\r\nContent-Length: 0\r\n\r\n"
#define HEAD_MARK(name)                                                                            \
	"HEAD / HTTP/1.1\r\nHost: callbridge\r\nCallbridge-Refusal: " name                         \
	"\r\nContent-Length: 0\r\n\r\n"

/* ---- the driver ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		char *grown = realloc(b->p, cap);
		if (!grown) {
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
		b->p = grown;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void emit(void *arg, const char *p, size_t n)
{
	buf_add(arg, p, n);
}

/* conn.c's judge(), over a plain buffer: held holds the bytes read and not judged yet;
 * what wire passes on, and the body bytes it keeps, are appended to out. */
static void judge(struct wire *w, struct buf *held, struct buf *out)
{
	size_t off = 0;
	while (off < held->n) {
		size_t avail = held->n - off;
		if (w->st == WIRE_ST_DONE) {
			off = held->n;
			break;
		}
		long long body = wire_body_left(w);
		if (body > 0) {
			size_t k = (unsigned long long)body < avail ? (size_t)body : avail;
			if (wire_body_kept(w))
				buf_add(out, held->p + off, k);
			wire_body_passed(w, (long long)k);
			off += k;
			continue;
		}
		size_t look = wire_lookahead(w);
		if (look > avail)
			look = avail;
		size_t used = wire_feed(w, held->p + off, look, emit, out);
		off += used;
		if (used == 0)
			break; /* a partial line: wait for more */
	}
	memmove(held->p, held->p + off, held->n - off);
	held->n -= off;
}

struct result {
	struct buf out;
	enum wire_refusal refusal;
	unsigned refused_at, heads;
};

/* Cuts of a feed: 0 whole, 1 one byte at a time, else pieces of 1..max bytes drawn
 * from seed. */
static size_t next_piece(int how, uint32_t *seed, size_t left)
{
	if (how == 0)
		return left;
	if (how == 1)
		return 1;
	*seed = *seed * 1103515245u + 12345u;
	size_t max = (size_t)(how % 2 ? 7 : 300);
	size_t k = 1 + (*seed >> 8) % max;
	return k < left ? k : left;
}

static void run(const char *in, size_t n, int how, struct result *r)
{
	struct wire w;
	struct buf held = {0};
	uint32_t seed = (uint32_t)how * 2654435761u;
	memset(r, 0, sizeof *r);
	wire_init(&w, MAX_BODY);
	for (size_t at = 0; at < n;) {
		size_t k = next_piece(how, &seed, n - at);
		buf_add(&held, in + at, k);
		at += k;
		judge(&w, &held, &r->out);
	}
	r->refusal = w.refusal;
	r->refused_at = w.refused_at;
	r->heads = w.heads;
	wire_free(&w);
	free(held.p);
}

static bool same(const struct result *a, const struct result *b)
{
	return a->out.n == b->out.n && (!a->out.n || !memcmp(a->out.p, b->out.p, a->out.n)) &&
	       a->refusal == b->refusal && a->refused_at == b->refused_at && a->heads == b->heads;
}

/* Prints bytes as a C literal would show them, cut at 600. */
static void show(const char *label, const char *p, size_t n)
{
	printf("#   %s (%zu bytes): \"", label, n);
	for (size_t i = 0; i < n && i < 600; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("%s\"\n", n > 600 ? "..." : "");
}

static const char *refusal_name(enum wire_refusal r)
{
	const struct wire_refusal_info *i = wire_refusal_info(r);
	return i ? i->name : "none";
}

/* Two tests: the bytes passed on and the verdict for the whole input at once; and the
 * same outcome however the input is cut into reads. */
static void check(const char *name, const char *in, size_t n, const char *want, size_t want_n,
		  enum wire_refusal refusal, unsigned refused_at, unsigned heads)
{
	struct result whole, cut;
	run(in, n, 0, &whole);
	struct result expect = {{(char *)want, want_n, want_n}, refusal, refused_at, heads};
	if (!ok(same(&whole, &expect), "%s", name)) {
		show("got", whole.out.p, whole.out.n);
		show("want", want, want_n);
		printf("#   got %s at %u, %u heads; want %s at %u, %u heads\n",
		       refusal_name(whole.refusal), whole.refused_at, whole.heads,
		       refusal_name(refusal), refused_at, heads);
	}
	int bad = -1;
	for (int how = 1; how < 24 && bad < 0; how++) {
		run(in, n, how, &cut);
		if (!same(&cut, &whole))
			bad = how;
		else
			free(cut.out.p);
	}
	if (!ok(bad < 0, "%s: the same in any cut", name)) {
		printf("#   cut %d differs from the whole feed\n", bad);
		show("cut", cut.out.p, cut.out.n);
		show("whole", whole.out.p, whole.out.n);
		free(cut.out.p);
	}
	free(whole.out.p);
}

/* ---- the cases ---- */

struct wire_case {
	const char *name;
	const char *in;
	size_t in_n;
	const char *out;
	size_t out_n;
	enum wire_refusal refusal;
	unsigned refused_at, heads;
};

static const struct wire_case cases[] = {
	/* accepted, and what the normal form makes of it */
	{"a GET passes as it is", BYTES("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"), WIRE_OK, 0, 1},
	{"empty lines before a request line skipped; OWS around values trimmed",
	 BYTES("\r\n\r\nGET / HTTP/1.1\r\nHost:   a  \r\nX-A:\tb c\t\r\nX-B:\r\n\r\n"),
	 BYTES("GET / HTTP/1.1\r\nHost: a\r\nX-A: b c\r\nX-B: \r\n\r\n"), WIRE_OK, 0, 1},
	{"a Content-Length body passes; the length moves to the end of the head",
	 BYTES("POST /webhooks/simz HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n"
	       "Content-Type: application/json\r\n\r\nhello"),
	 BYTES("POST /webhooks/simz HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
	       "Content-Length: 5\r\n\r\nhello"),
	 WIRE_OK, 0, 1},
	{"a POST without a length gets Content-Length: 0",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), WIRE_OK, 0, 1},
	{"an unfinished head is held back", BYTES("GET / HTTP/1.1\r\nHost: a\r\n"), BYTES(""),
	 WIRE_OK, 0, 0},
	{"an unfinished body passes as far as it came",
	 BYTES("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"),
	 BYTES("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"), WIRE_OK, 0, 1},
	{"pipelined requests pass in order",
	 BYTES("GET /a HTTP/1.1\r\nHost: a\r\n\r\nPATCH /b HTTP/1.1\r\nHost: a\r\n"
	       "Content-Length: 2\r\n\r\nhiOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("GET /a HTTP/1.1\r\nHost: a\r\n\r\nPATCH /b HTTP/1.1\r\nHost: a\r\n"
	       "Content-Length: 2\r\n\r\nhiOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
	 WIRE_OK, 0, 3},
	{"keep-alive: a second request follows",
	 BYTES("GET /a HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"
	       "GET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"), WIRE_OK, 0,
	 2},
	{"Connection: close: the bytes after the request are dropped",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n"
	       "Content-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"),
	 WIRE_OK, 0, 1},
	{"HTTP/1.0 is answered as 1.1 and closes unless it asks for keep-alive",
	 BYTES("GET / HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n"),
	 BYTES("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), WIRE_OK, 0, 1},
	{"HTTP/1.0 keep-alive is kept, said explicitly; its Expect is ignored",
	 BYTES("POST / HTTP/1.0\r\nConnection: Keep-Alive\r\nExpect: 100-continue\r\n"
	       "Content-Length: 1\r\n\r\nxGET /b HTTP/1.0\r\n\r\nGET /c HTTP/1.0\r\n\r\n"),
	 BYTES("POST / HTTP/1.1\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx"
	       "GET /b HTTP/1.1\r\nConnection: close\r\n\r\n"),
	 WIRE_OK, 0, 2},
	{"absolute-form passes", BYTES("GET http://a/x?y HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("GET http://a/x?y HTTP/1.1\r\nHost: a\r\n\r\n"), WIRE_OK, 0, 1},
	{"Expect: 100-continue passes in HTTP/1.1",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"
	       "x"),
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"
	       "x"),
	 WIRE_OK, 0, 1},
	{"a GET's Content-Length body is swallowed, not read as a request",
	 BYTES("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 32\r\n\r\n"
	       "GET /admin HTTP/1.1\r\nHost: a\r\n\r\nHEAD /b HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /b HTTP/1.1\r\nHost: a\r\n\r\n"), WIRE_OK, 0,
	 2},
	{"a DELETE's chunked body is swallowed",
	 BYTES("DELETE / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "3\r\nabc\r\n0\r\nX: y\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("DELETE / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"), WIRE_OK,
	 0, 2},
	{"chunked: extensions and trailer fields dropped, sizes in lower-case hex",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,Chunked\r\n\r\n"
	       "5;name=\"v;w\"\r\nhello\r\n00A;x\r\n0123456789\r\n0;last\r\nX-T: t\r\n"
	       "Y:\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
	 WIRE_OK, 0, 2},

	/* refused in the head: a marker request in its place, nothing after it */
	{"whitespace before a field's colon", BYTES("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
	 BYTES(MARK("field_name")), WIRE_FIELD_NAME, 1, 1},
	{"a bad character in a field name", BYTES("GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"),
	 BYTES(MARK("field_name")), WIRE_FIELD_NAME, 1, 1},
	{"a field line without a colon", BYTES("GET / HTTP/1.1\r\nHost: a\r\nX-Y\r\n\r\n"),
	 BYTES(MARK("field_name")), WIRE_FIELD_NAME, 1, 1},
	{"Content-Length twice, even with the same value",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
	 BYTES(MARK("content_length")), WIRE_CONTENT_LENGTH, 1, 1},
	{"Content-Length not digits only",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx"),
	 BYTES(MARK("content_length")), WIRE_CONTENT_LENGTH, 1, 1},
	{"Content-Length with a tab after its digits",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\t\r\n\r\nx"),
	 BYTES(MARK("content_length")), WIRE_CONTENT_LENGTH, 1, 1},
	{"Content-Length as a list",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx"),
	 BYTES(MARK("content_length")), WIRE_CONTENT_LENGTH, 1, 1},
	{"Transfer-Encoding with Content-Length",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	 BYTES(MARK("te_with_cl")), WIRE_TE_WITH_CL, 1, 1},
	{"chunked not the last coding",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
	 BYTES(MARK("transfer_encoding")), WIRE_TRANSFER_ENCODING, 1, 1},
	{"chunked twice, over two fields",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	 BYTES(MARK("transfer_encoding")), WIRE_TRANSFER_ENCODING, 1, 1},
	{"Transfer-Encoding in HTTP/1.0",
	 BYTES("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	 BYTES(MARK("transfer_encoding")), WIRE_TRANSFER_ENCODING, 1, 1},
	{"another coding before chunked is not implemented",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
	 BYTES(MARK("te_unsupported")), WIRE_TE_UNSUPPORTED, 1, 1},
	{"obs-fold", BYTES("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
	 BYTES(MARK("obs_fold")), WIRE_OBS_FOLD, 1, 1},
	{"whitespace before the first field", BYTES("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
	 BYTES(MARK("obs_fold")), WIRE_OBS_FOLD, 1, 1},
	{"a bare LF ending the request line", BYTES("GET / HTTP/1.1\nHost: a\r\n\r\n"),
	 BYTES(MARK("line_ending")), WIRE_LINE_ENDING, 1, 1},
	{"a bare LF ending the head", BYTES("GET / HTTP/1.1\r\nHost: a\r\n\n"),
	 BYTES(MARK("line_ending")), WIRE_LINE_ENDING, 1, 1},
	{"a bare CR inside a field value", BYTES("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
	 BYTES(MARK("line_ending")), WIRE_LINE_ENDING, 1, 1},
	{"a control character in a field value",
	 BYTES("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n"), BYTES(MARK("field_value")),
	 WIRE_FIELD_VALUE, 1, 1},
	{"a NUL in a field value", BYTES("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"),
	 BYTES(MARK("field_value")), WIRE_FIELD_VALUE, 1, 1},
	{"DEL in a field value", BYTES("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n"),
	 BYTES(MARK("field_value")), WIRE_FIELD_VALUE, 1, 1},
	{"no Host in HTTP/1.1", BYTES("GET / HTTP/1.1\r\nX: a\r\n\r\n"), BYTES(MARK("host")),
	 WIRE_HOST, 1, 1},
	{"Host twice (HTTP/1.0 too)", BYTES("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"),
	 BYTES(MARK("host")), WIRE_HOST, 1, 1},
	{"a HEAD refused in its head is marked as a HEAD", BYTES("HEAD / HTTP/1.1\r\n\r\n"),
	 BYTES(HEAD_MARK("host")), WIRE_HOST, 1, 1},
	{"the reserved marker field from a client",
	 BYTES("GET / HTTP/1.1\r\nHost: a\r\ncallbridge-refusal: host\r\n\r\n"),
	 BYTES(MARK("reserved_field")), WIRE_RESERVED_FIELD, 1, 1},
	{"TRACE is not implemented", BYTES("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES(MARK("method")), WIRE_METHOD, 1, 1},
	{"CONNECT is not implemented", BYTES("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"),
	 BYTES(MARK("method")), WIRE_METHOD, 1, 1},
	{"methods are case-sensitive", BYTES("get / HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES(MARK("method")), WIRE_METHOD, 1, 1},
	{"HTTP/2 prior knowledge", BYTES("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
	 BYTES(MARK("version")), WIRE_VERSION, 1, 1},
	{"HTTP/0.9", BYTES("GET /\r\n"), BYTES(MARK("version")), WIRE_VERSION, 1, 1},
	{"HTTP/1.x past 1.1 (a strict proxy refuses it too)",
	 BYTES("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), BYTES(MARK("version")), WIRE_VERSION, 1, 1},
	{"two spaces in the request line", BYTES("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES(MARK("request_line")), WIRE_REQUEST_LINE, 1, 1},
	{"a target in no form evhttp reads", BYTES("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES(MARK("request_line")), WIRE_REQUEST_LINE, 1, 1},
	{"an authority evhttp cannot parse: port past 65535",
	 BYTES("GET http://a:99999/ HTTP/1.1\r\nHost: a\r\n\r\n"), BYTES(MARK("request_line")),
	 WIRE_REQUEST_LINE, 1, 1},
	{"an authority with brackets unbalanced",
	 BYTES("GET http://a]]]:8080/healthz HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES(MARK("request_line")), WIRE_REQUEST_LINE, 1, 1},
	{"an authority with userinfo", BYTES("GET http://a@b/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES(MARK("request_line")), WIRE_REQUEST_LINE, 1, 1},
	{"a bad percent escape in the host", BYTES("GET http://%zz/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES(MARK("request_line")), WIRE_REQUEST_LINE, 1, 1},
	{"an absolute-form target with a port passes",
	 BYTES("GET http://a:8080/healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("GET http://a:8080/healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), WIRE_OK, 0, 1},
	{"an IPv6 literal passes", BYTES("GET http://[::1]:80/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("GET http://[::1]:80/ HTTP/1.1\r\nHost: a\r\n\r\n"), WIRE_OK, 0, 1},
	{"a target starting with // (evhttp would read an authority)",
	 BYTES("GET //x/metrics HTTP/1.1\r\nHost: a\r\n\r\n"), BYTES(MARK("request_line")),
	 WIRE_REQUEST_LINE, 1, 1},
	{"a fragment in the target",
	 BYTES("GET /healthz#/webhooks/simz HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES(MARK("request_line")), WIRE_REQUEST_LINE, 1, 1},
	{"an empty Transfer-Encoding with Content-Length",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nContent-Length: 5\r\n\r\nhello"),
	 BYTES(MARK("te_with_cl")), WIRE_TE_WITH_CL, 1, 1},
	{"a Transfer-Encoding listing no coding",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\n\r\n"),
	 BYTES(MARK("transfer_encoding")), WIRE_TRANSFER_ENCODING, 1, 1},
	{"an expectation other than 100-continue",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n"),
	 BYTES(MARK("expect")), WIRE_EXPECT, 1, 1},
	{"a refusal in a pipeline numbers its request; nothing after it passes",
	 BYTES("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost:a\r\nHost:b\r\n\r\n"
	       "GET /c HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("GET /a HTTP/1.1\r\nHost: a\r\n\r\n" MARK("host")), WIRE_HOST, 2, 2},

	/* refused in a chunked body: a last chunk ends it early */
	{"the marker field as a trailer",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nhi\r\n0\r\nCallbridge-Refusal: x\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nhi\r\n0\r\n\r\n"),
	 WIRE_RESERVED_FIELD, 1, 1},
	{"a framing field as a trailer",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nhi\r\n0\r\nContent-Length: 2\r\n\r\n"),
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nhi\r\n0\r\n\r\n"),
	 WIRE_FIELD_NAME, 1, 1},
	{"a chunk size not in hex",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nhi\r\n-1\r\n\r\n"),
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nhi\r\n0\r\n\r\n"),
	 WIRE_CHUNK, 1, 1},
	{"chunk data not followed by CRLF",
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nhiX\r\n0\r\n\r\n"),
	 BYTES("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nhi0\r\n\r\n"),
	 WIRE_CHUNK, 1, 1},
	{"a GET's chunked body refused: a marker, as there is no body to end",
	 BYTES("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
	 BYTES("GET / HTTP/1.1\r\nHost: a\r\n\r\n" MARK("chunk")), WIRE_CHUNK, 2, 2},
};

/* ---- cases too large to write out ---- */

static void check_built(const char *name, const struct buf *in, const struct buf *out,
			enum wire_refusal refusal, unsigned refused_at, unsigned heads)
{
	check(name, in->p, in->n, out->p, out->n, refusal, refused_at, heads);
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_fill(struct buf *b, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_add(b, &c, 1);
}

/* A head of exactly `size` bytes, its final CRLF included, in normal form. */
static void head_of_size(struct buf *b, size_t size)
{
	static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
	buf_str(b, start);
	buf_fill(b, 'v', size - (sizeof start - 1) - 4);
	buf_str(b, "\r\n\r\n");
}

static void head_limits(void)
{
	struct buf in = {0}, out = {0};
	head_of_size(&in, WIRE_HEAD_MAX);
	check_built("a head of exactly 64 KiB", &in, &in, WIRE_OK, 0, 1);
	in.n = 0;
	buf_str(&in, "\r\n");
	head_of_size(&in, WIRE_HEAD_MAX - 2);
	head_of_size(&out, WIRE_HEAD_MAX - 2);
	check_built("64 KiB with an empty line before the request line", &in, &out, WIRE_OK, 0, 1);
	in.n = 0;
	head_of_size(&in, WIRE_HEAD_MAX + 1);
	out.n = 0;
	buf_str(&out, MARK("head_too_large"));
	check_built("a head of 64 KiB and one byte", &in, &out, WIRE_HEAD_TOO_LARGE, 1, 1);
	in.n = 0;
	buf_str(&in, "POST /");
	buf_fill(&in, 'p', WIRE_HEAD_MAX + 100);
	check_built("a request line over 64 KiB with no end in sight", &in, &out,
		    WIRE_HEAD_TOO_LARGE, 1, 1);

	in.n = 0;
	buf_str(&in, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 2; i <= WIRE_FIELDS_MAX; i++) {
		char f[32];
		snprintf(f, sizeof f, "X-%d: %d\r\n", i, i);
		buf_str(&in, f);
	}
	buf_str(&in, "\r\n");
	check_built("100 fields", &in, &in, WIRE_OK, 0, 1);
	in.n -= 2;
	buf_str(&in, "X-101: 101\r\n\r\n");
	check_built("101 fields", &in, &out, WIRE_HEAD_TOO_LARGE, 1, 1);
	free(in.p);
	free(out.p);
}

static void body_limits(void)
{
	struct buf in = {0}, out = {0};
	char head[128];
	snprintf(head, sizeof head, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
		 MAX_BODY);
	buf_str(&in, head);
	buf_fill(&in, 'b', MAX_BODY);
	check_built("a Content-Length body of exactly the limit", &in, &in, WIRE_OK, 0, 1);

	in.n = 0;
	snprintf(head, sizeof head, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
		 MAX_BODY + 1);
	buf_str(&in, head);
	buf_fill(&in, 'b', MAX_BODY + 1);
	buf_str(&out, MARK("body_too_large"));
	check_built("a Content-Length one over the limit", &in, &out, WIRE_BODY_TOO_LARGE, 1, 1);

	/* chunked: the limit is on the sum of the chunks */
	static const char chunked[] =
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
	in.n = 0;
	buf_str(&in, chunked);
	snprintf(head, sizeof head, "%x\r\n", MAX_BODY - 1);
	buf_str(&in, head);
	buf_fill(&in, 'c', MAX_BODY - 1);
	buf_str(&in, "\r\n1\r\nc\r\n0\r\n\r\n");
	check_built("chunks adding up to exactly the limit", &in, &in, WIRE_OK, 0, 1);

	in.n -= 5; /* "0\r\n\r\n" */
	size_t kept = in.n;
	buf_str(&in, "1\r\nc\r\n0\r\n\r\n");
	out.n = 0;
	buf_add(&out, in.p, kept);
	buf_str(&out, "0\r\n\r\n");
	check_built("chunks adding up to one over the limit", &in, &out, WIRE_BODY_TOO_LARGE, 1, 1);

	in.n = 0;
	buf_str(&in, chunked);
	buf_str(&in, "1;");
	buf_fill(&in, 'e', WIRE_CHUNK_LINE_MAX);
	buf_str(&in, "\r\nc\r\n0\r\n\r\n");
	out.n = 0;
	buf_str(&out, chunked);
	buf_str(&out, "0\r\n\r\n");
	check_built("a chunk line over 4 KiB", &in, &out, WIRE_CHUNK, 1, 1);
	free(in.p);
	free(out.p);
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct wire_case *c = &cases[i];
		check(c->name, c->in, c->in_n, c->out, c->out_n, c->refusal, c->refused_at,
		      c->heads);
	}
	head_limits();
	body_limits();

	bool named = true;
	for (int r = WIRE_OK + 1; r < WIRE_REFUSALS; r++) {
		const struct wire_refusal_info *i = wire_refusal_info(r);
		named = named && i && wire_refusal_named(i->name) == i && i->status >= 400;
	}
	ok(named, "every refusal is found again by its marker value");
	ok(!wire_refusal_info(WIRE_OK) && !wire_refusal_named("ok") && !wire_refusal_named(NULL),
	   "no refusal named for WIRE_OK, \"ok\" or NULL");
	return done_testing();
}
