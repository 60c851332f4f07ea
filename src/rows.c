/* rows — mapped rows, their column specs and a small arena (see rows.h). */
#include "rows.h"

#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const call_cols[CALL_NCOLS] = {
	"external_id",
	"account_id",
	"agent_id",
	"agent_name",
	"direction",
	"from_number",
	"from_name",
	"to_number",
	"to_name",
	"customer_number",
	"customer_name",
	"status",
	"disposition",
	"successful",
	"started_at",
	"answered_at",
	"ended_at",
	"duration_seconds",
	"billed_minutes",
	"recording_url",
	"summary",
	"sentiment",
	"disconnection_reason",
	"cost",
	"transcript_text",
	"metadata",
	"cost_unit",
	"tags",
	"carrier_call_id",
	"dialed_number",
	"dialed_name",
	"transfer_chain_id",
	"transferred_from_number",
	"transferred_from_name",
	"transferred_from_email",
	"transferred_to_number",
	"transferred_to_name",
	"transferred_to_email",
	"integration_id",
	"owner_email",
};
static const enum col_type call_types[CALL_NCOLS] = {
	[CALL_SUCCESSFUL] = COL_BOOL,
	[CALL_STARTED_AT] = COL_TS,
	[CALL_ANSWERED_AT] = COL_TS,
	[CALL_ENDED_AT] = COL_TS,
	[CALL_DURATION_SECONDS] = COL_NUM,
	[CALL_BILLED_MINUTES] = COL_NUM,
	[CALL_COST] = COL_NUM,
	[CALL_METADATA] = COL_JSONB,
	[CALL_TAGS] = COL_TEXTARR,
};

static const char *const audit_cols[AUDIT_NCOLS] = {
	"call_id", "kind", "status", "qualified", "reason", "summary", "results",
};
static const enum col_type audit_types[AUDIT_NCOLS] = {
	[AUDIT_QUALIFIED] = COL_BOOL,
	[AUDIT_RESULTS] = COL_JSONB,
};

static const char *const sms_cols[SMS_NCOLS] = {
	"external_id", "direction", "message_type", "content", "sent_at",
	"from_number", "from_name", "to_number",    "to_name",
};
static const enum col_type sms_types[SMS_NCOLS] = {[SMS_SENT_AT] = COL_TS};

static const char *const contact_cols[CONTACT_NCOLS] = {
	"external_id", "first_name", "last_name", "company", "emails", "phone_numbers",
};
static const enum col_type contact_types[CONTACT_NCOLS] = {
	[CONTACT_EMAILS] = COL_TEXTARR,
	[CONTACT_PHONE_NUMBERS] = COL_TEXTARR,
};

/* The indexed columns follow sql/migrations/0001_schema.sql: calls_agent (agent_id),
 * calls_customer_number, contacts_phone_numbers (GIN over the array's elements); and
 * 0005_fields.sql: calls_transfer_chain, calls_carrier_call_id. 0009 dropped calls_agent,
 * calls_customer_number and contacts_phone_numbers; their columns stay bounded, so that
 * what is stored does not change, and customer_number and phone_numbers are still
 * indexed through normalize_phone (0007: calls_party_phone, contacts_normalized_phones).
 * The keys
 * (external ids; an audit's call external id, looked up in calls.external_id) are bounded
 * as keys. tests/e2e/23-two-ways.t stores a 6 KB value in every string field of each
 * platform's events, so an index added without a line here fails it. */
static const struct row_spec specs[TBL_COUNT] = {
	[TBL_CALLS] = {"callbridge.calls", "platform, source, external_id", "last_event_at",
		       CALL_NCOLS, call_cols, call_types, 1, 0,
		       1ull << CALL_AGENT_ID | 1ull << CALL_CUSTOMER_NUMBER |
			       1ull << CALL_TRANSFER_CHAIN_ID | 1ull << CALL_CARRIER_CALL_ID,
		       0},
	[TBL_AUDITS] = {"callbridge.call_audits", "call_id, kind", "occurred_at", AUDIT_NCOLS,
			audit_cols, audit_types, 2, 1, 0, 0},
	[TBL_SMS] = {"callbridge.sms_messages", "platform, source, external_id", "last_event_at",
		     SMS_NCOLS, sms_cols, sms_types, 1, 0, 0, 0},
	[TBL_CONTACTS] = {"callbridge.contacts", "platform, source, external_id", "last_event_at",
			  CONTACT_NCOLS, contact_cols, contact_types, 1, 0,
			  1ull << CONTACT_PHONE_NUMBERS, 1},
};

