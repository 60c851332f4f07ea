/* map_allo — Allo webhooks, v1 {"topic", "data"|"body"} (snake_case or camelCase field
 * names) and v2 {topic, version: "2.0", timestamp, data} (Standard Webhooks), mapped to
 * calls (+ transcript segments), sms_messages and contacts. Pure: no I/O.
 *
 *   CALL_RECEIVED, call.received|triggered|answered|completed  -> calls (+ transcript)
 *   SMS_RECEIVED, SMS_SENT, sms.received, sms.sent             -> sms_messages
 *   CONTACT_CREATED, CONTACT_UPDATED, contact.created|updated  -> contacts
 *   PING, tag.added, tag.removed, anything else                -> stored raw, unmapped
 * Topics are matched without regard to case. A missing topic, or a mapped topic whose
 * data has no id, fails the event (400).
 *
 * Choices where the docs are silent:
 * - Every field is read under its snake_case name, else its camelCase one (start_date,
 *   startDate); the data is `data`, else `body` (older pages), whichever is an object.
 *   A value of the wrong type reads as absent (a boolean where text is due, an id that
 *   is neither a string nor an integer).
 * - Calls: length_in_minutes * 60 is duration_seconds, fractions kept; the human `length`
 *   ("2m 30s", "1h 2m", "45 sec", "2:30") is read when the minutes are absent or
 *   unusable; negative or unreadable durations are dropped. `tag` is the disposition; `summary`,
 *   else `one_sentence_summary`. `result` is the status as sent (else a `status` field;
 *   v2 without either: the topic's state, "received", "answered", ...). successful is
 *   true for ANSWERED and TRANSFERRED_*, false for VOICEMAIL, BLOCKED, FAILED and MISSED,
 *   NULL for anything else. user_email (the route's owner) is owner_email (no
 *   agent_id: Allo names no agent). data_collected is the metadata, as sent, so its keys
 *   stay at the top level. transfer_original_call_id is transfer_chain_id (the same for
 *   every call of a chain); transfer_from/transfer_to {number, user_name, user_email}
 *   are transferred_from_* / transferred_to_*; original_to_number/_name are
 *   dialed_number/_name; integration_id as sent. The customer is the caller (from) of
 *   an inbound call and the called party (to) of an outbound one; without a direction it
 *   is left NULL.
 * - v2 call times: call.received/call.triggered give started_at, call.answered
 *   answered_at, call.completed ended_at from the envelope timestamp when the data
 *   carries no explicit time. Never from the webhook-timestamp header: it changes on
 *   every retry.
 * - Transcript: transcriptions[] {source, time, text} are segments (role from source,
 *   speaker as sent). A `time` that is an ISO or unix time is spoken_at; a small number
 *   (below 1e9) or "mm:ss" is an offset into the call, added to started_at (NULL when
 *   the start is unknown). concatenated_transcript is transcript_text, else the segments.
 * - SMS: direction from the data, else from the topic (received: inbound, sent:
 *   outbound); type SMS/MMS as sms/mms, anything else NULL.
 * - Contacts: `name` is the first name (as documented); emails and numbers may hold
 *   strings or objects ({email}, {number}). An array sent empty is stored empty ({}): the
 *   contact has none now. An update carries the contact's whole state: a field sent as
 *   null (name, last_name, company, emails, numbers) clears the column when the update is
 *   newer than the stored row; an absent field is left as it is. A creation clears
 *   nothing.
 * - Times without an offset (start_date, sent_at, ...) are wall times in
 *   CALLBRIDGE_ALLO_TIMEZONE (default UTC).
 * - Event time: v2 `timestamp` (ISO or unix). v1 sends none, so a time of the data stands
 *   in: updated_at (creations: also created_at) for contacts, sent_at for SMS, start_date
 *   for calls; else NULL, the receive time. A contact creation with no time at all is
 *   dated 1970-01-01, so it only ever fills gaps: an update that arrived before it is
 *   never overwritten by it.
 *
 * De-duplication: the webhook-id (or svix-id) header, stable across v2's 8 attempts;
 * else "<topic>:<id>" for calls, SMS and contact creations (one of each per entity), and
 * "<topic>:<id>:<hash of the data>" for contact updates (a contact is updated many
 * times; a retry repeats the same data); PING and unknown topics: the body's hash. */
#include "field.h"
#include "platform.h"
#include "ts.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EPOCH "1970-01-01T00:00:00.000000Z"

