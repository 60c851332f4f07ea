/* map_simpleai — Simple AI webhooks: envelope {event_type, event_id, payload: {call_id,
 * attempt, ...}}.
 *
 *   call.started, call.completed                 -> calls
 *   call.transcript_update = transcript.updated  -> calls (stub or update) + transcript
 *   other event types                            -> stored raw, unmapped
 *
 * The documented examples carry only call_id and attempt; richer payloads are mapped when
 * present, reading the first of these names that is set (snake_case or camelCase):
 *   direction; from_number|from|caller_number; to_number|to|callee_number;
 *   customer_number|customer_phone; customer_name|contact_name; agent_id|assistant_id;
 *   agent_name|assistant_name; status|call_status; started_at|start_time;
 *   answered_at; ended_at|end_time; duration_seconds|duration; summary; sentiment;
 *   recording_url; cost; ended_reason|disconnection_reason; successful|success;
 *   metadata|variables (the custom data object);
 *   transcript: an array of {role|speaker, content|text|message, timestamp|time}, or
 *   one "Speaker: text" string.
 * The payload may also sit under payload.call{}; both levels are read.
 *
 * De-duplication: Standard Webhooks' webhook-id (or svix-id) header, stable across a
 * delivery's retries; else "<event_type>:<call_id>" for call.started and
 * call.completed (one each per call); else the hash of the body without payload.attempt
 * and event_id, which change from one attempt to the next. Event time: payload
 * timestamp|created_at|updated_at, or the envelope's, else the receive time. */
#include "field.h"
#include "platform.h"
#include "transcript.h"

#include <string.h>

typedef const char *reader(struct mapped *m, json_object *obj, const char *path);

/* The first of names (NULL-terminated, "|"-free list) that reads as set, at the payload
 * level or under payload.call. */
static const char *first(struct mapped *m, reader *read, json_object *p, const char *const *names)
{
	json_object *call = field_get(p, "call");
	for (int i = 0; names[i]; i++) {
		const char *v = read(m, p, names[i]);
		if (!v && call)
			v = read(m, call, names[i]);
		if (v)
			return v;
	}
	return NULL;
}

#define FIRST(read, ...) first(m, read, p, (const char *const[]){__VA_ARGS__, NULL})

static void map_segments(struct mapped *m, json_object *arr, const char *call_id)
{
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *content = field_str(m, e, "content");
		if (!content)
			content = field_str(m, e, "text");
		if (!content)
			content = field_str(m, e, "message");
		if (!content)
			continue;
		const char *who = field_str(m, e, "role");
		if (!who)
			who = field_str(m, e, "speaker");
		struct segment *s = rows_add_segment(m, call_id);
		if (!s)
			return;
		s->role = field_role(who);
		s->speaker = who;
		s->content = content;
		s->spoken_at = field_ts(m, e, "timestamp");
		if (!s->spoken_at)
			s->spoken_at = field_ts(m, e, "time");
	}
}

