/* wire — strict HTTP/1.1 request framing (see wire.h for what it passes on and why). */
#include "wire.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct wire_refusal_info infos[WIRE_REFUSALS] = {
	[WIRE_OK] = {"ok", 200, "ok", "ok"},
	[WIRE_REQUEST_LINE] = {"request_line", 400, "bad_request",
			       "the request line is not METHOD SP target SP HTTP/1.x"},
	[WIRE_LINE_ENDING] = {"line_ending", 400, "bad_request",
			      "lines end with CRLF; a bare CR or LF is not accepted"},
	[WIRE_FIELD_NAME] =
		{"field_name", 400, "bad_request",
		 "a field name is a token followed directly by a colon (no whitespace)"},
	[WIRE_FIELD_VALUE] = {"field_value", 400, "bad_request",
			      "a field value holds a control character"},
	[WIRE_OBS_FOLD] = {"obs_fold", 400, "bad_request",
			   "obsolete line folding (a field line starting with whitespace)"},
	[WIRE_HOST] = {"host", 400, "bad_request",
		       "an HTTP/1.1 request carries exactly one Host field"},
	[WIRE_CONTENT_LENGTH] = {"content_length", 400, "bad_request",
				 "Content-Length is given once, as digits only"},
	[WIRE_TE_WITH_CL] = {"te_with_cl", 400, "bad_request",
			     "Transfer-Encoding and Content-Length together"},
	[WIRE_TRANSFER_ENCODING] = {"transfer_encoding", 400, "bad_request",
				    "the last transfer coding must be chunked, applied once, "
				    "in HTTP/1.1"},
	[WIRE_TE_UNSUPPORTED] = {"te_unsupported", 501, "not_implemented",
				 "only the chunked transfer coding is supported"},
	[WIRE_CHUNK] = {"chunk", 400, "bad_request",
			"a chunk size line or the CRLF after chunk data is malformed"},
	[WIRE_RESERVED_FIELD] = {"reserved_field", 400, "bad_request",
				 "the field " WIRE_MARKER_FIELD " is reserved"},
	[WIRE_METHOD] = {"method", 501, "not_implemented", "the method is not implemented"},
	[WIRE_VERSION] = {"version", 505, "http_version_not_supported",
			  "only HTTP/1.x is spoken here (no HTTP/2 prior knowledge, no HTTP/0.9)"},
	[WIRE_HEAD_TOO_LARGE] = {"head_too_large", 431, "headers_too_large",
				 "the request head is over 64 KiB or 100 fields"},
	[WIRE_BODY_TOO_LARGE] = {"body_too_large", 413, "body_too_large",
				 "the body is larger than CALLBRIDGE_MAX_BODY_BYTES"},
	[WIRE_EXPECT] = {"expect", 417, "expectation_failed",
			 "the only expectation supported is 100-continue"},
};

const struct wire_refusal_info *wire_refusal_info(enum wire_refusal r)
{
	return r > WIRE_OK && r < WIRE_REFUSALS ? &infos[r] : NULL;
}

const struct wire_refusal_info *wire_refusal_named(const char *name)
{
	for (int r = WIRE_OK + 1; name && r < WIRE_REFUSALS; r++)
		if (!strcmp(infos[r].name, name))
			return &infos[r];
	return NULL;
}

/* RFC 9110 5.6.2: tchar. */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Field content: HTAB, SP, VCHAR, obs-text; no other control character, no DEL. */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool span_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && !strncasecmp(p, word, n);
}

void wire_init(struct wire *w, long long max_body)
{
	memset(w, 0, sizeof *w);
	w->max_body = max_body;
}

void wire_free(struct wire *w)
{
	free(w->head);
	w->head = NULL;
	w->head_cap = w->head_len = 0;
}

static void next_request(struct wire *w)
{
	w->head_len = 0;
	w->head_bytes = 0;
	w->head_oom = false;
	w->minor = w->fields = w->hosts = w->lengths = w->chunked = w->codings = 0;
	w->te_fields = 0;
	w->is_head = w->keeps_body = w->chunked_last = false;
	w->conn_close = w->conn_keep_alive = false;
	w->length = w->body_left = w->body_total = 0;
	w->st = WIRE_ST_START;
}

/* After a request's last byte: the next one, unless this one asked to close. */
static void end_request(struct wire *w)
{
	bool close = w->conn_close;
	next_request(w);
	if (close)
		w->st = WIRE_ST_DONE;
}

