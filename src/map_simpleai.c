/* map_simpleai — Simple AI webhooks: envelope {event_type, event_id, payload: {call_id,
 * attempt, ...}}.
 *
 *   call.started, call.completed                 -> calls (+ transcript when sent)
 *   call.transcript_update = transcript.updated  -> calls (a stub when only call_id comes)
 *                                                   + transcript when sent
 *   anything else                                -> stored raw, unmapped (still keyed)
 *
 * The documented examples carry only call_id and attempt. Richer payloads are mapped
 * when present; these names are guesses, read at payload level first, then under
 * payload.call, the first one set wins (a.b means an object a with a key b):
 *   call id: call_id, callId, call.id
 *   direction, call_direction, callDirection (normalised by field_direction)
 *   from_number, fromNumber, from, from.number, caller_number, caller
 *   to_number, toNumber, to, to.number, callee_number, callee
 *   from_name, fromName, caller_name; to_name, toName, callee_name
 *   customer_number, customerNumber, customer_phone, customerPhone, customer.number,
 *     customer.phone; customer_name, customerName, contact_name, customer.name
 *     (the customer is the called party of an outbound call, the caller of an inbound
 *     one: each side fills the other when missing)
 *   account_id, accountId, organization_id, organizationId, workspace_id
 *   agent_id, agentId, assistant_id, assistantId, agent.id
 *   agent_name, agentName, assistant_name, agent.name
 *   status, call_status, callStatus; disposition, outcome
 *   successful, success, call_successful
 *   started_at, startedAt, start_time, startTime; answered_at, answeredAt;
 *     ended_at, endedAt, end_time, endTime
 *   duration_seconds, durationSeconds, duration (seconds)
 *   recording_url, recordingUrl; summary, call_summary; sentiment; cost
 *   cost_unit, costUnit, currency (lower-cased; only beside a cost; else NULL: the docs
 *     name no unit)
 *   carrier_call_id, carrierCallId, twilio_call_sid, twilioCallSid, call_sid, callSid,
 *     telephony_call_id (the carrier's call id)
 *   ended_reason, endedReason, end_reason, disconnection_reason, hangup_reason
 *   tags (strings or {name} objects) -> calls.tags
 *   analyzer_results, analyzerResults, analyzers, analysis, analytics (an object or an
 *     array) -> call_audits, kind 'analytics', the whole value in results
 *   metadata, variables, custom_data, dynamic_variables: the custom data, merged key by
 *     key into calls.metadata (on a key in two of them, the first named here wins)
 *   transcript: an array of {role and/or speaker, content|text|message, timestamp|time|
 *     created_at}, or one "Speaker: text" string; else transcript_text (a string).
 *     It is taken as the whole transcript so far (the writer replaces the stored one).
 * Times are ISO 8601 or unix seconds/ms; a number below 1e9 is an offset into the call,
 * not a time, and is ignored.
 *
 * De-duplication: the Standard Webhooks webhook-id (or svix-id) header, stable across a
 * message's retries; else "<event_type>:<call_id>" for call.started and call.completed
 * (one each per call); else the hash of the body without payload.attempt and event_id,
 * which change from one attempt to the next. Event time: payload timestamp, occurred_at,
 * event_time; else the envelope's timestamp, occurred_at, created_at; else none (the
 * writer uses the receive time). */
#include "field.h"
#include "platform.h"
#include "transcript.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef const char *reader(struct mapped *m, json_object *obj, const char *path);

/* Where the call's fields may be: the payload, and an optional payload.call object. */
struct where {
	struct mapped *m;
	json_object *payload, *call;
};

/* The first of names (NULL-terminated) that reads as set, at payload level, else under
 * payload.call. */
static const char *first(const struct where *w, reader *read, const char *const *names)
{
	for (int i = 0; names[i]; i++) {
		const char *v = read(w->m, w->payload, names[i]);
		if (!v && w->call)
			v = read(w->m, w->call, names[i]);
		if (v)
			return v;
	}
	return NULL;
}

#define FIRST(read, ...) first(w, read, (const char *const[]){__VA_ARGS__, NULL})