/* Every table's columns, and the clear mask, fit the writer's parameter arrays. */
_Static_assert(CALL_NCOLS < ROW_MAXCOLS && AUDIT_NCOLS < ROW_MAXCOLS && SMS_NCOLS < ROW_MAXCOLS &&
		       CONTACT_NCOLS < ROW_MAXCOLS && ROW_MAXCOLS <= 64,
	       "a table has more columns than ROW_MAXCOLS allows");

const struct row_spec *rows_spec(enum row_table t)
{
	return &specs[t];
}

/* ---- arena: chunks of at least 4 KiB, bump allocation ---- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	_Alignas(16) char data[];
};

static void *arena_alloc(struct mapped *m, size_t n)
{
	struct arena_chunk *c = m->arena;
	n = (n + 15) & ~(size_t)15;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 4096 - sizeof *c ? n : 4096 - sizeof *c;
		struct arena_chunk *fresh = malloc(sizeof *fresh + cap);
		if (!fresh)
			return NULL;
		fresh->next = c;
		fresh->used = 0;
		fresh->cap = cap;
		m->arena = c = fresh;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

char *rows_alloc(struct mapped *m, size_t n)
{
	char *p = arena_alloc(m, n);
	if (p)
		memset(p, 0, n);
	return p;
}

const char *rows_strndup(struct mapped *m, const char *s, size_t n)
{
	if (!s)
		return NULL;
	char *p = arena_alloc(m, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

const char *rows_strdup(struct mapped *m, const char *s)
{
	return s ? rows_strndup(m, s, strlen(s)) : NULL;
}

static const char *rows_vprintf(struct mapped *m, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	char *p = arena_alloc(m, (size_t)n + 1);
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

const char *rows_printf(struct mapped *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const char *p = rows_vprintf(m, fmt, ap);
	va_end(ap);
	return p;
}

void rows_reset(struct mapped *m)
{
	struct arena_chunk *keep = m->arena;
	free(m->transcript.seg);
	if (keep) {
		struct arena_chunk *c = keep->next;
		while (c) {
			struct arena_chunk *next = c->next;
			free(c);
			c = next;
		}
		keep->next = NULL;
		keep->used = 0;
	}
	memset(m, 0, sizeof *m);
	m->arena = keep;
}

void rows_free(struct mapped *m)
{
	struct arena_chunk *c = m->arena;
	free(m->transcript.seg);
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	memset(m, 0, sizeof *m);
}

struct row *rows_add(struct mapped *m, enum row_table t)
{
	if (m->nrows >= ROWS_MAX)
		return NULL;
	struct row *r = &m->rows[m->nrows++];
	memset(r, 0, sizeof *r);
	r->table = t;
	return r;
}

const char *rows_clear_text(const struct row *r, char out[ROW_MAXCOLS + 1])
{
	const struct row_spec *s = rows_spec(r->table);
	if (!r->clear || !s->clears)
		return NULL;
	for (int c = 0; c < s->ncols; c++)
		out[c] = r->clear & 1ull << c ? '1' : '0';
	out[s->ncols] = '\0';
	return out;
}

struct row *rows_find(struct mapped *m, enum row_table t, const char *key)
{
	for (int i = 0; i < m->nrows; i++)
		if (m->rows[i].table == t && m->rows[i].v[0] && key &&
		    strcmp(m->rows[i].v[0], key) == 0)
			return &m->rows[i];
	return NULL;
}

struct segment *rows_add_segment(struct mapped *m, const char *call_external_id)
{
	struct transcript *t = &m->transcript;
	if (!t->call_external_id)
		t->call_external_id = call_external_id;
	if (t->n == t->cap) {
		int cap = t->cap ? t->cap * 2 : 16;
		struct segment *p = realloc(t->seg, (size_t)cap * sizeof *p);
		if (!p)
			return NULL;
		t->seg = p;
		t->cap = cap;
	}
	struct segment *s = &t->seg[t->n++];
	memset(s, 0, sizeof *s);
	return s;
}

/* Who speaks a segment, for the transcript text: as sent, else the role. */
static const char *label(const struct segment *s)
{
	return s->speaker ? s->speaker : s->role ? s->role : "unknown";
}