/* A number below this is an offset into the call, not a unix time (2001-09-09). */
#define MAX_OFFSET_SECONDS 1e9

typedef const char *reader(struct mapped *m, json_object *obj, const char *path);

enum kind { K_OTHER, K_CALL, K_SMS, K_CONTACT };

/* What the envelope says about the event. */
struct event {
	const char *topic;
	const char *state; /* v2: the word after the dot ("answered"); v1: NULL */
	const char *stamp; /* the envelope's timestamp (v2), or NULL */
	json_object *data; /* borrowed; NULL when neither data nor body is an object */
	const char *id;    /* the entity id, or NULL */
	enum kind kind;
};

/* ---- reading fields ---------------------------------------------------------------- */

/* snake_case -> camelCase ("one_sentence_summary" -> "oneSentenceSummary"). */
static void camel_case(const char *snake, char *out, size_t size)
{
	size_t o = 0;
	for (const char *s = snake; *s && o + 1 < size; s++) {
		if (*s == '_' && s[1])
			out[o++] = (char)toupper((unsigned char)*++s);
		else
			out[o++] = *s;
	}
	out[o] = '\0';
}

/* A text field: a string, or a number as its text (phone numbers, ids); a boolean is no
 * text of ours and reads absent. */
static const char *str(struct mapped *m, json_object *obj, const char *path)
{
	json_object *v = field_get(obj, path);
	return v && !json_object_is_type(v, json_type_boolean) ? field_str(m, obj, path) : NULL;
}

/* Reads a field under its snake_case name, else its camelCase one. */
static const char *get(struct mapped *m, reader *read, json_object *data, const char *snake)
{
	char camel[64];
	const char *v = read(m, data, snake);
	if (v || !strchr(snake, '_'))
		return v;
	camel_case(snake, camel, sizeof camel);
	return read(m, data, camel);
}

/* The first of several names (each in both spellings) that reads. */
static const char *first(struct mapped *m, reader *read, json_object *data,
			 const char *const *names)
{
	for (; *names; names++) {
		const char *v = get(m, read, data, *names);
		if (v)
			return v;
	}
	return NULL;
}

/* ANY(reader, data, "name", ...): first() over the names, with the m in scope. */
#define ANY(read, data, ...) first(m, read, data, (const char *const[]){__VA_ARGS__, NULL})

/* The entity id: a non-empty string or an integer; other types read absent. */
static const char *entity_id(struct mapped *m, json_object *data)
{
	json_object *v = field_get(data, "id");
	if (!v ||
	    !(json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int)))
		return NULL;
	return field_str(m, data, "id");
}

/* `data`, else `body`: the first that is an object. */
static json_object *event_data(json_object *root)
{
	json_object *d = field_get(root, "data");
	if (d && json_object_is_type(d, json_type_object))
		return d;
	d = field_get(root, "body");
	return d && json_object_is_type(d, json_type_object) ? d : NULL;
}

static enum kind kind_of(const char *topic)
{
	static const struct {
		const char *topic;
		enum kind kind;
	} kinds[] = {
		{"CALL_RECEIVED", K_CALL},
		{"call.received", K_CALL},
		{"call.triggered", K_CALL},
		{"call.answered", K_CALL},
		{"call.completed", K_CALL},
		{"SMS_RECEIVED", K_SMS},
		{"SMS_SENT", K_SMS},
		{"sms.received", K_SMS},
		{"sms.sent", K_SMS},
		{"CONTACT_CREATED", K_CONTACT},
		{"CONTACT_UPDATED", K_CONTACT},
		{"contact.created", K_CONTACT},
		{"contact.updated", K_CONTACT},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcasecmp(topic, kinds[i].topic))
			return kinds[i].kind;
	return K_OTHER;
}

/* ---- durations and offsets --------------------------------------------------------- */

/* Unsigned decimal digits with an optional fraction ("2", "2.5", ".5"): no sign, exponent,
 * hex, inf or nan. Returns the end, or NULL when no digit was read. */
static const char *decimal(const char *s, double *out)
{
	double v = 0, scale = 1;
	bool digits = false;
	for (; isdigit((unsigned char)*s); s++, digits = true)
		v = v * 10 + (*s - '0');
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++, digits = true)
			v = v * 10 + (*s - '0'), scale *= 10;
	*out = v / scale; /* one rounding: 0.75 is 75 / 100 */
	return digits && isfinite(*out) ? s : NULL;
}