static void head_add(struct wire *w, const char *p, size_t n)
{
	if (w->head_len + n > w->head_cap) {
		size_t cap = w->head_cap ? w->head_cap : 1024;
		while (cap < w->head_len + n)
			cap *= 2;
		char *h = realloc(w->head, cap);
		if (!h) {
			w->head_oom = true;
			return;
		}
		w->head = h;
		w->head_cap = cap;
	}
	memcpy(w->head + w->head_len, p, n);
	w->head_len += n;
}

static void head_str(struct wire *w, const char *s)
{
	head_add(w, s, strlen(s));
}

/* Refuses the request: nothing more of it is passed on. In the middle of a chunked
 * body its last chunk is, so that evhttp hands the request over and the caller answers
 * it as refused_at says; otherwise a marker request takes its place. */
static void refuse(struct wire *w, enum wire_refusal r, wire_emit_fn emit, void *arg)
{
	bool in_chunks = w->keeps_body && (w->st == WIRE_ST_CHUNK_SIZE ||
					   w->st == WIRE_ST_CHUNK_END || w->st == WIRE_ST_TRAILER);
	if (in_chunks) {
		emit(arg, "0\r\n\r\n", 5);
	} else {
		char m[160];
		int n = snprintf(m, sizeof m,
				 "%s / HTTP/1.1\r\nHost: callbridge\r\n" WIRE_MARKER_FIELD
				 ": %s\r\nContent-Length: 0\r\n\r\n",
				 w->is_head && w->st == WIRE_ST_HEAD ? "HEAD" : "GET",
				 infos[r].name);
		emit(arg, m, (size_t)n);
		w->heads++;
	}
	w->refused_at = w->heads;
	w->refusal = r;
	w->st = WIRE_ST_DONE;
}

/* ---- the request line ---- */

enum method_kind { M_UNKNOWN, M_BODY, M_BODYLESS, M_HEAD };

static enum method_kind method_kind(const char *p, size_t n)
{
	static const char *const body[] = {"POST", "PUT", "PATCH"};
	static const char *const bodyless[] = {"GET", "DELETE", "OPTIONS"};
	for (size_t i = 0; i < sizeof body / sizeof *body; i++)
		if (strlen(body[i]) == n && !memcmp(p, body[i], n))
			return M_BODY;
	for (size_t i = 0; i < sizeof bodyless / sizeof *bodyless; i++)
		if (strlen(bodyless[i]) == n && !memcmp(p, bodyless[i], n))
			return M_BODYLESS;
	if (n == 4 && !memcmp(p, "HEAD", 4))
		return M_HEAD;
	return M_UNKNOWN; /* TRACE and CONNECT too: not implemented here */
}

/* An authority evhttp 2.1 parses as we read it: a host (reg-name, or an IP literal in
 * brackets) and an optional port up to 65535; no userinfo, which RFC 9110 4.2.4 forbids
 * in http URIs. */
static bool authority_ok(const char *p, size_t n)
{
	size_t i = 0;
	if (n && p[0] == '[') {
		for (i = 1; i < n && p[i] != ']'; i++)
			if (!strchr("0123456789abcdefABCDEF:.", p[i]))
				return false;
		if (i == n || i == 1)
			return false;
		i++;
	} else {
		for (; i < n && p[i] != ':'; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c == '%') {
				if (i + 2 >= n || !isxdigit((unsigned char)p[i + 1]) ||
				    !isxdigit((unsigned char)p[i + 2]))
					return false;
				i += 2;
			} else if (!isalnum(c) && !strchr("-._~!$&'()*+,;=", c)) {
				return false;
			}
		}
		if (i == 0)
			return false;
	}
	if (i == n)
		return true;
	if (p[i] != ':' || n - i - 1 > 5)
		return false;
	long port = 0;
	for (i++; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		port = port * 10 + (p[i] - '0');
	}
	return port <= 65535;
}

/* The target's forms, read as a proxy in front would read them: origin-form ("/path",
 * not "//", which evhttp takes for an authority), absolute-form with a checked
 * authority, and "*". No fragment: a "#" has no place in a request target. */
static bool target_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f || p[i] == '#')
			return false;
	if (n == 1 && p[0] == '*')
		return true;
	if (p[0] == '/')
		return n == 1 || p[1] != '/';
	size_t scheme = n > 7 && !strncasecmp(p, "http://", 7)    ? 7
			: n > 8 && !strncasecmp(p, "https://", 8) ? 8
								  : 0;
	if (!scheme)
		return false;
	size_t a = scheme, e = a;
	while (e < n && p[e] != '/' && p[e] != '?')
		e++;
	return authority_ok(p + a, e - a);
}

