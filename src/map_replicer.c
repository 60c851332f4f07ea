/* map_replicer — Replicer webhooks: envelope {id, event, timestamp, data{...}}, with
 * headers X-Replicer-Event, X-Replicer-Delivery-Id, X-Replicer-Timestamp (unix seconds).
 *
 *   call.ended  -> calls (+ transcript segments split from the "Speaker: text" string)
 *   anything else -> stored raw, unmapped. appointment.*, sms.received and
 *   contact.created are announced but their payloads are not documented: guessed rows
 *   would be stored as "mapped" and never revisited, while unmapped events can be
 *   re-mapped with `callbridge replay --status unmapped` once the shape is known.
 *
 * call.ended's data (the seed): callId -> external_id, organizationId -> account_id,
 * agentId, agentName -> agent_name, status, duration (seconds), disconnectionReason,
 * sentiment, summary, transcript (text and segments, roles from agentName/customerName),
 * callSuccessful -> successful, tokenCost -> cost with cost_unit 'tokens' (Replicer's
 * tokens/credits), startedAt,
 * endedAt, metadata{} -> metadata; recordingUrl is read too (a guess: not in the seed).
 * The customer is customerPhone/customerName. OUTBOUND: to_number/to_name = customer,
 * from_number = fromNumber ("caller ID used"). INBOUND: the customer called in, so
 * from_number/from_name = customer, to_number = fromNumber. Without a direction the
 * fields are placed as the docs describe them (customerPhone is the "destination").
 *
 * De-duplication: "<event>:<callId>" for call.* events (one end per call, whether or
 * not the envelope id changes between retries); else "<event>:<id>" with the envelope
 * id; else "delivery:<X-Replicer-Delivery-Id>"; else none (intake hashes the body).
 * Event time: the envelope's timestamp, else X-Replicer-Timestamp. The event name is the
 * body's, else X-Replicer-Event's. */
#include "field.h"
#include "platform.h"
#include "transcript.h"
#include "ts.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The customer and the number the agent used, placed by direction. */
static void map_parties(struct mapped *m, json_object *data, struct row *r)
{
	const char *dir = field_direction(field_str(m, data, "direction"));
	const char *customer = field_str(m, data, "customerPhone");
	const char *customer_name = field_str(m, data, "customerName");
	bool inbound = dir && strcmp(dir, "inbound") == 0;

	r->v[CALL_DIRECTION] = dir;
	r->v[CALL_CUSTOMER_NUMBER] = customer;
	r->v[CALL_CUSTOMER_NAME] = customer_name;
	r->v[inbound ? CALL_FROM_NUMBER : CALL_TO_NUMBER] = customer;
	r->v[inbound ? CALL_FROM_NAME : CALL_TO_NAME] = customer_name;
	r->v[inbound ? CALL_TO_NUMBER : CALL_FROM_NUMBER] = field_str(m, data, "fromNumber");
}

static void map_call_ended(struct mapped *m, json_object *data, const char *call_id)
{
	struct row *r = rows_add(m, TBL_CALLS);
	if (!r)
		return;
	r->v[CALL_EXTERNAL_ID] = call_id;
	r->v[CALL_ACCOUNT_ID] = field_str(m, data, "organizationId");
	r->v[CALL_AGENT_ID] = field_str(m, data, "agentId");
	r->v[CALL_AGENT_NAME] = field_str(m, data, "agentName");
	map_parties(m, data, r);
	r->v[CALL_STATUS] = field_str(m, data, "status");
	r->v[CALL_DURATION_SECONDS] = field_num(m, data, "duration");
	r->v[CALL_DISCONNECTION_REASON] = field_str(m, data, "disconnectionReason");
	r->v[CALL_SENTIMENT] = field_str(m, data, "sentiment");
	r->v[CALL_SUMMARY] = field_str(m, data, "summary");
	r->v[CALL_SUCCESSFUL] = field_bool(m, data, "callSuccessful");
	r->v[CALL_COST] = field_num(m, data, "tokenCost");
	if (r->v[CALL_COST])
		r->v[CALL_COST_UNIT] = "tokens"; /* "Cost in tokens/credits" */
	r->v[CALL_STARTED_AT] = field_ts(m, data, "startedAt");
	r->v[CALL_ENDED_AT] = field_ts(m, data, "endedAt");
	r->v[CALL_RECORDING_URL] = field_str(m, data, "recordingUrl");
	r->v[CALL_METADATA] = field_object(m, data, "metadata");

	const char *text = field_str(m, data, "transcript");
	r->v[CALL_TRANSCRIPT_TEXT] = text;
	if (text &&
	    transcript_split(m, call_id, text, r->v[CALL_AGENT_NAME], r->v[CALL_CUSTOMER_NAME]) < 0)
		rows_fail(m, "out of memory splitting the transcript");
}

/* X-Replicer-Timestamp (unix seconds, the whole value a number) as canonical UTC text. */
static const char *header_time(struct mapped *m, const char *value)
{
	char *end = NULL, out[TS_LEN];
	int64_t us;
	if (!value)
		return NULL;
	double secs = strtod(value, &end);
	while (end && isspace((unsigned char)*end))
		end++;
	if (!end || end == value || *end != '\0' || !ts_from_unix(secs, &us))
		return NULL;
	return ts_format(us, out) ? rows_strdup(m, out) : NULL;
}

static const char *dedupe_key(const struct map_input *in, struct mapped *m, const char *event,
			      const char *call_id)
{
	const char *id = field_str(m, in->root, "id");
	const char *delivery = platform_header(in, "X-Replicer-Delivery-Id");
	if (call_id && strncmp(event, "call.", 5) == 0)
		return rows_printf(m, "%s:%s", event, call_id);
	if (id)
		return rows_printf(m, "%s:%s", event, id);
	if (delivery && *delivery)
		return rows_printf(m, "delivery:%s", delivery);
	return NULL;
}

void map_replicer(const struct map_input *in, struct mapped *m)
{
	json_object *data = field_get(in->root, "data");
	const char *event = field_str(m, in->root, "event");
	const char *call_id = field_str(m, data, "callId");

	if (!event)
		event = rows_strdup(m, platform_header(in, "X-Replicer-Event"));
	m->event_type = event && *event ? event : NULL;
	m->occurred_at = field_ts(m, in->root, "timestamp");
	if (!m->occurred_at)
		m->occurred_at = header_time(m, platform_header(in, "X-Replicer-Timestamp"));
	if (!m->event_type) {
		rows_fail(m, "event is missing");
		return;
	}
	m->dedupe_key = dedupe_key(in, m, event, call_id);
	m->entity_id = call_id;
	if (strcmp(event, "call.ended") != 0)
		m->status = MAP_UNMAPPED;
	else if (!call_id)
		rows_fail(m, "data.callId is missing");
	else
		map_call_ended(m, data, call_id);
}
