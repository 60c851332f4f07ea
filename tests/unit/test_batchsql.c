/* batchsql: the writer's statement texts (byte for byte those of the writer before they
 * moved here, kept in tests/unit/batchsql_stmts.txt), its binary text[] parameters
 * (against bytes computed by hand from array_send's format) and the key order of a
 * batch's rows. */
#include "batchsql.h"
#include "harness.h"

#include <stdlib.h>

/* ---- statements ---- */

/* The expected statements: one "name<TAB>text" line each, in enum batchsql_stmt order. */
static void check_stmts(void)
{
	struct batchsql_stmts s;
	ok(batchsql_stmts_init(&s, 0x2a) == 0, "the statements are built");

	FILE *f = fopen("tests/unit/batchsql_stmts.txt", "r");
	ok(f != NULL, "tests/unit/batchsql_stmts.txt opens (run from the repository's root)");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;
	for (ssize_t len; f && (len = getline(&line, &cap, f)) > 0; n++) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		char *tab = strchr(line, '\t');
		if (n >= BATCHSQL_NSTMTS || !tab) {
			ok(0, "line %d: a name, a tab and a statement", n + 1);
			continue;
		}
		*tab = '\0';
		is_str(s.name[n], line, "statement %d is named %s", n, line);
		is_str(s.sql[n], tab + 1, "%s: the same text as before", line);
	}
	ok(n == BATCHSQL_NSTMTS, "%d statements expected, %d built", n, BATCHSQL_NSTMTS);
	free(line);
	if (f)
		fclose(f);

	/* What the texts promise pgw, in case the file is ever regenerated blindly. */
	const char *events = s.sql[BATCHSQL_EVENTS];
	ok(strstr(events, "unnest($1::text[]") && strstr(events, "$10::text[])") &&
		   !strstr(events, "$11") && strstr(events, "INSERT INTO callbridge.event_keys") &&
		   strstr(events, "ON CONFLICT (platform, source, dedupe_key)"),
	   "the events statement takes BATCHSQL_EVENTS_NPARAMS arrays, de-duplicated by "
	   "source too in event_keys");
	ok(strstr(s.sql[BATCHSQL_EVENT], "$9, $10 FROM k") &&
		   strstr(s.sql[BATCHSQL_EVENT], "entity_id") &&
		   strstr(s.sql[BATCHSQL_REPLAY], "entity_id = COALESCE($7, entity_id)"),
	   "the event statements write the entity id");
	ok(strstr(s.sql[BATCHSQL_DUPLICATE],
		  "$6::boolean AND $4::timestamptz IN (t.received_at, t.last_received_at)") &&
		   strstr(s.sql[BATCHSQL_DUPLICATE], "ELSE $5::integer END") &&
		   strstr(s.sql[BATCHSQL_DUPLICATE],
			  "t.id = k.event_id AND t.received_at = k.received_at") &&
		   !strstr(s.sql[BATCHSQL_EVENTS], "delivery_count"),
	   "a duplicate is counted by a statement of its own, on the event its key names");
	ok(strstr(s.sql[BATCHSQL_ROWS0 + TBL_AUDITS],
		  " OFFSET 0) AS v WHERE v.call_id IS NOT NULL") != NULL,
	   "the audits' call is looked up per row (OFFSET 0)");
	char last[64];
	snprintf(last, sizeof last, "$%d::text[], $%d::text[])", rows_spec(TBL_CALLS)->ncols + 2,
		 rows_spec(TBL_CALLS)->ncols + 3);
	ok(strstr(s.sql[BATCHSQL_ROWS0 + TBL_CALLS], last) != NULL &&
		   batchsql_row_nparams(rows_spec(TBL_CALLS)) == rows_spec(TBL_CALLS)->ncols + 3,
	   "the calls batch upsert takes one array per column, plus platform, time and source");
	ok(strstr(s.sql[BATCHSQL_ROWS0 + TBL_CALLS],
		  "ON CONFLICT (platform, source, external_id)") != NULL &&
		   strstr(s.sql[BATCHSQL_ROWS0 + TBL_AUDITS],
			  "c.platform = u.p AND c.source = u.src AND c.external_id = u.c0") != NULL,
	   "rows are keyed by source, and an audit finds its call in its own source");
	ok(!strstr(s.sql[BATCHSQL_ROW0 + TBL_CALLS], "substr(") &&
		   !strstr(s.sql[BATCHSQL_ROWS0 + TBL_CALLS], "clr"),
	   "calls never clear: no mask in their upserts");
	const struct row_spec *cs = rows_spec(TBL_CONTACTS);
	ok(cs->clears && batchsql_row_nparams(cs) == cs->ncols + 4,
	   "contacts may clear: one more parameter, the mask (before the source)");
	snprintf(last, sizeof last, "substr($%d::text, ", cs->ncols + 3);
	ok(strstr(s.sql[BATCHSQL_ROW0 + TBL_CONTACTS], last) != NULL,
	   "the contacts upsert reads the mask, its last parameter");
	snprintf(last, sizeof last, "$%d::text[], $%d::text[]) AS v(", cs->ncols + 3,
		 cs->ncols + 4);
	ok(strstr(s.sql[BATCHSQL_ROWS0 + TBL_CONTACTS], last) != NULL &&
		   strstr(s.sql[BATCHSQL_ROWS0 + TBL_CONTACTS],
			  "(SELECT x.clr FROM v x WHERE x.p = EXCLUDED.platform AND x.src = "
			  "EXCLUDED.source AND x.c0 = EXCLUDED.external_id)") != NULL,
	   "the contacts batch upsert takes the masks as one more array, read per conflict");
	ok(strstr(s.sql[BATCHSQL_ROW0 + TBL_CONTACTS],
		  "last_name = CASE WHEN (t.last_event_at IS NULL OR EXCLUDED.last_event_at > "
		  "t.last_event_at) AND EXCLUDED.last_name IS NULL AND substr($9::text, 3, 1) = '1' "
		  "THEN NULL") != NULL,
	   "a column is cleared only by a newer event that leaves it NULL and marks it");

	/* The mask's text. */
	struct row r = {.table = TBL_CONTACTS};
	char buf[ROW_MAXCOLS + 1];
	ok(rows_clear_text(&r, buf) == NULL, "no mask: NULL, the parameter is NULL");
	r.clear = 1ull << CONTACT_LAST_NAME | 1ull << CONTACT_EMAILS;
	is_str(rows_clear_text(&r, buf), "001010", "the mask: one digit per column, in order");
	r.table = TBL_CALLS;
	r.clear = 1ull << CALL_AGENT_ID;
	ok(rows_clear_text(&r, buf) == NULL, "a calls row never clears");

	batchsql_stmts_free(&s);
	ok(s.sql[BATCHSQL_EVENT] == NULL && s.sql[BATCHSQL_NSTMTS - 1] == NULL,
	   "freed statements are NULL");
	batchsql_stmts_free(&s); /* must not free twice */
}