static enum wire_refusal request_line(struct wire *w, const char *p, size_t n)
{
	size_t m = 0;
	while (m < n && is_tchar((unsigned char)p[m]))
		m++;
	if (m == 0 || m == n || p[m] != ' ')
		return WIRE_REQUEST_LINE;
	const char *t = p + m + 1;
	size_t rest = n - m - 1, tl = 0;
	while (tl < rest && t[tl] != ' ')
		tl++;
	if (tl == 0)
		return WIRE_REQUEST_LINE;
	if (tl == rest) /* no version: HTTP/0.9 */
		return target_ok(t, tl) ? WIRE_VERSION : WIRE_REQUEST_LINE;
	const char *v = t + tl + 1;
	size_t vl = rest - tl - 1;
	if (vl != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
	    v[7] < '0' || v[7] > '9')
		return WIRE_REQUEST_LINE;
	/* HTTP/1.0 and 1.1 only: a strict parser (llhttp) refuses other minor versions, and
	 * a server must never accept what a proxy in front of it may refuse */
	if (v[5] != '1' || v[7] > '1')
		return WIRE_VERSION;
	enum method_kind k = method_kind(p, m);
	if (k == M_UNKNOWN)
		return WIRE_METHOD; /* before the target: CONNECT's is host:port */
	if (!target_ok(t, tl))
		return WIRE_REQUEST_LINE;
	w->minor = v[7] - '0';
	w->is_head = k == M_HEAD;
	w->keeps_body = k == M_BODY;
	head_add(w, p, m + 1 + tl);
	head_str(w, " HTTP/1.1\r\n");
	return WIRE_OK;
}

/* ---- fields ---- */

/* The next element of a comma-separated list (RFC 9110 5.6.1) from *i: its span
 * [*s, *e) without the whitespace around it, possibly empty. false at the end. */
static bool next_element(const char *v, size_t n, size_t *i, size_t *s, size_t *e)
{
	if (*i >= n)
		return false;
	*s = *i;
	while (*i < n && v[*i] != ',')
		(*i)++;
	*e = *i;
	if (*i < n)
		(*i)++; /* the comma */
	while (*s < *e && is_ows((unsigned char)v[*s]))
		(*s)++;
	while (*e > *s && is_ows((unsigned char)v[*e - 1]))
		(*e)--;
	return true;
}

/* Transfer-Encoding: a list of codings; chunked must come last, once. */
static enum wire_refusal transfer_coding(struct wire *w, const char *v, size_t n)
{
	size_t i = 0, s, e;
	while (next_element(v, n, &i, &s, &e)) {
		if (s == e)
			continue; /* an empty list element */
		size_t t = s;
		while (t < e && is_tchar((unsigned char)v[t]))
			t++;
		if (t == s || (t < e && v[t] != ';' && !is_ows((unsigned char)v[t])))
			return WIRE_TRANSFER_ENCODING;
		w->codings++;
		w->chunked_last = t == e && span_is(v + s, e - s, "chunked");
		if (w->chunked_last)
			w->chunked++;
	}
	return WIRE_OK;
}

static void connection_options(struct wire *w, const char *v, size_t n)
{
	size_t i = 0, s, e;
	while (next_element(v, n, &i, &s, &e)) {
		if (span_is(v + s, e - s, "close"))
			w->conn_close = true;
		else if (span_is(v + s, e - s, "keep-alive"))
			w->conn_keep_alive = true;
	}
}

/* Checks a field line; head fields are copied to the normal form unless they are
 * framing fields, which finish_head writes itself. */