/* "mm:ss" or "hh:mm:ss" (the last part may have a fraction) in seconds. */
static bool clock_seconds(const char *s, double *out)
{
	double total = 0, v;
	int parts = 0;
	while (*s == ' ')
		s++;
	for (;;) {
		const char *end = decimal(s, &v);
		if (!end || ++parts > 3)
			return false;
		total = total * 60 + v;
		s = end;
		if (*s != ':')
			break;
		s++;
	}
	while (*s == ' ')
		s++;
	*out = total;
	return parts >= 2 && *s == '\0';
}

/* The seconds one unit word stands for, or 0. */
static double unit_seconds(const char *w, size_t n)
{
	static const struct {
		const char *word;
		double secs;
	} units[] = {{"h", 3600}, {"hr", 3600}, {"hrs", 3600}, {"hour", 3600}, {"hours", 3600},
		     {"m", 60},   {"min", 60},  {"mins", 60},  {"minute", 60}, {"minutes", 60},
		     {"s", 1},    {"sec", 1},   {"secs", 1},   {"second", 1},  {"seconds", 1}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strlen(units[i].word) == n && !strncasecmp(w, units[i].word, n))
			return units[i].secs;
	return 0;
}

/* A human duration in seconds: "2m 30s", "1h 2m 3s", "45 sec", "3 min", "2:30". A bare
 * number has no unit and does not read. */
static bool human_seconds(const char *s, double *out)
{
	double total = 0, v;
	int parts = 0;
	if (strchr(s, ':'))
		return clock_seconds(s, out);
	for (;;) {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		const char *end = decimal(s, &v);
		if (!end)
			return false;
		for (s = end; *s == ' '; s++)
			;
		for (end = s; isalpha((unsigned char)*end); end++)
			;
		double unit = unit_seconds(s, (size_t)(end - s));
		if (unit == 0)
			return false;
		total += v * unit;
		parts++;
		s = end;
	}
	*out = total;
	return parts > 0 && isfinite(total);
}

static const char *seconds_text(struct mapped *m, double secs)
{
	return isfinite(secs) && secs >= 0 ? rows_printf(m, "%.15g", secs) : NULL;
}

/* length_in_minutes * 60, else (absent or unusable) the human `length`. */
static const char *call_duration(struct mapped *m, json_object *data)
{
	const char *minutes = get(m, field_num, data, "length_in_minutes");
	const char *length = get(m, str, data, "length");
	const char *secs = minutes ? seconds_text(m, strtod(minutes, NULL) * 60) : NULL;
	double v;
	if (!secs && length && human_seconds(length, &v))
		secs = seconds_text(m, v);
	return secs;
}

/* A transcript `time` given as an offset into the call rather than a point in time: a
 * number (or numeric string) below 1e9, or "mm:ss". */
static bool offset_seconds(json_object *t, double *out)
{
	const char *s, *end;
	bool negative;
	if (json_object_is_type(t, json_type_int) || json_object_is_type(t, json_type_double)) {
		*out = json_object_get_double(t);
		return *out < MAX_OFFSET_SECONDS;
	}
	if (!json_object_is_type(t, json_type_string))
		return false;
	s = json_object_get_string(t);
	if (clock_seconds(s, out))
		return true;
	while (*s == ' ')
		s++;
	negative = *s == '-';
	end = decimal(s + negative, out);
	while (end && *end == ' ')
		end++;
	if (!end || *end != '\0')
		return false;
	*out = negative ? -*out : *out;
	return *out < MAX_OFFSET_SECONDS;
}

/* started_at + secs, canonical; NULL when the start is unknown, the offset negative or
 * the sum past year 9999. */
static const char *ts_plus(struct mapped *m, const char *started_at, double secs)
{
	int64_t us;
	char out[TS_LEN];
	if (!started_at || secs < 0 || !ts_parse_iso(started_at, &us))
		return NULL;
	return ts_format(us + llround(secs * 1e6), out) ? rows_strdup(m, out) : NULL;
}

static const char *spoken_at(struct mapped *m, json_object *entry, const char *started_at)
{
	double secs;
	json_object *t = field_get(entry, "time");
	if (t && offset_seconds(t, &secs))
		return ts_plus(m, started_at, secs);
	return field_ts(m, entry, "time");
}

/* ---- calls ------------------------------------------------------------------------- */

static void map_transcript(struct mapped *m, json_object *data, const char *call_id,
			   const char *started_at)
{
	json_object *arr = field_get(data, "transcriptions");
	if (!arr || !json_object_is_type(arr, json_type_array))
		return;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *text = str(m, e, "text");
		if (!text)
			continue;
		struct segment *s = rows_add_segment(m, call_id);
		if (!s)
			return;
		s->speaker = str(m, e, "source");
		s->role = field_role(s->speaker);
		s->content = text;
		s->spoken_at = spoken_at(m, e, started_at);
	}
}

