/* map_atoms — Smallest.ai Atoms webhooks, in both shapes they have been documented in: the
 * seed draft (flat snake_case, event call.start | call.end | analytics.completed) and the
 * current envelope {url, description, event: "<agentId>.<eventType>", metadata{...}, id}.
 *
 *   call.start, call.end, pre-conversation, post-conversation  -> calls (+ transcript)
 *   analytics.completed, analytics-completed  -> calls (stub or gap-fill) + call_audits
 *                                                (kind 'analytics', results = the metrics)
 *
 * De-duplication: the envelope's `id` (one per delivery; Atoms never retries, so it names
 * the event), else "<event>:<call id>" (the seed sends one event of each kind per call),
 * else none (intake hashes the body). Event time: `timestamp` when sent (seed), else
 * callData.endTime for post-conversation, else none (the receive time is used).
 *
 * Guesses, where the docs leave it open (docs.smallest.ai webhooks page, 2026-05):
 * - The docs nest callData, transcript, variables, recordingUrl and analytics in
 *   metadata{}; every field is also accepted at the top level, and the ids in either
 *   spelling (metadata.callId, callId, call_id; agentId, agent_id, or the <agentId> part
 *   of `event`). callData's snake_case spellings from an older page (from_number,
 *   call_duration, call_state, answer_time, ...) are read when the camelCase ones are absent.
 * - callStatus is stored in one spelling: lower snake_case, "cancelled" as "canceled"
 *   (Atoms sends both no-answer/canceled and no_answer/cancelled): completed, no_answer,
 *   busy, failed, canceled. The seed's `disposition` is kept as sent.
 * - The seed's caller_phone is the customer's number in both directions and agent_phone
 *   the agent's: inbound from=caller_phone, to=agent_phone; outbound the reverse. Without a
 *   direction only customer_number is set.
 * - variables.customer_name (in both shapes' examples) fills customer_name; Atoms sends no
 *   other names. Pre-conversation's toPhone/fromPhone are to/from numbers.
 * - Analytics carry no overall verdict: call_audits status, qualified and reason stay
 *   NULL, and so does calls.successful. A stub calls row always precedes the audit row,
 *   and the audit row is written even when metrics/analytics is missing (it records that
 *   analytics ran; results stay NULL).
 * - Transcript turns that are not objects or have no content are skipped; the role is
 *   normalised (user -> customer), no speaker name is sent. An empty transcript carries
 *   nothing (the stored one is kept).
 * - An event without a type fails (400, stored raw); an unknown type is stored unmapped
 *   whether or not it names a call; a known one without a call id fails. */
#include "field.h"
#include "platform.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

enum shape { SHAPE_UNKNOWN, SHAPE_SEED, SHAPE_CURRENT };

static const char *const seed_events[] = {"call.start", "call.end", "analytics.completed", NULL};
static const char *const current_events[] = {"pre-conversation", "post-conversation",
					     "analytics-completed", NULL};

/* A field reader of field.h: field_str, field_num, field_ts, field_object. */
typedef const char *reader(struct mapped *m, json_object *obj, const char *path);