/* field_ts, except that a number (or numeric string) below 1e9 reads absent: that is an
 * offset from the start of the call ("time": 2.5), which field_ts would take for 1970. */
static const char *abs_ts(struct mapped *m, json_object *obj, const char *path)
{
	json_object *v = field_get(obj, path);
	double d = 1e9;
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end = NULL;
		double x = strtod(s, &end);
		while (end && isspace((unsigned char)*end))
			end++;
		if (end && end != s && *end == '\0')
			d = x;
	}
	return d < 1e9 ? NULL : field_ts(m, obj, path);
}

/* The first of names (NULL-terminated) that obj holds as a string (or number). */
static const char *str_of(struct mapped *m, json_object *obj, const char *const *names)
{
	for (int i = 0; names[i]; i++) {
		const char *v = field_str(m, obj, names[i]);
		if (v)
			return v;
	}
	return NULL;
}

/* One transcript entry as a segment; entries without text (or not objects) are skipped. */
static void map_entry(struct mapped *m, json_object *e, const char *call_id, const char *agent,
		      const char *customer)
{
	static const char *const text_names[] = {"content", "text", "message", NULL};
	static const char *const time_names[] = {"timestamp", "time", "created_at", NULL};
	const char *content = str_of(m, e, text_names);
	if (!content)
		return;
	const char *role = field_str(m, e, "role"), *speaker = field_str(m, e, "speaker");
	struct segment *s = rows_add_segment(m, call_id);
	if (!s)
		return;
	s->role = transcript_role(role, agent, customer);
	if (strcmp(s->role, "unknown") == 0)
		s->role = transcript_role(speaker, agent, customer);
	s->speaker = speaker ? speaker : role;
	s->content = content;
	for (int i = 0; time_names[i] && !s->spoken_at; i++)
		s->spoken_at = abs_ts(m, e, time_names[i]);
}

/* The transcript, as segments and as calls.transcript_text. */
static void map_transcript(const struct where *w, struct row *r, const char *call_id)
{
	struct mapped *m = w->m;
	const char *agent = r->v[CALL_AGENT_NAME], *customer = r->v[CALL_CUSTOMER_NAME];
	json_object *t = field_get(w->payload, "transcript");
	if (!t)
		t = field_get(w->call, "transcript");
	if (json_object_is_type(t, json_type_array)) {
		size_t n = json_object_array_length(t);
		for (size_t i = 0; i < n; i++)
			map_entry(m, json_object_array_get_idx(t, i), call_id, agent, customer);
		r->v[CALL_TRANSCRIPT_TEXT] = rows_transcript_text(m);
		return;
	}
	const char *text = FIRST(field_str, "transcript", "transcript_text", "transcriptText");
	r->v[CALL_TRANSCRIPT_TEXT] = text;
	if (text && transcript_split(m, call_id, text, agent, customer) < 0)
		rows_fail(m, "out of memory splitting the transcript");
}

/* tags: an array of strings or of {name} objects, as a text[] literal. */
static const char *tag_array(struct mapped *m, json_object *obj, const char *path)
{
	return field_text_array(m, obj, path, "name");
}

