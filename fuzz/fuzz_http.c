/* fuzz_http — libFuzzer target for the real request path: raw bytes down a TCP
 * connection into evhttp, under conn.c and wire.c, on a server made by http_new as
 * main.c makes it. Whatever comes back must be a sequence of whole, well-formed
 * HTTP/1.1 answers, then the connection's end; anything else aborts.
 *
 * One server for the whole run, on 127.0.0.1 and a port the kernel picks, with the
 * least body limit (1024 bytes, so 413 is in reach) and a database writer whose
 * database never answers: /readyz and /metrics work as while PostgreSQL is away, and
 * deliveries are answered 503 (no spool). The first byte of an input picks where its other bytes
 * are cut in two writes, so that the server also reads them in two parts. The client
 * shuts its side only once the server has gone quiet: evhttp 2.1 frees a connection
 * that reads end of stream while it is writing an answer, and the answer would be lost
 * before the checker could see it. */
#include "config.h"
#include "http.h"
#include "log.h"
#include "writer.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define QUIET_PUMPS 8     /* loop turns with nothing read back: the server is done */
#define MAX_PUMPS   50000 /* per phase of an input: well past any real exchange */
#define EOF_WAIT_S  10    /* after the client's end: the server must close by then */

static struct event_base *base;
static struct http_server *srv;
static struct sockaddr_in server_addr;
static int baseline_events; /* events added when no connection is open */

struct reply {
	unsigned char *p;
	size_t n, cap;
	bool eof;
};

/* ---- the server, made once ---- */

/* The listening socket http_listen opened: http.h does not give its port out, so it is
 * found among the descriptors (nothing else in this process listens). */
static int find_listener(struct sockaddr_in *addr)
{
	int found = -1;
	for (int fd = 0; fd < 1024; fd++) {
		int on = 0;
		socklen_t len = sizeof on;
		struct sockaddr_in a;
		socklen_t alen = sizeof a;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on &&
		    getsockname(fd, (struct sockaddr *)&a, &alen) == 0 && a.sin_family == AF_INET &&
		    a.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
			*addr = a;
			found = fd;
		}
	}
	return found;
}

static void setup(void)
{
	static struct config cfg; /* http keeps a pointer to it */
	char err[256];
	log_setup(LOG_ERROR, false);
	/* the table's defaults (or the environment's CALLBRIDGE_*), then what this needs */
	if (cfg_load(&cfg, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	cfg.port = 0;
	cfg.listen = "127.0.0.1";
	cfg.max_body_bytes = 1024;
	cfg.workers = 1;
	cfg.tls_cert_file = cfg.tls_key_file = NULL;
	base = event_base_new();
	/* a directory that does not exist: every connection attempt fails at once */
	cfg.database_url = "host=/nonexistent/callbridge-fuzz";
	cfg.db_connections = 1;
	cfg.batch_max = 1;
	cfg.max_inflight = 1;
	cfg.db_reconnect_max_seconds = 3600;
	cfg.spool_dir = ""; /* no spool: deliveries are answered 503 */
	struct writer *writer = base ? writer_new(base, &cfg, err, sizeof err) : NULL;
	srv = writer ? http_new(base, &cfg, writer) : NULL;
	if (!srv || http_listen(srv, err, sizeof err) < 0 || find_listener(&server_addr) < 0) {
		fprintf(stderr, "fuzz_http: cannot start the server: %s\n", srv ? err : "");
		abort();
	}
	event_base_loop(base, EVLOOP_NONBLOCK); /* the writer's first attempt fails */
	baseline_events = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
}

/* ---- the client ---- */

/* One turn of the loop, then whatever the client can read. Returns the bytes read. */
static size_t pump(int fd, struct reply *r)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
	size_t got = 0;
	while (!r->eof) {
		if (r->cap - r->n < 4096) {
			size_t cap = r->cap ? 2 * r->cap : 65536;
			unsigned char *p = realloc(r->p, cap);
			if (!p)
				abort();
			r->p = p;
			r->cap = cap;
		}
		ssize_t k = read(fd, r->p + r->n, r->cap - r->n);
		if (k > 0) {
			r->n += (size_t)k;
			got += (size_t)k;
		} else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->eof = true; /* a reset is an end too */
		} else if (errno == EAGAIN) {
			break;
		}
	}
	return got;
}