const char *rows_transcript_text(struct mapped *m)
{
	const struct transcript *t = &m->transcript;
	size_t len = 0;
	for (int i = 0; i < t->n; i++) {
		const struct segment *s = &t->seg[i];
		len += strlen(label(s)) + strlen(s->content ? s->content : "") + 3;
	}
	if (len == 0)
		return NULL;
	char *out = arena_alloc(m, len + 1), *p = out;
	if (!out)
		return NULL;
	for (int i = 0; i < t->n; i++) {
		const struct segment *s = &t->seg[i];
		p += sprintf(p, "%s%s: %s", i ? "\n" : "", label(s), s->content ? s->content : "");
	}
	return out;
}

const char *rows_digest(struct mapped *m, const void *bytes, size_t len)
{
	unsigned char md[32];
	char hex[7 + 64 + 1] = "sha256:";
	if (!EVP_Digest(bytes, len, md, NULL, EVP_sha256(), NULL))
		return NULL;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 7 + 2 * i, 3, "%02x", md[i]);
	return rows_strdup(m, hex);
}

const char *rows_bound_key(struct mapped *m, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > ROWS_MAX_KEY_LEN ? rows_digest(m, s, n) : s;
}

/* An array literal as field_text_array writes it ({"a","b\"c"}: every element quoted,
 * '"' and '\\' escaped) with each element over ROWS_MAX_KEY_LEN bytes replaced by its
 * digest (of the unescaped text). NULL when out of memory. */
static const char *bound_array(struct mapped *m, const char *lit)
{
	size_t len = strlen(lit);
	if (len <= ROWS_MAX_KEY_LEN + 4)
		return lit; /* no element can be too long */
	char *out = rows_alloc(m, len + 1), *o = out;
	char *text = rows_alloc(m, len + 1);
	if (!out || !text)
		return NULL;
	for (const char *p = lit; *p; p++) {
		if (*p != '"') {
			*o++ = *p; /* braces and commas */
			continue;
		}
		const char *start = p++;
		size_t n = 0;
		for (; *p && *p != '"'; p++)
			text[n++] = *p == '\\' && p[1] ? *++p : *p;
		if (!*p)
			return NULL; /* not field_text_array's writing: cannot happen */
		if (n <= ROWS_MAX_KEY_LEN) {
			memcpy(o, start, (size_t)(p + 1 - start));
			o += p + 1 - start;
			continue;
		}
		const char *d = rows_digest(m, text, n);
		if (!d)
			return NULL;
		o += sprintf(o, "\"%s\"", d); /* 73 bytes, never more than the element */
	}
	*o = '\0';
	return out;
}

/* Replaces *v by rows_bound_key(*v); false when out of memory. */
static bool bound(struct mapped *m, const char **v)
{
	const char *b = rows_bound_key(m, *v);
	if (*v && !b)
		return false;
	*v = b;
	return true;
}

/* Bounds every value of m that goes into an index (see ROWS_MAX_KEY_LEN). */
static int bound_indexed(struct mapped *m)
{
	bool ok = bound(m, &m->event_type) && bound(m, &m->entity_id) &&
		  bound(m, &m->transcript.call_external_id);
	for (int i = 0; ok && i < m->nrows; i++) {
		struct row *r = &m->rows[i];
		const struct row_spec *s = rows_spec(r->table);
		for (int c = 0; ok && c < s->ncols; c++) {
			if (!r->v[c] || (c >= s->nkeys && !(s->indexed & 1ull << c)))
				continue;
			if (s->types[c] == COL_TEXTARR)
				ok = (r->v[c] = bound_array(m, r->v[c])) != NULL;
			else if (s->types[c] == COL_TEXT)
				ok = bound(m, &r->v[c]);
		}
	}
	return ok ? 0 : -1;
}

/* The entity an event is about, when its mapper did not say: the key of its first call,
 * SMS or contact row, else the call of its first audit, else the transcript's call. */
static const char *default_entity(const struct mapped *m)
{
	for (int i = 0; i < m->nrows; i++)
		if (m->rows[i].table != TBL_AUDITS && m->rows[i].v[0])
			return m->rows[i].v[0];
	for (int i = 0; i < m->nrows; i++)
		if (m->rows[i].v[0])
			return m->rows[i].v[0];
	return m->transcript.call_external_id;
}

