/* lookup — the pure part of the pre-call lookups (docs/precall.md): the platforms'
 * request and answer shapes, one adapter each, and the facts of a caller as flat
 * variables. No I/O: precall.c runs the query, http.c routes and answers.
 *
 * Adding a platform's shape means one parse and one wrap function below and a line in
 * the adapter table (lookup.c); every adapter answers the same variables. */
#ifndef CALLBRIDGE_LOOKUP_H
#define CALLBRIDGE_LOOKUP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* The columns of the lookup query (precall.c, callbridge.caller_facts), in order. */
enum lookup_fact {
	LF_PHONE,
	LF_KNOWN,
	LF_NAME,
	LF_COMPANY,
	LF_CALLS,
	LF_LAST_CALL_AT,
	LF_LAST_CALL_PLATFORM,
	LF_LAST_CALL_DIRECTION,
	LF_LAST_CALL_OUTCOME,
	LF_LAST_CALL_SUMMARY,
	LF_LAST_CALL_SENTIMENT,
	LF_LAST_QUALIFIED,
	LF_LAST_QUALIFIED_REASON,
	LF_LAST_SMS_AT,
	LF_LAST_SMS_DIRECTION,
	LF_LAST_SMS,
	LF_FOLLOW_UP,
	LF_COUNT
};

/* One row of the lookup query as text: NULL for SQL NULL; booleans "t"/"f"; times
 * ISO 8601 UTC. A lookup that found nothing, timed out or had no database has every
 * value NULL (lookup_facts_unknown). */
struct lookup_facts {
	const char *v[LF_COUNT];
};

/* The facts of nobody: every value NULL, known false. */
void lookup_facts_unknown(struct lookup_facts *f);

/* What a platform's lookup request tells us. Strings are borrowed from the parsed
 * request (or the path) and live as long as it. */
struct lookup_request {
	const char *phone;  /* the person's number as sent; NULL: withheld or absent */
	const char *called; /* our side's number, or NULL */
	const char *agent;  /* the platform's agent id, or NULL */
};

struct lookup_adapter {
	const char *slug; /* POST /precall/<slug> */
	const char *name;
	/* Reads the request body. false: it is not the platform's shape at all (a 400);
	 * a request of the right shape without a number is true with phone NULL. */
	bool (*parse)(json_object *root, struct lookup_request *out);
	/* Wraps the variables (a JSON object of strings) into the platform's answer; takes
	 * ownership of vars. NULL when out of memory. */
	json_object *(*wrap)(json_object *vars);
};

extern const struct lookup_adapter lookup_adapters[];
extern const int lookup_adapter_count;

/* The adapter whose slug is the len bytes at slug, or NULL. */
const struct lookup_adapter *lookup_adapter_find(const char *slug, size_t len);

/* The answer of adapter a for facts f: the variables, every one present, as strings
 * ("" when unknown; "true"/"false"), wrapped in the platform's shape. NULL when out of
 * memory. The caller frees it with json_object_put. */
json_object *lookup_answer(const struct lookup_adapter *a, const struct lookup_facts *f);

/* The plain JSON of GET /v1/callers/<phone>: typed values, nested objects for the last
 * call, audit and SMS (null when there is none), and "lookup": what happened (ok,
 * budget_exceeded, unavailable). */
json_object *lookup_plain(const struct lookup_facts *f, const char *lookup);

/* The variable names every adapter answers, in order (for docs and tests). */
extern const char *const lookup_variable_names[LF_COUNT];

/* Decodes a path segment's %XX escapes into out (at most outlen - 1 bytes). false when
 * an escape is malformed, decodes to a NUL or the result does not fit. */
bool lookup_path_decode(const char *s, size_t len, char *out, size_t outlen);

#endif