static enum wire_refusal field_line(struct wire *w, const char *p, size_t n, bool trailer)
{
	if (is_ows((unsigned char)p[0]))
		return WIRE_OBS_FOLD;
	size_t c = 0;
	while (c < n && is_tchar((unsigned char)p[c]))
		c++;
	if (c == 0 || c == n || p[c] != ':')
		return WIRE_FIELD_NAME;
	size_t s = c + 1, e = n;
	for (size_t i = s; i < e; i++)
		if (!is_field_char((unsigned char)p[i]))
			return WIRE_FIELD_VALUE;
	while (s < e && is_ows((unsigned char)p[s]))
		s++;
	while (e > s && is_ows((unsigned char)p[e - 1]))
		e--;
	if (++w->fields > WIRE_FIELDS_MAX)
		return WIRE_HEAD_TOO_LARGE;
	if (span_is(p, c, WIRE_MARKER_FIELD))
		return WIRE_RESERVED_FIELD;
	if (trailer) /* framing fields have no place in a trailer (RFC 9110 6.5.1) */
		return span_is(p, c, "Content-Length") || span_is(p, c, "Transfer-Encoding")
			       ? WIRE_FIELD_NAME
			       : WIRE_OK;

	const char *v = p + s;
	size_t vl = e - s;
	if (span_is(p, c, "Content-Length")) {
		/* digits, nothing else; not even a tab after them, which llhttp refuses */
		if (++w->lengths > 1 || vl == 0 || vl > 18 || memchr(v, '\t', n - s))
			return WIRE_CONTENT_LENGTH;
		long long len = 0;
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return WIRE_CONTENT_LENGTH;
			len = len * 10 + (v[i] - '0');
		}
		w->length = len;
		return WIRE_OK;
	}
	if (span_is(p, c, "Transfer-Encoding")) {
		w->te_fields++; /* present, even empty: it decides the framing */
		return transfer_coding(w, v, vl);
	}
	if (span_is(p, c, "Connection")) {
		connection_options(w, v, vl);
		return WIRE_OK;
	}
	if (span_is(p, c, "Host"))
		w->hosts++;
	if (span_is(p, c, "Expect")) {
		if (!span_is(v, vl, "100-continue"))
			return WIRE_EXPECT;
		if (w->minor == 0)
			return WIRE_OK; /* an HTTP/1.0 server ignores it (RFC 9110 10.1.1) */
	}
	head_add(w, p, c);
	head_str(w, ": ");
	head_add(w, v, vl);
	head_str(w, "\r\n");
	return WIRE_OK;
}

/* The head is whole: decide the framing, and pass the normal form on. */
static enum wire_refusal finish_head(struct wire *w, wire_emit_fn emit, void *arg)
{
	if (w->hosts > 1 || (w->minor >= 1 && w->hosts != 1))
		return WIRE_HOST;
	if (w->te_fields) {
		if (w->lengths)
			return WIRE_TE_WITH_CL;
		if (w->minor == 0 || w->chunked != 1 || !w->chunked_last)
			return WIRE_TRANSFER_ENCODING;
		if (w->codings > 1)
			return WIRE_TE_UNSUPPORTED;
	}
	if (w->length > w->max_body)
		return WIRE_BODY_TOO_LARGE;
	bool keep = w->minor == 0 ? w->conn_keep_alive && !w->conn_close : !w->conn_close;
	char line[64];
	if (w->keeps_body) {
		if (w->chunked)
			head_str(w, "Transfer-Encoding: chunked\r\n");
		else {
			snprintf(line, sizeof line, "Content-Length: %lld\r\n", w->length);
			head_str(w, line);
		}
	}
	head_str(w, keep ? (w->minor == 0 ? "Connection: keep-alive\r\n" : "")
			 : "Connection: close\r\n");
	head_str(w, "\r\n");
	if (w->head_oom)
		return WIRE_HEAD_TOO_LARGE; /* no memory to hold it: as if it were too large */
	emit(arg, w->head, w->head_len);
	w->heads++;
	w->conn_close = !keep;
	if (w->chunked) {
		w->st = WIRE_ST_CHUNK_SIZE;
	} else if (w->length > 0) {
		w->st = WIRE_ST_BODY;
		w->body_left = w->length;
	} else {
		end_request(w);
	}
	return WIRE_OK;
}

/* ---- chunks ---- */

static enum wire_refusal chunk_size(struct wire *w, const char *p, size_t n, wire_emit_fn emit,
				    void *arg)
{
	size_t i = 0;
	long long size = 0;
	for (; i < n; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			break;
		if (i == 15)
			return WIRE_CHUNK; /* more than 15 digits: no body is that large */
		size = size * 16 + d;
	}
	if (i == 0)
		return WIRE_CHUNK;
	if (i < n) { /* a chunk extension, ignored: ";" then anything printable */
		if (p[i] != ';')
			return WIRE_CHUNK;
		for (; i < n; i++)
			if (!is_field_char((unsigned char)p[i]))
				return WIRE_CHUNK;
	}
	if (size == 0) {
		w->st = WIRE_ST_TRAILER;
		return WIRE_OK;
	}
	w->body_total += size;
	if (w->body_total > w->max_body)
		return WIRE_BODY_TOO_LARGE;
	if (w->keeps_body) {
		char line[32];
		int m = snprintf(line, sizeof line, "%llx\r\n", size);
		emit(arg, line, (size_t)m);
	}
	w->body_left = size;
	w->st = WIRE_ST_CHUNK_DATA;
	return WIRE_OK;
}

