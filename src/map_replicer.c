/* map_replicer — Replicer webhooks: envelope {id, event, timestamp, data{...}}, with
 * headers X-Replicer-Event, X-Replicer-Delivery-Id, X-Replicer-Timestamp.
 *
 *   call.ended  -> calls (+ transcript segments from the "Speaker: text" string)
 *   anything else (appointment.*, sms.received, contact.created: announced, not yet
 *   documented) is stored raw as unmapped.
 *
 * Direction: for OUTBOUND the customer is the called party (to_number = customerPhone,
 * to_name = customerName, from_number = fromNumber); for INBOUND the customer called
 * in (from_number = customerPhone, from_name = customerName, to_number = fromNumber).
 * tokenCost is the call's cost (in Replicer's tokens/credits); organizationId the account.
 *
 * De-duplication: "<event>:<callId>" for call events (one end per call, whether or not
 * the envelope id changes between retries), else the envelope id, else the
 * X-Replicer-Delivery-Id header, else the body's hash. Event time: the envelope's
 * timestamp, else X-Replicer-Timestamp (unix seconds). */
#include "field.h"
#include "platform.h"
#include "transcript.h"
#include "ts.h"

#include <stdlib.h>
#include <string.h>

static void map_call_ended(struct mapped *m, json_object *data, const char *call_id)
{
	struct row *r = rows_add(m, TBL_CALLS);
	if (!r)
		return;
	const char *dir = field_direction(field_str(m, data, "direction"));
	const char *customer = field_str(m, data, "customerPhone");
	const char *customer_name = field_str(m, data, "customerName");
	const char *ours = field_str(m, data, "fromNumber");
	const char *agent_name = field_str(m, data, "agentName");
	bool inbound = dir && strcmp(dir, "inbound") == 0;

	r->v[CALL_EXTERNAL_ID] = call_id;
	r->v[CALL_ACCOUNT_ID] = field_str(m, data, "organizationId");
	r->v[CALL_AGENT_ID] = field_str(m, data, "agentId");
	r->v[CALL_AGENT_NAME] = agent_name;
	r->v[CALL_DIRECTION] = dir;
	r->v[CALL_CUSTOMER_NUMBER] = customer;
	r->v[CALL_CUSTOMER_NAME] = customer_name;
	r->v[inbound ? CALL_FROM_NUMBER : CALL_TO_NUMBER] = customer;
	r->v[inbound ? CALL_FROM_NAME : CALL_TO_NAME] = customer_name;
	r->v[inbound ? CALL_TO_NUMBER : CALL_FROM_NUMBER] = ours;
	r->v[CALL_STATUS] = field_str(m, data, "status");
	r->v[CALL_DURATION_SECONDS] = field_num(m, data, "duration");
	r->v[CALL_DISCONNECTION_REASON] = field_str(m, data, "disconnectionReason");
	r->v[CALL_SENTIMENT] = field_str(m, data, "sentiment");
	r->v[CALL_SUMMARY] = field_str(m, data, "summary");
	r->v[CALL_SUCCESSFUL] = field_bool(m, data, "callSuccessful");
	r->v[CALL_COST] = field_num(m, data, "tokenCost");
	r->v[CALL_STARTED_AT] = field_ts(m, data, "startedAt");
	r->v[CALL_ENDED_AT] = field_ts(m, data, "endedAt");
	r->v[CALL_RECORDING_URL] = field_str(m, data, "recordingUrl");
	r->v[CALL_METADATA] = field_object(m, data, "metadata");

	const char *text = field_str(m, data, "transcript");
	r->v[CALL_TRANSCRIPT_TEXT] = text;
	if (text && transcript_split(m, call_id, text, agent_name, customer_name) < 0)
		rows_fail(m, "out of memory splitting the transcript");
}

void map_replicer(const struct map_input *in, struct mapped *m)
{
	json_object *root = in->root;
	json_object *data = field_get(root, "data");
	const char *event = field_str(m, root, "event");
	const char *call_id = field_str(m, data, "callId");

	if (!event)
		event = rows_strdup(m, platform_header(in, "X-Replicer-Event"));
	m->event_type = event;
	m->occurred_at = field_ts(m, root, "timestamp");
	if (!m->occurred_at) {
		const char *ts = platform_header(in, "X-Replicer-Timestamp");
		char *end = NULL;
		double secs = ts ? strtod(ts, &end) : 0;
		int64_t us;
		char out[TS_LEN];
		if (ts && end != ts && *end == '\0' && ts_from_unix(secs, &us)) {
			ts_format(us, out);
			m->occurred_at = rows_strdup(m, out);
		}
	}
	if (!event) {
		rows_fail(m, "event is missing");
		return;
	}
	if (strncmp(event, "call.", 5) == 0 && call_id)
		m->dedupe_key = rows_printf(m, "%s:%s", event, call_id);
	else if (field_str(m, root, "id"))
		m->dedupe_key = rows_printf(m, "%s:%s", event, field_str(m, root, "id"));
	else if (platform_header(in, "X-Replicer-Delivery-Id"))
		m->dedupe_key = rows_printf(m, "delivery:%s",
					    platform_header(in, "X-Replicer-Delivery-Id"));

	if (strcmp(event, "call.ended") != 0) {
		m->status = MAP_UNMAPPED;
		return;
	}
	if (!call_id) {
		rows_fail(m, "data.callId is missing");
		return;
	}
	map_call_ended(m, data, call_id);
}