/* Direction, both parties, and which of them is the customer. */
static void call_parties(struct mapped *m, struct row *r, json_object *data)
{
	const char *dir = field_direction(get(m, str, data, "type"));
	if (!dir)
		dir = field_direction(get(m, str, data, "direction"));
	r->v[CALL_DIRECTION] = dir;
	r->v[CALL_FROM_NUMBER] = ANY(str, data, "from_number", "from");
	r->v[CALL_FROM_NAME] = get(m, str, data, "from_name");
	r->v[CALL_TO_NUMBER] = ANY(str, data, "to", "to_number");
	r->v[CALL_TO_NAME] = get(m, str, data, "to_name");
	if (!dir)
		return;
	bool inbound = !strcmp(dir, "inbound");
	r->v[CALL_CUSTOMER_NUMBER] = r->v[inbound ? CALL_FROM_NUMBER : CALL_TO_NUMBER];
	r->v[CALL_CUSTOMER_NAME] = r->v[inbound ? CALL_FROM_NAME : CALL_TO_NAME];
}

/* "true"/"false" for the documented results, NULL for anything else. */
static const char *result_successful(const char *result)
{
	static const struct {
		const char *result, *successful;
	} results[] = {{"ANSWERED", "true"},
		       {"TRANSFERRED_AI", "true"},
		       {"TRANSFERRED_EXTERNAL", "true"},
		       {"VOICEMAIL", "false"},
		       {"BLOCKED", "false"},
		       {"FAILED", "false"},
		       {"MISSED", "false"}};
	for (size_t i = 0; result && i < sizeof results / sizeof results[0]; i++)
		if (!strcasecmp(result, results[i].result))
			return results[i].successful;
	return NULL;
}

static void call_outcome(struct mapped *m, struct row *r, json_object *data, const struct event *ev)
{
	const char *result = get(m, str, data, "result");
	r->v[CALL_STATUS] = result ? result : get(m, str, data, "status");
	if (!r->v[CALL_STATUS])
		r->v[CALL_STATUS] = ev->state;
	r->v[CALL_SUCCESSFUL] = result_successful(result);
	r->v[CALL_DISPOSITION] = get(m, str, data, "tag");
	r->v[CALL_SUMMARY] = ANY(str, data, "summary", "one_sentence_summary");
	r->v[CALL_DURATION_SECONDS] = call_duration(m, data);
}

/* Explicit times of the data; else, for v2, the envelope time of the matching topic. */
static void call_times(struct mapped *m, struct row *r, json_object *data, const struct event *ev)
{
	const char *state = ev->state ? ev->state : "";
	r->v[CALL_STARTED_AT] = ANY(field_ts, data, "start_date", "started_at");
	r->v[CALL_ANSWERED_AT] = get(m, field_ts, data, "answered_at");
	r->v[CALL_ENDED_AT] = ANY(field_ts, data, "end_date", "ended_at");
	if (!r->v[CALL_STARTED_AT] &&
	    (!strcasecmp(state, "received") || !strcasecmp(state, "triggered")))
		r->v[CALL_STARTED_AT] = ev->stamp;
	if (!r->v[CALL_ANSWERED_AT] && !strcasecmp(state, "answered"))
		r->v[CALL_ANSWERED_AT] = ev->stamp;
	if (!r->v[CALL_ENDED_AT] && !strcasecmp(state, "completed"))
		r->v[CALL_ENDED_AT] = ev->stamp;
}

/* The object under a snake_case name, else its camelCase one; NULL when not an object. */
static json_object *object(json_object *data, const char *snake)
{
	char camel[64];
	json_object *o = field_get(data, snake);
	if (!o) {
		camel_case(snake, camel, sizeof camel);
		o = field_get(data, camel);
	}
	return o && json_object_is_type(o, json_type_object) ? o : NULL;
}

/* Transfers and the line dialled: transfer_from/transfer_to {number, user_email,
 * user_name}, transfer_original_call_id (the chain), original_to_number/_name. */