int rows_finish(struct mapped *m)
{
	struct transcript *t = &m->transcript;
	if (!m->entity_id)
		m->entity_id = default_entity(m);
	if (bound_indexed(m) < 0)
		return -1;
	if (!t->call_external_id || m->status != MAP_MAPPED)
		return 0;
	json_object *arr = json_object_new_array_ext(t->n);
	if (!arr)
		return -1;
	for (int i = 0; i < t->n; i++) {
		const struct segment *s = &t->seg[i];
		json_object *o = json_object_new_object();
		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			json_object_put(arr);
			return -1;
		}
		json_object_object_add(o, "role",
				       json_object_new_string(s->role ? s->role : "unknown"));
		if (s->speaker)
			json_object_object_add(o, "speaker", json_object_new_string(s->speaker));
		json_object_object_add(o, "content",
				       json_object_new_string(s->content ? s->content : ""));
		if (s->spoken_at)
			json_object_object_add(o, "spoken_at",
					       json_object_new_string(s->spoken_at));
	}
	t->json = rows_strdup(
		m, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return t->json ? 0 : -1;
}

void rows_fail(struct mapped *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	m->error = rows_vprintf(m, fmt, ap);
	va_end(ap);
	m->status = MAP_FAILED;
	m->nrows = 0;
	m->transcript.call_external_id = NULL;
	m->transcript.n = 0;
}

/* Writes s with backslashes, newlines and tabs escaped, so that a value is one line. */
static void put_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '\r')
			fputs("\\r", out);
		else if (*s == '\t')
			fputs("\\t", out);
		else if (*s == '\\')
			fputs("\\\\", out);
		else
			fputc(*s, out);
	}
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void rows_dump(const struct mapped *m, FILE *out)
{
	static const char *const status_names[] = {"mapped", "unmapped", "failed"};
	fprintf(out, "event.status = %s\n", status_names[m->status]);
	if (m->event_type)
		fprintf(out, "event.event_type = %s\n", m->event_type);
	if (m->occurred_at)
		fprintf(out, "event.occurred_at = %s\n", m->occurred_at);
	if (m->dedupe_key)
		fprintf(out, "event.dedupe_key = %s\n", m->dedupe_key);
	if (m->entity_id) {
		fputs("event.entity_id = ", out);
		put_escaped(out, m->entity_id);
		fputc('\n', out);
	}
	if (m->error) {
		fputs("event.error = ", out);
		put_escaped(out, m->error);
		fputc('\n', out);
	}
	for (int i = 0; i < m->nrows; i++) {
		const struct row *r = &m->rows[i];
		const struct row_spec *s = rows_spec(r->table);
		const char *short_name = strchr(s->table, '.') + 1;
		char *lines[ROW_MAXCOLS + 1];
		int n = 0;
		for (int c = 0; c < s->ncols; c++) {
			if (!r->v[c])
				continue;
			size_t len = strlen(short_name) + strlen(s->cols[c]) + strlen(r->v[c]) + 16;
			lines[n] = malloc(len);
			if (!lines[n])
				continue;
			snprintf(lines[n], len, "%s[%d].%s = %s", short_name, i, s->cols[c],
				 r->v[c]);
			n++;
		}
		if (r->clear && s->clears) { /* "<table>[i].cleared = col,col" */
			char cleared[1024] = "";
			for (int c = 0; c < s->ncols; c++)
				if (r->clear & 1ull << c)
					snprintf(cleared + strlen(cleared),
						 sizeof cleared - strlen(cleared), "%s%s",
						 *cleared ? "," : "", s->cols[c]);
			size_t len = strlen(short_name) + strlen(cleared) + 32;
			if ((lines[n] = malloc(len)) != NULL)
				snprintf(lines[n++], len, "%s[%d].cleared = %s", short_name, i,
					 cleared);
		}
		qsort(lines, (size_t)n, sizeof lines[0], cmp_lines);
		for (int k = 0; k < n; k++) {
			put_escaped(out, lines[k]);
			fputc('\n', out);
			free(lines[k]);
		}
	}
	const struct transcript *t = &m->transcript;
	if (t->call_external_id) {
		fprintf(out, "transcript.call = %s\n", t->call_external_id);
		for (int i = 0; i < t->n; i++) {
			const struct segment *s = &t->seg[i];
			fprintf(out, "transcript[%d] = %s | %s | %s | ", i,
				s->role ? s->role : "unknown", s->speaker ? s->speaker : "-",
				s->spoken_at ? s->spoken_at : "-");
			put_escaped(out, s->content ? s->content : "");
			fputc('\n', out);
		}
	}
}