static void map_call(struct mapped *m, json_object *p, const char *call_id)
{
	struct row *r = rows_add(m, TBL_CALLS);
	if (!r)
		return;
	const char *dir = field_direction(FIRST(field_str, "direction", "call_direction"));
	const char *from = FIRST(field_str, "from_number", "fromNumber", "from", "caller_number");
	const char *to = FIRST(field_str, "to_number", "toNumber", "to", "callee_number");
	const char *customer =
		FIRST(field_str, "customer_number", "customerNumber", "customer_phone");
	const char *customer_name =
		FIRST(field_str, "customer_name", "customerName", "contact_name");
	const char *agent_name = FIRST(field_str, "agent_name", "agentName", "assistant_name");

	r->v[CALL_EXTERNAL_ID] = call_id;
	r->v[CALL_AGENT_ID] = FIRST(field_str, "agent_id", "agentId", "assistant_id");
	r->v[CALL_AGENT_NAME] = agent_name;
	r->v[CALL_DIRECTION] = dir;
	r->v[CALL_FROM_NUMBER] = from;
	r->v[CALL_TO_NUMBER] = to;
	if (!customer && dir)
		customer = strcmp(dir, "outbound") == 0 ? to : from;
	r->v[CALL_CUSTOMER_NUMBER] = customer;
	r->v[CALL_CUSTOMER_NAME] = customer_name;
	r->v[CALL_STATUS] = FIRST(field_str, "status", "call_status");
	r->v[CALL_STARTED_AT] = FIRST(field_ts, "started_at", "startedAt", "start_time");
	r->v[CALL_ANSWERED_AT] = FIRST(field_ts, "answered_at", "answeredAt");
	r->v[CALL_ENDED_AT] = FIRST(field_ts, "ended_at", "endedAt", "end_time");
	r->v[CALL_DURATION_SECONDS] =
		FIRST(field_num, "duration_seconds", "durationSeconds", "duration");
	r->v[CALL_SUMMARY] = FIRST(field_str, "summary");
	r->v[CALL_SENTIMENT] = FIRST(field_str, "sentiment");
	r->v[CALL_RECORDING_URL] = FIRST(field_str, "recording_url", "recordingUrl");
	r->v[CALL_COST] = FIRST(field_num, "cost");
	r->v[CALL_DISCONNECTION_REASON] =
		FIRST(field_str, "ended_reason", "endedReason", "disconnection_reason");
	r->v[CALL_SUCCESSFUL] = FIRST(field_bool, "successful", "success");
	r->v[CALL_METADATA] = FIRST(field_object, "metadata", "variables");

	json_object *t = field_get(p, "transcript");
	if (!t)
		t = field_get(field_get(p, "call"), "transcript");
	if (t && json_object_is_type(t, json_type_array)) {
		map_segments(m, t, call_id);
		r->v[CALL_TRANSCRIPT_TEXT] = rows_transcript_text(m);
	} else if (t && json_object_is_type(t, json_type_string)) {
		r->v[CALL_TRANSCRIPT_TEXT] = field_str(m, t, NULL);
		if (r->v[CALL_TRANSCRIPT_TEXT] &&
		    transcript_split(m, call_id, r->v[CALL_TRANSCRIPT_TEXT], agent_name,
				     customer_name) < 0)
			rows_fail(m, "out of memory splitting the transcript");
	}
}

void map_simpleai(const struct map_input *in, struct mapped *m)
{
	static const char *const per_attempt[] = {"payload.attempt", "event_id", NULL};
	json_object *root = in->root;
	json_object *p = field_get(root, "payload");
	const char *event = field_str(m, root, "event_type");
	const char *call_id = field_str(m, p, "call_id");
	const char *hook_id = platform_header(in, "webhook-id");

	if (!call_id)
		call_id = field_str(m, p, "callId");
	if (!hook_id)
		hook_id = platform_header(in, "svix-id");
	m->event_type = event;
	m->occurred_at = FIRST(field_ts, "timestamp", "created_at", "updated_at");
	if (!m->occurred_at)
		m->occurred_at = field_ts(m, root, "timestamp");
	if (!event) {
		rows_fail(m, "event_type is missing");
		return;
	}
	bool once_per_call = !strcmp(event, "call.completed") || !strcmp(event, "call.started");
	if (hook_id)
		m->dedupe_key = rows_printf(m, "webhook-id:%s", hook_id);
	else if (once_per_call && call_id)
		m->dedupe_key = rows_printf(m, "%s:%s", event, call_id);
	else
		m->dedupe_key = field_digest(m, root, per_attempt);

	bool transcript =
		!strcmp(event, "call.transcript_update") || !strcmp(event, "transcript.updated");
	if (!once_per_call && !transcript) {
		m->status = MAP_UNMAPPED;
		return;
	}
	if (!call_id) {
		rows_fail(m, "payload.call_id is missing");
		return;
	}
	map_call(m, p, call_id);
}