/* An object or an array as compact JSON text (analyzer results come as either). */
static const char *json_value(struct mapped *m, json_object *obj, const char *path)
{
	json_object *v = field_get(obj, path);
	if (!v ||
	    !(json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array)))
		return NULL;
	return rows_strdup(m, json_object_to_json_string_ext(
				      v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The custom data: metadata, variables, custom_data and dynamic_variables merged into one
 * object, key by key; on a key sent in two of them, the first in this order wins. NULL
 * when none is an object. */
static const char *custom_data(const struct where *w)
{
	static const char *const names[] = {"metadata", "variables", "custom_data",
					    "dynamic_variables", NULL};
	json_object *merged = NULL;
	for (int i = 0; names[i]; i++) {
		json_object *o = field_get(w->payload, names[i]);
		if (!o || !json_object_is_type(o, json_type_object))
			o = field_get(w->call, names[i]);
		if (!o || !json_object_is_type(o, json_type_object))
			continue;
		if (!merged && !(merged = json_object_new_object()))
			return NULL;
		json_object_object_foreach(o, key, val)
		{
			if (!json_object_object_get_ex(merged, key, NULL))
				json_object_object_add(merged, key, json_object_get(val));
		}
	}
	if (!merged)
		return NULL;
	const char *text = rows_strdup(
		w->m, json_object_to_json_string_ext(
			      merged, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(merged);
	return text;
}

/* What cost counts: cost_unit or currency when sent (in lower case); Simple AI documents
 * none, so NULL otherwise, and NULL without a cost. */
static const char *cost_unit(const struct where *w, const char *cost)
{
	const char *unit = cost ? FIRST(field_str, "cost_unit", "costUnit", "currency") : NULL;
	if (!unit)
		return NULL;
	char *lower = rows_alloc(w->m, strlen(unit) + 1);
	for (size_t i = 0; lower && unit[i]; i++)
		lower[i] = (char)tolower((unsigned char)unit[i]);
	return lower;
}

/* Sets *to from from when *to is still unset. */
static void fill(const char **to, const char *from)
{
	if (!*to)
		*to = from;
}

/* Direction, both parties and the customer (whichever party the direction says). */
static void map_parties(const struct where *w, struct row *r)
{
	const char *dir =
		field_direction(FIRST(field_str, "direction", "call_direction", "callDirection"));
	r->v[CALL_DIRECTION] = dir;
	r->v[CALL_FROM_NUMBER] = FIRST(field_str, "from_number", "fromNumber", "from",
				       "from.number", "caller_number", "caller");
	r->v[CALL_TO_NUMBER] = FIRST(field_str, "to_number", "toNumber", "to", "to.number",
				     "callee_number", "callee");
	r->v[CALL_FROM_NAME] = FIRST(field_str, "from_name", "fromName", "caller_name");
	r->v[CALL_TO_NAME] = FIRST(field_str, "to_name", "toName", "callee_name");
	r->v[CALL_CUSTOMER_NUMBER] =
		FIRST(field_str, "customer_number", "customerNumber", "customer_phone",
		      "customerPhone", "customer.number", "customer.phone");
	r->v[CALL_CUSTOMER_NAME] =
		FIRST(field_str, "customer_name", "customerName", "contact_name", "customer.name");
	if (!dir)
		return;
	bool out = strcmp(dir, "outbound") == 0;
	const char **number = &r->v[out ? CALL_TO_NUMBER : CALL_FROM_NUMBER];
	const char **name = &r->v[out ? CALL_TO_NAME : CALL_FROM_NAME];
	fill(&r->v[CALL_CUSTOMER_NUMBER], *number);
	fill(number, r->v[CALL_CUSTOMER_NUMBER]);
	fill(&r->v[CALL_CUSTOMER_NAME], *name);
	fill(name, r->v[CALL_CUSTOMER_NAME]);
}

/* Everything else the payload may say about the call. */
static void map_details(const struct where *w, struct row *r)
{
	r->v[CALL_ACCOUNT_ID] = FIRST(field_str, "account_id", "accountId", "organization_id",
				      "organizationId", "workspace_id");
	r->v[CALL_AGENT_ID] =
		FIRST(field_str, "agent_id", "agentId", "assistant_id", "assistantId", "agent.id");
	r->v[CALL_AGENT_NAME] =
		FIRST(field_str, "agent_name", "agentName", "assistant_name", "agent.name");
	r->v[CALL_STATUS] = FIRST(field_str, "status", "call_status", "callStatus");
	r->v[CALL_DISPOSITION] = FIRST(field_str, "disposition", "outcome");
	r->v[CALL_SUCCESSFUL] = FIRST(field_bool, "successful", "success", "call_successful");
	r->v[CALL_STARTED_AT] = FIRST(abs_ts, "started_at", "startedAt", "start_time", "startTime");
	r->v[CALL_ANSWERED_AT] = FIRST(abs_ts, "answered_at", "answeredAt");
	r->v[CALL_ENDED_AT] = FIRST(abs_ts, "ended_at", "endedAt", "end_time", "endTime");
	r->v[CALL_DURATION_SECONDS] =
		FIRST(field_num, "duration_seconds", "durationSeconds", "duration");
	r->v[CALL_RECORDING_URL] = FIRST(field_str, "recording_url", "recordingUrl");
	r->v[CALL_SUMMARY] = FIRST(field_str, "summary", "call_summary");
	r->v[CALL_SENTIMENT] = FIRST(field_str, "sentiment");
	r->v[CALL_COST] = FIRST(field_num, "cost");
	r->v[CALL_DISCONNECTION_REASON] =
		FIRST(field_str, "ended_reason", "endedReason", "end_reason",
		      "disconnection_reason", "hangup_reason");
	r->v[CALL_COST_UNIT] = cost_unit(w, r->v[CALL_COST]);
	r->v[CALL_CARRIER_CALL_ID] =
		FIRST(field_str, "carrier_call_id", "carrierCallId", "twilio_call_sid",
		      "twilioCallSid", "call_sid", "callSid", "telephony_call_id");
	r->v[CALL_TAGS] = FIRST(tag_array, "tags");
	r->v[CALL_METADATA] = custom_data(w);
}

/* Analyzer results (the docs name "tags, analyzer results" of call.completed), as
 * call_audits of kind 'analytics' with the whole value (object or array) in results. */
static void map_analytics(const struct where *w, const char *call_id)
{
	struct mapped *m = w->m;
	const char *results = FIRST(json_value, "analyzer_results", "analyzerResults", "analyzers",
				    "analysis", "analytics");
	if (!results)
		return;
	struct row *a = rows_add(m, TBL_AUDITS);
	if (!a)
		return;
	a->v[AUDIT_CALL_EXTERNAL_ID] = call_id;
	a->v[AUDIT_KIND] = "analytics";
	a->v[AUDIT_RESULTS] = results;
}

static void map_call(const struct where *w, const char *call_id)
{
	struct row *r = rows_add(w->m, TBL_CALLS);
	if (!r)
		return;
	r->v[CALL_EXTERNAL_ID] = call_id;
	map_parties(w, r);
	map_details(w, r);
	map_transcript(w, r, call_id); /* after the names, which help assign roles */
	map_analytics(w, call_id);
}

/* The platform's time for this event, or NULL. */
static const char *event_time(const struct where *w, json_object *root)
{
	static const char *const outer[] = {"timestamp", "occurred_at", "created_at", NULL};
	const char *t = FIRST(abs_ts, "timestamp", "occurred_at", "event_time");
	for (int i = 0; !t && outer[i]; i++)
		t = abs_ts(w->m, root, outer[i]);
	return t;
}

static const char *dedupe_key(const struct map_input *in, struct mapped *m, const char *event,
			      const char *call_id, bool once_per_call)
{
	static const char *const per_attempt[] = {"payload.attempt", "event_id", NULL};
	const char *id = platform_header(in, "webhook-id");
	if (!id || !*id)
		id = platform_header(in, "svix-id");
	if (id && *id)
		return rows_printf(m, "webhook-id:%s", id);
	if (once_per_call && call_id)
		return rows_printf(m, "%s:%s", event, call_id);
	return field_digest(m, in->root, per_attempt);
}

void map_simpleai(const struct map_input *in, struct mapped *m)
{
	json_object *root = in->root;
	struct where at = {m, field_get(root, "payload"), NULL}, *w = &at;
	at.call = field_get(at.payload, "call");
	const char *event = field_str(m, root, "event_type");
	const char *call_id = FIRST(field_str, "call_id", "callId");
	if (!call_id)
		call_id = field_str(m, at.payload, "call.id");
	bool once_per_call =
		event && (!strcmp(event, "call.completed") || !strcmp(event, "call.started"));
	bool transcript = event && (!strcmp(event, "call.transcript_update") ||
				    !strcmp(event, "transcript.updated"));

	m->event_type = event;
	m->occurred_at = event_time(w, root);
	m->dedupe_key = dedupe_key(in, m, event, call_id, once_per_call);
	m->entity_id = call_id;
	if (!event)
		rows_fail(m, "event_type is missing");
	else if (!once_per_call && !transcript)
		m->status = MAP_UNMAPPED;
	else if (!call_id)
		rows_fail(m, "payload.call_id is missing");
	else
		map_call(w, call_id);
}