static bool listed(const char *s, const char *const *list)
{
	for (int i = 0; s && list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* The first of the paths that reads as present, each tried in metadata{} (where the
 * current shape keeps its fields) and then at the top level. */
static const char *look_in(struct mapped *m, reader *rd, json_object *root,
			   const char *const *paths)
{
	json_object *meta = field_get(root, "metadata");
	const char *v = NULL;
	for (; *paths && !v; paths++) {
		v = rd(m, meta, *paths);
		if (!v)
			v = rd(m, root, *paths);
	}
	return v;
}
#define look(m, rd, root, ...) look_in(m, rd, root, (const char *const[]){__VA_ARGS__})

/* The JSON value at path in metadata{}, else at the top level. */
static json_object *look_value(json_object *root, const char *path)
{
	json_object *v = field_get(field_get(root, "metadata"), path);
	return v ? v : field_get(root, path);
}

/* The event type and the payload's shape. Seed events are named whole; the current shape
 * names its type in metadata.eventType or after the last '.' of `event`. An event of
 * neither shape keeps its name as sent (SHAPE_UNKNOWN). */
static const char *event_type(struct mapped *m, json_object *root, const char *event,
			      enum shape *shape)
{
	*shape = SHAPE_UNKNOWN;
	if (listed(event, seed_events)) {
		*shape = SHAPE_SEED;
		return event;
	}
	const char *type = look(m, field_str, root, "eventType", NULL);
	if (!type && event) {
		const char *dot = strrchr(event, '.');
		const char *tail = dot ? dot + 1 : event;
		bool envelope = json_object_is_type(field_get(root, "metadata"), json_type_object);
		if (*tail && (listed(tail, current_events) || envelope))
			type = rows_strdup(m, tail);
	}
	if (listed(type, current_events))
		*shape = SHAPE_CURRENT;
	return type ? type : event;
}

static const char *event_time(struct mapped *m, json_object *root, const char *type)
{
	const char *t = look(m, field_ts, root, "timestamp", NULL);
	if (!t && type && strcmp(type, "post-conversation") == 0)
		t = look(m, field_ts, root, "callData.endTime", "callData.end_time", NULL);
	return t;
}

static const char *dedupe_key(struct mapped *m, json_object *root, const char *event,
			      const char *call_id)
{
	const char *id = field_str(m, root, "id");
	if (id)
		return id;
	return event && call_id ? rows_printf(m, "%s:%s", event, call_id) : NULL;
}

/* callStatus in one spelling: lower snake_case, "cancelled" as "canceled". */
static const char *status_text(struct mapped *m, const char *s)
{
	char *out = (char *)rows_strdup(m, s); /* the arena copy is ours to edit */
	if (!out)
		return NULL;
	for (char *p = out; *p; p++)
		*p = (*p == '-' || *p == ' ') ? '_' : (char)tolower((unsigned char)*p);
	return strcmp(out, "cancelled") == 0 ? "canceled" : out;
}

/* from/to, and the customer's number from the direction: the called party on outbound
 * calls, the caller on inbound ones. */
static void set_ends(struct row *r, const char *dir, const char *from, const char *to)
{
	r->v[CALL_DIRECTION] = dir;
	r->v[CALL_FROM_NUMBER] = from;
	r->v[CALL_TO_NUMBER] = to;
	if (dir)
		r->v[CALL_CUSTOMER_NUMBER] = strcmp(dir, "outbound") == 0 ? to : from;
}

/* Transcript turns {role, content, timestamp} in order, and the call's transcript text.
 * A timestamp that does not parse (the seed's "...") leaves spoken_at out. */
static void add_transcript(struct mapped *m, struct row *r, json_object *turns, const char *call_id)
{
	if (!json_object_is_type(turns, json_type_array))
		return;
	size_t n = json_object_array_length(turns);
	for (size_t i = 0; i < n; i++) {
		json_object *turn = json_object_array_get_idx(turns, i);
		const char *content = field_str(m, turn, "content");
		if (!content)
			continue;
		struct segment *s = rows_add_segment(m, call_id);
		if (!s) { /* out of memory: carry no transcript rather than a cut one */
			m->transcript.call_external_id = NULL;
			m->transcript.n = 0;
			return;
		}
		s->role = field_role(field_str(m, turn, "role"));
		s->content = content;
		s->spoken_at = field_ts(m, turn, "timestamp");
	}
	r->v[CALL_TRANSCRIPT_TEXT] = rows_transcript_text(m);
}

/* A call_audits row of kind 'analytics'. */
static void add_analytics(struct mapped *m, const char *call_id, const char *summary,
			  const char *results)
{
	struct row *a = rows_add(m, TBL_AUDITS);
	if (!a)
		return;
	a->v[AUDIT_CALL_EXTERNAL_ID] = call_id;
	a->v[AUDIT_KIND] = "analytics";
	a->v[AUDIT_SUMMARY] = summary;
	a->v[AUDIT_RESULTS] = results;
}

/* The seed's caller_phone is the customer and agent_phone the agent, whichever called. */
static void seed_ends(struct mapped *m, json_object *root, struct row *r)
{
	const char *dir = field_direction(field_str(m, root, "call_direction"));
	const char *caller = field_str(m, root, "caller_phone");
	const char *agent = field_str(m, root, "agent_phone");
	if (!dir) {
		r->v[CALL_CUSTOMER_NUMBER] = caller;
		return;
	}
	bool outbound = strcmp(dir, "outbound") == 0;
	set_ends(r, dir, outbound ? agent : caller, outbound ? caller : agent);
}

/* Seed shape: every event's fields are read whenever present (the draft left the full
 * schemas open); the event's timestamp is the start of call.start, the end of call.end. */
static void map_seed(struct mapped *m, json_object *root, const char *event, const char *call_id)
{
	struct row *r = rows_add(m, TBL_CALLS);
	if (!r)
		return;
	r->v[CALL_EXTERNAL_ID] = call_id;
	r->v[CALL_AGENT_ID] = look(m, field_str, root, "agent_id", "agentId", NULL);
	seed_ends(m, root, r);
	r->v[CALL_CUSTOMER_NAME] = field_str(m, root, "variables.customer_name");
	r->v[CALL_DISPOSITION] = field_str(m, root, "disposition");
	r->v[CALL_DURATION_SECONDS] = field_num(m, root, "duration_seconds");
	if (strcmp(event, "call.start") == 0)
		r->v[CALL_STARTED_AT] = m->occurred_at;
	else if (strcmp(event, "call.end") == 0)
		r->v[CALL_ENDED_AT] = m->occurred_at;
	r->v[CALL_METADATA] = field_object(m, root, "variables");
	add_transcript(m, r, field_get(root, "transcript"), call_id);
	if (strcmp(event, "analytics.completed") == 0)
		add_analytics(m, call_id, NULL, field_object(m, root, "metrics"));
}

/* The agent id: metadata.agentId, else the <agentId> of "<agentId>.<eventType>". */
static const char *current_agent(struct mapped *m, json_object *root, const char *event)
{
	const char *agent = look(m, field_str, root, "agentId", "agent_id", NULL);
	const char *dot = event ? strrchr(event, '.') : NULL;
	if (agent || !dot || dot == event)
		return agent;
	return rows_strndup(m, event, (size_t)(dot - event));
}

static void current_ends(struct mapped *m, json_object *root, struct row *r)
{
	const char *dir =
		field_direction(look(m, field_str, root, "callData.callDirection",
				     "callData.call_direction", "conversationType", NULL));
	const char *from = look(m, field_str, root, "callData.fromNumber", "callData.from_number",
				"fromPhone", NULL);
	const char *to = look(m, field_str, root, "callData.toNumber", "callData.to_number",
			      "toPhone", NULL);
	set_ends(r, dir, from, to);
}

/* callData{}: status, times and duration (seconds, a float). */
static void current_call_data(struct mapped *m, json_object *root, struct row *r)
{
	const char *status =
		look(m, field_str, root, "callData.callStatus", "callData.call_state", NULL);
	r->v[CALL_STATUS] = status ? status_text(m, status) : NULL;
	r->v[CALL_STARTED_AT] =
		look(m, field_ts, root, "callData.startTime", "callData.start_time", NULL);
	r->v[CALL_ANSWERED_AT] =
		look(m, field_ts, root, "callData.answerTime", "callData.answer_time", NULL);
	r->v[CALL_ENDED_AT] =
		look(m, field_ts, root, "callData.endTime", "callData.end_time", NULL);
	r->v[CALL_DURATION_SECONDS] =
		look(m, field_num, root, "callData.callDuration", "callData.call_duration", NULL);
}

/* Current shape: the three events differ only in which fields they carry, so each field
 * is read whenever present; analytics-completed adds the audit row. */
static void map_current(struct mapped *m, json_object *root, const char *event, const char *type,
			const char *call_id)
{
	struct row *r = rows_add(m, TBL_CALLS);
	if (!r)
		return;
	r->v[CALL_EXTERNAL_ID] = call_id;
	r->v[CALL_AGENT_ID] = current_agent(m, root, event);
	current_ends(m, root, r);
	r->v[CALL_CUSTOMER_NAME] = look(m, field_str, root, "variables.customer_name", NULL);
	current_call_data(m, root, r);
	r->v[CALL_RECORDING_URL] = look(m, field_str, root, "recordingUrl", NULL);
	r->v[CALL_SUMMARY] = look(m, field_str, root, "analytics.summary", NULL);
	r->v[CALL_METADATA] = look(m, field_object, root, "variables", NULL);
	add_transcript(m, r, look_value(root, "transcript"), call_id);
	if (strcmp(type, "analytics-completed") == 0)
		add_analytics(m, call_id, r->v[CALL_SUMMARY],
			      look(m, field_object, root, "analytics", NULL));
}

void map_atoms(const struct map_input *in, struct mapped *m)
{
	json_object *root = in->root;
	const char *event = field_str(m, root, "event");
	enum shape shape;
	const char *type = event_type(m, root, event, &shape);
	const char *call_id = shape == SHAPE_SEED
				      ? look(m, field_str, root, "call_id", "callId", NULL)
				      : look(m, field_str, root, "callId", "call_id", NULL);

	m->event_type = type;
	m->occurred_at = event_time(m, root, type);
	m->dedupe_key = dedupe_key(m, root, event ? event : type, call_id);
	m->entity_id = call_id;
	if (!type) {
		rows_fail(m, "event is missing");
		return;
	}
	if (shape == SHAPE_UNKNOWN) {
		m->status = MAP_UNMAPPED;
		return;
	}
	if (!call_id) {
		rows_fail(m, "%s is missing", shape == SHAPE_SEED ? "call_id" : "metadata.callId");
		return;
	}
	if (shape == SHAPE_SEED)
		map_seed(m, root, type, call_id);
	else
		map_current(m, root, event, type, call_id);
}