static void pump_until_quiet(int fd, struct reply *r)
{
	for (int quiet = 0, i = 0; quiet < QUIET_PUMPS && i < MAX_PUMPS && !r->eof; i++)
		quiet = pump(fd, r) ? 0 : quiet + 1;
}

/* Writes p, turning the loop while the socket is full. False if the server closed. */
static bool send_all(int fd, const unsigned char *p, size_t n, struct reply *r)
{
	for (int i = 0; n > 0 && i < MAX_PUMPS; i++) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && errno != EAGAIN && errno != EINTR) {
			return false;
		}
		pump(fd, r);
	}
	return n == 0;
}

/* ---- the check ---- */

static void show(const char *what, const unsigned char *p, size_t n)
{
	fprintf(stderr, "%s (%zu bytes): \"", what, n);
	for (size_t i = 0; i < n && i < 4000; i++) {
		if (p[i] == '\r')
			fputs("\\r", stderr);
		else if (p[i] == '\n')
			fputs("\\n", stderr);
		else if (p[i] == '"' || p[i] == '\\')
			fprintf(stderr, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			fprintf(stderr, "\\x%02x", p[i]);
		else
			fputc(p[i], stderr);
	}
	fprintf(stderr, "%s\"\n", n > 4000 ? "..." : "");
}

static const unsigned char *req_p;
static size_t req_n;

static void violation(const struct reply *r, size_t at, const char *why)
{
	fprintf(stderr, "fuzz_http: %s, at byte %zu of the reply\n", why, at);
	show("request", req_p, req_n);
	show("reply", r->p, r->n);
	abort();
}

static bool starts(const unsigned char *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	return n >= k && !memcmp(p, s, k);
}

static size_t count(const unsigned char *p, size_t n, const char *s)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += starts(p + i, n - i, s);
	return c;
}

static const unsigned char *find_crlf(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n')
			return p + i;
	return NULL;
}

/* What one answer's head says. */
struct head {
	int status;
	long long length; /* -1: no Content-Length */
	bool json, text, close;
};

/* Parses the head at p (n bytes on): "HTTP/1.1 ddd reason", then "Name: value" lines,
 * then an empty line. Returns its length, or 0 when it is not one. */
static size_t parse_head(const unsigned char *p, size_t n, struct head *h)
{
	memset(h, 0, sizeof *h);
	h->length = -1;
	const unsigned char *e = find_crlf(p, n);
	if (!e || !starts(p, n, "HTTP/1.1 ") || e - p < 12 || p[12] != ' ')
		return 0;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		h->status = h->status * 10 + (p[i] - '0');
	}
	if (h->status < 100)
		return 0;
	size_t at = (size_t)(e - p) + 2;
	for (;;) {
		const unsigned char *l = p + at;
		e = find_crlf(l, n - at);
		if (!e)
			return 0;
		size_t len = (size_t)(e - l);
		at += len + 2;
		if (len == 0)
			return at;
		const unsigned char *colon = memchr(l, ':', len);
		if (!colon || colon == l || colon + 1 == e || colon[1] != ' ')
			return 0;
		size_t nl = (size_t)(colon - l);
		const char *v = (const char *)colon + 2;
		size_t vl = (size_t)(e - colon) - 2;
		for (size_t i = 0; i < nl; i++)
			if (l[i] <= ' ' || l[i] >= 0x7f)
				return 0;
		for (size_t i = 0; i < vl; i++)
			if ((unsigned char)v[i] < ' ' && v[i] != '\t')
				return 0;
		if (nl == 14 && !strncasecmp((const char *)l, "Content-Length", nl)) {
			if (h->length >= 0 || vl == 0 || vl > 12)
				return 0;
			h->length = 0;
			for (size_t i = 0; i < vl; i++) {
				if (v[i] < '0' || v[i] > '9')
					return 0;
				h->length = h->length * 10 + (v[i] - '0');
			}
		} else if (nl == 12 && !strncasecmp((const char *)l, "Content-Type", nl)) {
			h->json = vl >= 16 && !strncmp(v, "application/json", 16);
			h->text = vl >= 10 && !strncmp(v, "text/plain", 10);
		} else if (nl == 10 && !strncasecmp((const char *)l, "Connection", nl)) {
			h->close = vl == 5 && !strncasecmp(v, "close", 5);
		}
	}
}