/* ---- array parameters ---- */

/* Whether a holds exactly the n bytes of want; prints both when not. */
static int same_bytes(const struct batchsql_array *a, const char *want, size_t n)
{
	if (!a->oom && a->len == n && memcmp(a->p, want, n) == 0)
		return 1;
	printf("#   got  %zu bytes:", a->len);
	for (size_t i = 0; i < a->len && a->p; i++)
		printf(" %02x", (unsigned char)a->p[i]);
	printf("\n#   want %zu bytes:", n);
	for (size_t i = 0; i < n; i++)
		printf(" %02x", (unsigned char)want[i]);
	printf("\n");
	return 0;
}

/* The header's first three words: one dimension, no flags, elements of type text (oid
 * 25). The count of elements and the lower bound (1) follow. */
#define HEAD                                                                                       \
	"\0\0\0\1"                                                                                 \
	"\0\0\0\0"                                                                                 \
	"\0\0\0\x19"

static void check_arrays(void)
{
	struct batchsql_array a = {0};

	batchsql_array_begin(&a);
	batchsql_array_end(&a);
	static const char empty[] = HEAD "\0\0\0\0"  /* 0 elements */
					 "\0\0\0\1"; /* lower bound */
	ok(same_bytes(&a, empty, sizeof empty - 1), "an empty array: the header alone, 0 elements");

	batchsql_array_begin(&a);
	batchsql_array_add(&a, "ab");
	batchsql_array_add(&a, NULL);
	batchsql_array_add(&a, "");
	batchsql_array_add(&a, "xyz");
	batchsql_array_end(&a);
	static const char four[] = HEAD "\0\0\0\4"         /* 4 elements */
					"\0\0\0\1"         /* lower bound */
					"\0\0\0\2"         /* "ab": length 2, */
					"ab"               /* its bytes */
					"\xff\xff\xff\xff" /* NULL: length -1, no bytes */
					"\0\0\0\0"         /* "": length 0, no bytes */
					"\0\0\0\3"         /* "xyz": length 3, */
					"xyz";             /* its bytes */
	ok(same_bytes(&a, four, sizeof four - 1),
	   "elements: big-endian lengths, NULL as -1 with no bytes, an empty string as 0");

	/* é is 2 bytes, 日本 6, 🙂 4: lengths count bytes, not characters. */
	batchsql_array_begin(&a);
	batchsql_array_add(&a, "\xc3\xa9");
	batchsql_array_add(&a, "\xe6\x97\xa5\xe6\x9c\xac");
	batchsql_array_add(&a, "\xf0\x9f\x99\x82");
	batchsql_array_end(&a);
	static const char utf8[] = HEAD "\0\0\0\3"                 /* 3 elements */
					"\0\0\0\1"                 /* lower bound */
					"\0\0\0\2"                 /* é: 2 bytes */
					"\xc3\xa9"                 /* its bytes */
					"\0\0\0\6"                 /* 日本: 6 bytes */
					"\xe6\x97\xa5\xe6\x9c\xac" /* its bytes */
					"\0\0\0\4"                 /* 🙂: 4 bytes */
					"\xf0\x9f\x99\x82";        /* its bytes */
	ok(same_bytes(&a, utf8, sizeof utf8 - 1),
	   "multi-byte UTF-8: lengths in bytes, bytes as given");

	/* 300 elements: the count takes more than its low byte. */
	batchsql_array_begin(&a);
	for (int i = 0; i < 300; i++)
		batchsql_array_add(&a, NULL);
	batchsql_array_end(&a);
	static const char h300[] = HEAD "\0\0\x01\x2c";
	ok(a.len == 20 + 300 * 4 && !memcmp(a.p, h300, sizeof h300 - 1),
	   "300 elements: count 0x0000012c, 4 bytes each");

	/* An element longer than 255 bytes: its length takes two bytes. */
	char big[1001];
	memset(big, 'q', 1000);
	big[1000] = '\0';
	batchsql_array_begin(&a);
	batchsql_array_add(&a, big);
	batchsql_array_end(&a);
	ok(a.len == 20 + 4 + 1000 && !memcmp(a.p + 20, "\0\0\x03\xe8", 4) && a.p[24] == 'q' &&
		   a.p[a.len - 1] == 'q',
	   "a 1000-byte element: length 0x000003e8, then its bytes");

	/* A buffer kept at the usual size is kept; one grown past 1 MiB is let go. */
	char *kept = a.p;
	batchsql_array_trim(&a);
	ok(a.p == kept && a.cap > 0, "trim keeps a small buffer");
	char *huge = malloc((1u << 20) + 1);
	memset(huge, 'h', 1u << 20);
	huge[1u << 20] = '\0';
	batchsql_array_begin(&a);
	batchsql_array_add(&a, huge);
	batchsql_array_end(&a);
	ok(a.len == 20 + 4 + (1u << 20) && !a.oom, "a 1 MiB element fits");
	batchsql_array_trim(&a);
	ok(a.p == NULL && a.cap == 0 && a.len == 0, "trim lets go of a buffer past 1 MiB");
	batchsql_array_begin(&a);
	batchsql_array_add(&a, "ab");
	batchsql_array_add(&a, NULL);
	batchsql_array_add(&a, "");
	batchsql_array_add(&a, "xyz");
	batchsql_array_end(&a);
	ok(same_bytes(&a, four, sizeof four - 1), "after trim the array is built again the same");
	free(huge);

	batchsql_array_free(&a);
	ok(a.p == NULL && a.cap == 0, "free empties the array");
}

