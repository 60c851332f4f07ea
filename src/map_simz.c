/* map_simz — SimZ webhooks (flat JSON: event, callId, agentId, companyId, status,
 * timestamp; call{}, lead.customData, audit{}).
 *
 *   call.completed        -> calls (call.twilioCallSid: carrier_call_id)
 *   call.audit.completed  -> calls (stub or gap-fill) + call_audits (kind 'audit')
 *
 * SimZ sends no delivery id; as its docs suggest, a delivery is identified by
 * event + callId + companyId + agentId. */
#include "field.h"
#include "platform.h"

#include <string.h>

/* Columns both events carry about the call. */
static struct row *call_row(struct mapped *m, json_object *root, const char *call_id)
{
	struct row *r = rows_add(m, TBL_CALLS);
	if (!r)
		return NULL;
	r->v[CALL_EXTERNAL_ID] = call_id;
	r->v[CALL_ACCOUNT_ID] = field_str(m, root, "companyId");
	r->v[CALL_AGENT_ID] = field_str(m, root, "agentId");
	r->v[CALL_METADATA] = field_object(m, root, "lead.customData");
	return r;
}

static void map_completed(struct mapped *m, json_object *root, const char *call_id)
{
	struct row *r = call_row(m, root, call_id);
	if (!r)
		return;
	json_object *call = field_get(root, "call");
	const char *dir = field_direction(field_str(m, call, "direction"));
	r->v[CALL_STATUS] = field_str(m, root, "status");
	r->v[CALL_DIRECTION] = dir;
	r->v[CALL_FROM_NUMBER] = field_str(m, call, "callerNumber");
	r->v[CALL_TO_NUMBER] = field_str(m, call, "toNumber");
	if (dir)
		r->v[CALL_CUSTOMER_NUMBER] =
			r->v[strcmp(dir, "outbound") == 0 ? CALL_TO_NUMBER : CALL_FROM_NUMBER];
	r->v[CALL_STARTED_AT] = field_ts(m, call, "callDateTime");
	r->v[CALL_DURATION_SECONDS] = field_num(m, call, "durationSeconds");
	r->v[CALL_BILLED_MINUTES] = field_num(m, call, "billedDurationMinutes");
	r->v[CALL_RECORDING_URL] = field_str(m, call, "recordingUrl");
	r->v[CALL_CARRIER_CALL_ID] = field_str(m, call, "twilioCallSid");
}

static void map_audit(struct mapped *m, json_object *root, const char *call_id)
{
	if (!call_row(m, root, call_id))
		return;
	struct row *a = rows_add(m, TBL_AUDITS);
	if (!a)
		return;
	a->v[AUDIT_CALL_EXTERNAL_ID] = call_id;
	a->v[AUDIT_KIND] = "audit";
	a->v[AUDIT_STATUS] = field_str(m, root, "status");
	a->v[AUDIT_QUALIFIED] = field_bool(m, root, "audit.qualified");
	a->v[AUDIT_REASON] = field_str(m, root, "audit.reason");
	a->v[AUDIT_SUMMARY] = field_str(m, root, "audit.summary");
	a->v[AUDIT_RESULTS] = field_object(m, root, "audit");
}

void map_simz(const struct map_input *in, struct mapped *m)
{
	json_object *root = in->root;
	const char *event = field_str(m, root, "event");
	const char *call_id = field_str(m, root, "callId");

	m->event_type = event;
	m->occurred_at = field_ts(m, root, "timestamp");
	if (!event || !call_id) {
		rows_fail(m, "%s is missing", event ? "callId" : "event");
		return;
	}
	const char *company = field_str(m, root, "companyId");
	const char *agent = field_str(m, root, "agentId");
	m->entity_id = call_id;
	m->dedupe_key = rows_printf(m, "%s:%s:%s:%s", event, call_id, company ? company : "",
				    agent ? agent : "");

	if (strcmp(event, "call.completed") == 0)
		map_completed(m, root, call_id);
	else if (strcmp(event, "call.audit.completed") == 0)
		map_audit(m, root, call_id);
	else
		m->status = MAP_UNMAPPED;
}