/* Everything read back: whole answers, and nothing after one that closes. A HEAD's
 * answer carries its GET's Content-Length and no body: it is told by what follows it
 * (the next answer's status line, or the end), and there are no more of them than the
 * request bytes hold the word HEAD. */
static void check(const struct reply *r)
{
	size_t at = 0, heads_left = count(req_p, req_n, "HEAD");
	bool closed = false;
	while (at < r->n) {
		const unsigned char *p = r->p + at;
		size_t n = r->n - at;
		struct head h;
		if (closed)
			violation(r, at, "bytes after an answer that closed the connection");
		size_t hl = parse_head(p, n, &h);
		if (!hl)
			violation(r, at, "not a whole HTTP/1.1 answer head");
		if (h.status == 100) {
			if (hl != 25 || !starts(p, n, "HTTP/1.1 100 Continue\r\n\r\n"))
				violation(r, at, "a 100 Continue with fields");
			at += hl;
			continue;
		}
		if (h.length < 0)
			violation(r, at, "an answer without Content-Length");
		const unsigned char *b = p + hl;
		size_t rest = n - hl;
		bool bodyless = h.length > 0 && (rest == 0 || starts(b, rest, "HTTP/1.1 "));
		if (bodyless) {
			if (heads_left == 0)
				violation(r, at, "an answer without its body, and no HEAD asked");
			heads_left--;
		} else {
			size_t len = (size_t)h.length;
			if (rest < len)
				violation(r, at, "an answer cut short");
			if (h.json &&
			    (len < 3 || b[0] != '{' || b[len - 2] != '}' || b[len - 1] != '\n'))
				violation(r, at, "a JSON answer whose body is not {...}");
			if (h.json && h.status >= 400 && !memmem(b, len, "\"error\":\"", 9))
				violation(r, at, "an error answer without its error code");
			if (!h.json && !(h.text && h.status == 200))
				violation(r, at, "an answer that is neither JSON nor /metrics");
			at += len;
		}
		at += hl;
		closed = h.close;
	}
}

/* ---- one input ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		setup();
	if (size < 2)
		return 0;
	req_p = data + 1;
	req_n = size - 1;
	size_t cut = req_n * data[0] / 255;
	struct reply r = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0 &&
	    errno != EINPROGRESS)
		abort();
	pump(fd, &r); /* accepted */

	if (send_all(fd, req_p, cut, &r)) {
		pump_until_quiet(fd, &r);
		if (send_all(fd, req_p + cut, req_n - cut, &r))
			pump_until_quiet(fd, &r);
	}
	shutdown(fd, SHUT_WR);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!r.eof) {
		if (!pump(fd, &r)) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > EOF_WAIT_S)
				violation(&r, r.n,
					  "the server kept the connection after the client's end");
		}
	}
	if (getenv("FUZZ_HTTP_SHOW")) { /* when replaying an input by hand */
		show("request", req_p, req_n);
		show("reply", r.p, r.n);
	}
	check(&r);
	close(fd);
	/* until the server has let go of the connection (and a lingering close ended) */
	for (int i = 0; i < MAX_PUMPS &&
			event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) > baseline_events;
	     i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	free(r.p);
	return 0;
}