static void call_routing(struct mapped *m, struct row *r, json_object *data)
{
	json_object *from = object(data, "transfer_from"), *to = object(data, "transfer_to");
	r->v[CALL_TRANSFER_CHAIN_ID] = get(m, str, data, "transfer_original_call_id");
	r->v[CALL_TRANSFERRED_FROM_NUMBER] = get(m, str, from, "number");
	r->v[CALL_TRANSFERRED_FROM_NAME] = get(m, str, from, "user_name");
	r->v[CALL_TRANSFERRED_FROM_EMAIL] = get(m, str, from, "user_email");
	r->v[CALL_TRANSFERRED_TO_NUMBER] = get(m, str, to, "number");
	r->v[CALL_TRANSFERRED_TO_NAME] = get(m, str, to, "user_name");
	r->v[CALL_TRANSFERRED_TO_EMAIL] = get(m, str, to, "user_email");
	r->v[CALL_DIALED_NUMBER] = get(m, str, data, "original_to_number");
	r->v[CALL_DIALED_NAME] = get(m, str, data, "original_to_name");
	r->v[CALL_INTEGRATION_ID] = get(m, str, data, "integration_id");
}

static void map_call(struct mapped *m, const struct event *ev)
{
	json_object *data = ev->data;
	struct row *r = rows_add(m, TBL_CALLS);
	if (!r)
		return;
	r->v[CALL_EXTERNAL_ID] = ev->id;
	r->v[CALL_OWNER_EMAIL] = get(m, str, data, "user_email");
	r->v[CALL_RECORDING_URL] = get(m, str, data, "recording_url");
	r->v[CALL_METADATA] = get(m, field_object, data, "data_collected");
	call_parties(m, r, data);
	call_routing(m, r, data);
	call_outcome(m, r, data, ev);
	call_times(m, r, data, ev);
	map_transcript(m, data, ev->id, r->v[CALL_STARTED_AT]);
	r->v[CALL_TRANSCRIPT_TEXT] = get(m, str, data, "concatenated_transcript");
	if (!r->v[CALL_TRANSCRIPT_TEXT])
		r->v[CALL_TRANSCRIPT_TEXT] = rows_transcript_text(m);
}

/* ---- SMS and contacts -------------------------------------------------------------- */

static bool is_creation(const struct event *ev);

static const char *message_type(const char *type)
{
	if (type && !strcasecmp(type, "sms"))
		return "sms";
	if (type && !strcasecmp(type, "mms"))
		return "mms";
	return NULL;
}

static void map_sms(struct mapped *m, const struct event *ev)
{
	json_object *data = ev->data;
	struct row *r = rows_add(m, TBL_SMS);
	if (!r)
		return;
	const char *dir = field_direction(get(m, str, data, "direction"));
	if (!dir)
		dir = strcasestr(ev->topic, "received") ? "inbound" : "outbound";
	r->v[SMS_EXTERNAL_ID] = ev->id;
	r->v[SMS_DIRECTION] = dir;
	r->v[SMS_MESSAGE_TYPE] = message_type(get(m, str, data, "type"));
	r->v[SMS_CONTENT] = ANY(str, data, "content", "text");
	r->v[SMS_SENT_AT] = get(m, field_ts, data, "sent_at");
	r->v[SMS_FROM_NUMBER] = ANY(str, data, "from_number", "from");
	r->v[SMS_FROM_NAME] = get(m, str, data, "from_name");
	r->v[SMS_TO_NUMBER] = ANY(str, data, "to_number", "to");
	r->v[SMS_TO_NAME] = get(m, str, data, "to_name");
}

/* A text[] literal of an array of strings or {key: string} objects; "{}" for an array sent
 * empty; NULL when absent, not an array, or holding nothing readable. */
static const char *text_array(struct mapped *m, json_object *data, const char *name,
			      const char *key)
{
	json_object *arr = field_get(data, name);
	if (!arr || !json_object_is_type(arr, json_type_array))
		return NULL;
	if (json_object_array_length(arr) == 0)
		return "{}";
	return field_text_array(m, data, name, key);
}

/* An explicit null under any of names (each in both spellings), and no value under any. */
static bool sent_null(json_object *data, const char *const *names)
{
	bool null = false;
	char camel[64];
	for (; *names; names++) {
		camel_case(*names, camel, sizeof camel);
		if (field_get(data, *names) || field_get(data, camel))
			return false;
		null = null || field_null(data, *names) || field_null(data, camel);
	}
	return null;
}

/* A contact update carries the contact's whole state: a field sent as null is cleared
 * (when the update is newer than the stored row); an absent one is left. */