/* ---- lines ---- */

static enum wire_refusal line(struct wire *w, const char *p, size_t n, wire_emit_fn emit, void *arg)
{
	switch (w->st) {
	case WIRE_ST_START:
		if (n == 0)
			return WIRE_OK; /* RFC 9112 2.2: empty lines before a request line */
		w->head_len = 0;
		w->st = WIRE_ST_HEAD;
		return request_line(w, p, n);
	case WIRE_ST_HEAD:
		return n ? field_line(w, p, n, false) : finish_head(w, emit, arg);
	case WIRE_ST_CHUNK_SIZE:
		return chunk_size(w, p, n, emit, arg);
	case WIRE_ST_CHUNK_END:
		if (n)
			return WIRE_CHUNK;
		if (w->keeps_body)
			emit(arg, "\r\n", 2);
		w->st = WIRE_ST_CHUNK_SIZE;
		return WIRE_OK;
	case WIRE_ST_TRAILER:
		if (n)
			return field_line(w, p, n, true);
		if (w->keeps_body)
			emit(arg, "0\r\n\r\n", 5);
		end_request(w);
		return WIRE_OK;
	default:
		return WIRE_OK;
	}
}

static bool in_head(const struct wire *w)
{
	return w->st == WIRE_ST_START || w->st == WIRE_ST_HEAD;
}

size_t wire_lookahead(const struct wire *w)
{
	if (in_head(w))
		return WIRE_HEAD_MAX - w->head_bytes + 2;
	return WIRE_CHUNK_LINE_MAX + 2;
}

size_t wire_feed(struct wire *w, const char *p, size_t n, wire_emit_fn emit, void *arg)
{
	size_t used = 0;
	while (used < n) {
		if (w->st == WIRE_ST_DONE)
			return n;
		if (w->st == WIRE_ST_BODY || w->st == WIRE_ST_CHUNK_DATA)
			return used; /* body data: the caller passes it on */
		const char *s = p + used;
		size_t avail = n - used;
		size_t from = w->scanned < avail ? w->scanned : avail;
		const char *lf = memchr(s + from, '\n', avail - from);
		size_t budget = wire_lookahead(w) - 2;
		if (!lf) {
			w->scanned = avail;
			if (avail > budget + 1) /* no end of line within the limit */
				refuse(w, in_head(w) ? WIRE_HEAD_TOO_LARGE : WIRE_CHUNK, emit, arg);
			return w->st == WIRE_ST_DONE ? n : used;
		}
		size_t len = (size_t)(lf - s); /* up to the LF */
		w->scanned = 0;
		if (in_head(w)) {
			w->head_bytes += len + 1;
			if (w->head_bytes > WIRE_HEAD_MAX) {
				refuse(w, WIRE_HEAD_TOO_LARGE, emit, arg);
				return n;
			}
		} else if (len > budget) {
			refuse(w, WIRE_CHUNK, emit, arg);
			return n;
		}
		enum wire_refusal r = WIRE_OK;
		if (len == 0 || s[len - 1] != '\r' || memchr(s, '\r', len - 1))
			r = WIRE_LINE_ENDING;
		else
			r = line(w, s, len - 1, emit, arg);
		if (r != WIRE_OK) {
			refuse(w, r, emit, arg);
			return n;
		}
		used += len + 1;
	}
	return used;
}

long long wire_body_left(const struct wire *w)
{
	return w->st == WIRE_ST_BODY || w->st == WIRE_ST_CHUNK_DATA ? w->body_left : 0;
}

bool wire_body_kept(const struct wire *w)
{
	return w->keeps_body;
}

void wire_body_passed(struct wire *w, long long n)
{
	w->body_left -= n;
	if (w->body_left > 0)
		return;
	if (w->st == WIRE_ST_CHUNK_DATA) {
		w->st = WIRE_ST_CHUNK_END;
		return;
	}
	end_request(w);
}