/* ---- lock order ---- */

static const char *keys(const struct batchsql_ref *refs, int n)
{
	static char out[512];
	size_t o = 0;
	out[0] = '\0';
	for (int j = 0; j < n; j++)
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%s/%s/%s@%d.%d", j ? " " : "",
				      refs[j].k[0] ? refs[j].k[0] : "-",
				      refs[j].k[1] ? refs[j].k[1] : "-",
				      refs[j].k[2] ? refs[j].k[2] : "-", refs[j].i, refs[j].r);
	return out;
}

static void check_order(void)
{
	ok(batchsql_key_cmp(NULL, NULL) == 0, "NULL equals NULL");
	ok(batchsql_key_cmp(NULL, "") < 0 && batchsql_key_cmp("", NULL) > 0,
	   "NULL (a shorter key) sorts before any string, even the empty one");
	ok(batchsql_key_cmp("a", "b") < 0 && batchsql_key_cmp("b", "a") > 0 &&
		   batchsql_key_cmp("a", "a") == 0,
	   "strings in strcmp order");
	ok(batchsql_key_cmp("Z", "a") < 0 && batchsql_key_cmp("\xc3\xa9", "z") > 0,
	   "bytes, not a collation: upper case first, UTF-8 after ASCII");

	ok(batchsql_refs_sort(NULL, 0), "no rows: nothing to sort, no duplicates");

	struct batchsql_ref distinct[] = {
		{{"simz", "c-2", NULL}, 0, 0},  {{"allo", "c-9", NULL}, 1, 0},
		{{"simz", "c-10", NULL}, 2, 0}, {{"simz", "c-1", "b"}, 3, 0},
		{{"simz", "c-1", "a"}, 3, 1},   {{"simz", "c-1", NULL}, 4, 0},
	};
	ok(batchsql_refs_sort(distinct, 6), "distinct keys: no duplicates");
	is_str(keys(distinct, 6),
	       "allo/c-9/-@1.0 simz/c-1/-@4.0 simz/c-1/a@3.1 simz/c-1/b@3.0 simz/c-10/-@2.0 "
	       "simz/c-2/-@0.0",
	       "sorted by platform, then each key part; a shorter key first");

	struct batchsql_ref dups[] = {
		{{"simz", "c-2", NULL}, 0, 1}, {{"simz", "c-1", NULL}, 1, 0},
		{{"allo", "c-2", NULL}, 2, 0}, {{"simz", "c-2", NULL}, 0, 0},
		{{"simz", "c-2", NULL}, 3, 0},
	};
	ok(!batchsql_refs_sort(dups, 5), "a key three times: duplicates found");
	is_str(keys(dups, 5),
	       "allo/c-2/-@2.0 simz/c-1/-@1.0 simz/c-2/-@0.0 simz/c-2/-@0.1 simz/c-2/-@3.0",
	       "the duplicates are neighbours, in batch position and row order");

	struct batchsql_ref pair[] = {
		{{"simz", "c-1", "x"}, 0, 0},
		{{"simz", "c-1", "x"}, 1, 0},
	};
	ok(!batchsql_refs_sort(pair, 2), "equal in all three parts: a duplicate");
	struct batchsql_ref other_platform[] = {
		{{"simz", "c-1", NULL}, 0, 0},
		{{"allo", "c-1", NULL}, 1, 0},
	};
	ok(batchsql_refs_sort(other_platform, 2), "the same id on two platforms: two keys");
	struct batchsql_ref longer[] = {
		{{"simz", "c-1", "x"}, 0, 0},
		{{"simz", "c-1", NULL}, 1, 0},
	};
	ok(batchsql_refs_sort(longer, 2), "a key and a longer key it begins: two keys");
}

int main(void)
{
	check_stmts();
	check_arrays();
	check_order();
	return done_testing();
}