static void contact_clears(struct row *r, json_object *data)
{
	static const struct {
		int col;
		const char *names[4];
	} fields[] = {
		{CONTACT_FIRST_NAME, {"name", "first_name", NULL}},
		{CONTACT_LAST_NAME, {"last_name", NULL}},
		{CONTACT_COMPANY, {"company", NULL}},
		{CONTACT_EMAILS, {"emails", NULL}},
		{CONTACT_PHONE_NUMBERS, {"numbers", "phone_numbers", NULL}},
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!r->v[fields[i].col] && sent_null(data, fields[i].names))
			r->clear |= 1ull << fields[i].col;
}

static void map_contact(struct mapped *m, const struct event *ev)
{
	json_object *data = ev->data;
	struct row *r = rows_add(m, TBL_CONTACTS);
	if (!r)
		return;
	r->v[CONTACT_EXTERNAL_ID] = ev->id;
	r->v[CONTACT_FIRST_NAME] = ANY(str, data, "name", "first_name");
	r->v[CONTACT_LAST_NAME] = get(m, str, data, "last_name");
	r->v[CONTACT_COMPANY] = get(m, str, data, "company");
	r->v[CONTACT_EMAILS] = text_array(m, data, "emails", "email");
	r->v[CONTACT_PHONE_NUMBERS] = text_array(m, data, "numbers", "number");
	if (!r->v[CONTACT_PHONE_NUMBERS])
		r->v[CONTACT_PHONE_NUMBERS] = text_array(m, data, "phone_numbers", "number");
	if (!r->v[CONTACT_PHONE_NUMBERS])
		r->v[CONTACT_PHONE_NUMBERS] = text_array(m, data, "phoneNumbers", "number");
	if (!is_creation(ev))
		contact_clears(r, data);
}

/* ---- the event --------------------------------------------------------------------- */

static bool is_creation(const struct event *ev)
{
	return ev->kind == K_CONTACT && strcasestr(ev->topic, "created");
}

/* The envelope's time; else a time of the data; else 1970 for a contact creation (it
 * only fills gaps); else NULL (the receive time). */
static const char *event_time(struct mapped *m, const struct event *ev)
{
	const char *t = ev->stamp;
	if (!t && ev->kind == K_CONTACT)
		t = is_creation(ev) ? ANY(field_ts, ev->data, "updated_at", "created_at")
				    : get(m, field_ts, ev->data, "updated_at");
	if (!t && ev->kind == K_SMS)
		t = get(m, field_ts, ev->data, "sent_at");
	if (!t && ev->kind == K_CALL)
		t = ANY(field_ts, ev->data, "start_date", "started_at");
	if (!t && is_creation(ev))
		t = EPOCH;
	return t;
}

static const char *dedupe_key(struct mapped *m, const struct map_input *in, const struct event *ev)
{
	const char *hook = platform_header(in, "webhook-id");
	if (!hook || !*hook)
		hook = platform_header(in, "svix-id");
	if (hook && *hook)
		return rows_printf(m, "webhook-id:%s", hook);
	if (ev->kind == K_OTHER || !ev->id)
		return NULL;
	if (ev->kind == K_CONTACT && !is_creation(ev)) {
		const char *digest = field_digest(m, ev->data, NULL);
		return digest ? rows_printf(m, "%s:%s:%s", ev->topic, ev->id, digest) : NULL;
	}
	return rows_printf(m, "%s:%s", ev->topic, ev->id);
}

void map_allo(const struct map_input *in, struct mapped *m)
{
	json_object *root = in->root;
	struct event ev = {0};

	ev.topic = field_str(m, root, "topic");
	m->event_type = ev.topic;
	if (!ev.topic) {
		rows_fail(m, "topic is missing");
		return;
	}
	const char *dot = strchr(ev.topic, '.');
	ev.state = dot && dot[1] ? dot + 1 : NULL;
	ev.stamp = field_ts(m, root, "timestamp");
	ev.data = event_data(root);
	ev.id = entity_id(m, ev.data);
	ev.kind = kind_of(ev.topic);
	m->occurred_at = event_time(m, &ev);
	m->dedupe_key = dedupe_key(m, in, &ev);

	if (ev.kind == K_OTHER) {
		m->status = MAP_UNMAPPED;
		return;
	}
	if (!ev.id) {
		rows_fail(m, "data.id is missing");
		return;
	}
	m->entity_id = ev.id;
	if (ev.kind == K_CALL)
		map_call(m, &ev);
	else if (ev.kind == K_SMS)
		map_sms(m, &ev);
	else
		map_contact(m, &ev);
}
