/* Values bound for an index are bounded by the pure code (ROWS_MAX_KEY_LEN): the event
 * type, the de-duplication key, the key and indexed columns of each row and the elements
 * of an indexed array are kept when short and replaced by their "sha256:" digest when
 * long, the same way for every event, so that rows of one call still meet. */
#include "harness.h"
#include "intake.h"

#include <stdlib.h>

static char long_text[6001];

/* Maps the body tmpl with every '@' replaced by the 6000-byte string. */
static int map(const char *slug, const char *tmpl, struct mapped *m)
{
	char body[65536], *o = body;
	struct intake_error err;
	for (const char *p = tmpl; *p; p++)
		if (*p == '@')
			o += sprintf(o, "%s", long_text);
		else
			*o++ = *p;
	*o = '\0';
	rows_reset(m);
	return intake_map(platform_find(slug, strlen(slug)), body, strlen(body), NULL, NULL, false,
			  0, m, &err);
}

static bool is_digest(const char *s)
{
	return s && strlen(s) == 71 && !strncmp(s, "sha256:", 7);
}

int main(void)
{
	struct mapped m = {0}, again = {0};
	const char *digest;

	/* Random-looking text: a repeated one would be compressed in the index and fit. */
	srand(42);
	for (size_t i = 0; i < sizeof long_text - 1; i++)
		long_text[i] =
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rand() %
											 62];

	ok(map("replicer", "{\"event\":\"@\",\"data\":{\"callId\":\"c-1\"}}", &m) == 0,
	   "replicer: a 6 KB event type maps");
	ok(is_digest(m.event_type), "the event type is its digest");
	ok(strlen(m.dedupe_key) <= ROWS_MAX_KEY_LEN, "the key built from it is bounded too");
	digest = rows_bound_key(&m, long_text);
	is_str(m.event_type, digest, "the digest of the whole event type");

	ok(map("simz",
	       "{\"event\":\"call.completed\",\"callId\":\"@\",\"agentId\":\"@\","
	       "\"call\":{\"direction\":\"Outbound\",\"toNumber\":\"@\"}}",
	       &m) == 0,
	   "simz: a 6 KB call id, agent id and customer number map");
	is_str(m.event_type, "call.completed", "a short event type is kept");
	ok(m.nrows == 1 && m.rows[0].table == TBL_CALLS, "one call row");
	ok(is_digest(m.rows[0].v[CALL_EXTERNAL_ID]), "external_id (a key) is bounded");
	ok(is_digest(m.rows[0].v[CALL_AGENT_ID]), "agent_id (calls_agent) is bounded");
	ok(is_digest(m.rows[0].v[CALL_CUSTOMER_NUMBER]),
	   "customer_number (calls_customer_number) is bounded");
	ok(strlen(m.rows[0].v[CALL_TO_NUMBER]) == 6000, "a column in no index is kept whole");
	ok(is_digest(m.dedupe_key), "the de-duplication key is bounded");
	ok(is_digest(m.entity_id), "the entity id (webhook_events_entity) is bounded");
	is_str(m.entity_id, m.rows[0].v[CALL_EXTERNAL_ID], "and names the call by its digest");

	ok(map("simz", "{\"event\":\"call.audit.completed\",\"callId\":\"@\",\"audit\":{}}",
	       &again) == 0,
	   "simz: an audit of the same call maps");
	ok(again.nrows >= 1 && again.rows[again.nrows - 1].table == TBL_AUDITS, "an audit row");
	is_str(again.rows[again.nrows - 1].v[AUDIT_CALL_EXTERNAL_ID], m.rows[0].v[CALL_EXTERNAL_ID],
	       "the audit names the call by the same digest");

	ok(map("allo",
	       "{\"topic\":\"CONTACT_CREATED\",\"data\":{\"id\":\"@\",\"emails\":[\"@\"],"
	       "\"numbers\":[\"+33612345678\",\"@\",\"a\\\"b\"]}}",
	       &m) == 0,
	   "allo: a contact with a 6 KB id, email and phone number maps");
	ok(m.nrows == 1 && m.rows[0].table == TBL_CONTACTS, "one contact row");
	ok(is_digest(m.rows[0].v[CONTACT_EXTERNAL_ID]), "the contact's id is bounded");
	ok(strlen(m.rows[0].v[CONTACT_EMAILS]) == 6004, "emails (no index) are kept whole");
	char want[256];
	snprintf(want, sizeof want, "{\"+33612345678\",\"%s\",\"a\\\"b\"}",
		 rows_bound_key(&m, long_text));
	is_str(m.rows[0].v[CONTACT_PHONE_NUMBERS], want,
	       "phone_numbers (GIN): the long element becomes its digest, the others stay");

	ok(map("allo",
	       "{\"topic\":\"CALL_RECEIVED\",\"data\":{\"id\":\"c-9\",\"transfer_original_call_id\":"
	       "\"@\",\"twilioCallSid\":\"x\"}}",
	       &m) == 0,
	   "allo: a call with a 6 KB transfer chain id maps");
	ok(is_digest(m.rows[0].v[CALL_TRANSFER_CHAIN_ID]),
	   "transfer_chain_id (calls_transfer_chain) is bounded");
	is_str(m.entity_id, "c-9", "a short entity id is kept");

	/* The entity, when the mapper names none: the first call, SMS or contact row's key,
	 * else the first audit's call, else the transcript's call. */
	rows_reset(&m);
	struct row *a = rows_add(&m, TBL_AUDITS), *c = rows_add(&m, TBL_CALLS);
	a->v[AUDIT_CALL_EXTERNAL_ID] = "audited";
	c->v[CALL_EXTERNAL_ID] = "called";
	ok(rows_finish(&m) == 0, "finished");
	is_str(m.entity_id, "called", "the call row's key before the audit's call");
	rows_reset(&m);
	a = rows_add(&m, TBL_AUDITS);
	a->v[AUDIT_CALL_EXTERNAL_ID] = "audited";
	ok(rows_finish(&m) == 0 && m.entity_id && !strcmp(m.entity_id, "audited"),
	   "only an audit: its call");
	rows_reset(&m);
	m.entity_id = "told";
	rows_add(&m, TBL_CALLS)->v[CALL_EXTERNAL_ID] = "called";
	ok(rows_finish(&m) == 0 && !strcmp(m.entity_id, "told"), "the mapper's own wins");

	/* At the limit exactly, nothing changes. */
	char edge[ROWS_MAX_KEY_LEN + 2];
	memset(edge, 'x', sizeof edge - 1);
	edge[sizeof edge - 1] = '\0';
	ok(is_digest(rows_bound_key(&m, edge)), "one byte over the limit: digest");
	edge[ROWS_MAX_KEY_LEN] = '\0';
	ok(rows_bound_key(&m, edge) == edge, "at the limit: kept as it is");
	ok(rows_bound_key(&m, NULL) == NULL, "NULL stays NULL");

	rows_free(&m);
	rows_free(&again);
	return done_testing();
}
