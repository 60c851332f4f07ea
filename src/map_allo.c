/* map_allo — Allo webhooks, v1 {"topic", "data"|"body"} (snake_case or camelCase
 * fields) and v2 {topic, version: "2.0", timestamp, data}.
 *
 *   CALL_RECEIVED, call.received|triggered|answered|completed  -> calls (+ transcript)
 *   SMS_RECEIVED, SMS_SENT, sms.received, sms.sent             -> sms_messages
 *   CONTACT_CREATED, CONTACT_UPDATED, contact.created|updated  -> contacts
 *   PING, tag.added, tag.removed, anything else                -> stored raw, unmapped
 *
 * Choices where the docs are silent:
 * - Calls: length_in_minutes * 60 is duration_seconds (the human "2m 30s" `length` is
 *   read when the minutes are absent); `tag` is the disposition; `result` is the status
 *   as sent (v2 without a result: the topic's state, e.g. "answered"); successful is true
 *   for ANSWERED and TRANSFERRED_*, false for VOICEMAIL, BLOCKED, FAILED and MISSED;
 *   user_email (the route's owner) is the agent_id; data_collected is the metadata;
 *   `summary`, else `one_sentence_summary`. v2 call.answered sets answered_at and
 *   call.completed ended_at from the event time. Transfer details stay in the payload.
 * - SMS: direction from the data, else from the topic (received: inbound, sent:
 *   outbound); type SMS/MMS as sms/mms.
 * - Contacts: `name` is the first name (as documented); emails and numbers may be
 *   strings or objects ({email}, {number}).
 * - Event time: v2 `timestamp`; v1 sends none, so a time of the data stands in
 *   (updated_at for contacts, sent_at for SMS, start_date for calls). A contact creation
 *   with no time at all takes 1970-01-01, so that it only ever fills gaps: an update that
 *   arrived first is never overwritten by it.
 *
 * De-duplication: v2's webhook-id header (stable across its 8 attempts); else
 * "<topic>:<id>" for calls, SMS and contact creations; "<topic>:<id>:<hash of the data>"
 * for contact updates (one contact is updated many times; a retry repeats the same
 * data); PING and unknown topics: the body's hash. */
#include "field.h"
#include "platform.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef const char *reader(struct mapped *m, json_object *obj, const char *path);

enum kind { K_OTHER, K_CALL, K_SMS, K_CONTACT };

/* Reads a field under its snake_case name, else its camelCase one. */
static const char *get(struct mapped *m, reader *read, json_object *data, const char *snake)
{
	const char *v = read(m, data, snake);
	if (v || !strchr(snake, '_'))
		return v;
	char camel[64];
	size_t o = 0;
	for (const char *s = snake; *s && o + 1 < sizeof camel; s++) {
		if (*s == '_' && s[1]) {
			camel[o++] = (char)toupper((unsigned char)*++s);
			continue;
		}
		camel[o++] = *s;
	}
	camel[o] = '\0';
	return read(m, data, camel);
}

static enum kind kind_of(const char *topic)
{
	static const struct {
		const char *prefix;
		enum kind kind;
	} kinds[] = {{"CALL_RECEIVED", K_CALL},
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
		     {"contact.updated", K_CONTACT}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcmp(topic, kinds[i].prefix))
			return kinds[i].kind;
	return K_OTHER;
}

/* "2m 30s", "1h 2m", "45s", "3 min" -> seconds as text; NULL when it does not parse. */
static const char *parse_length(struct mapped *m, const char *s)
{
	double total = 0;
	bool any = false;
	while (s && *s) {
		while (*s == ' ')
			s++;
		char *end;
		double v = strtod(s, &end);
		if (end == s)
			return NULL;
		s = end;
		while (*s == ' ')
			s++;
		double unit = *s == 'h' ? 3600 : *s == 'm' ? 60 : *s == 's' ? 1 : 0;
		if (unit == 0)
			return NULL;
		while (isalpha((unsigned char)*s))
			s++;
		total += v * unit;
		any = true;
	}
	return any ? rows_printf(m, "%.15g", total) : NULL;
}

static const char *minutes_to_seconds(struct mapped *m, const char *minutes)
{
	return minutes ? rows_printf(m, "%.15g", strtod(minutes, NULL) * 60) : NULL;
}

static void map_transcript(struct mapped *m, json_object *data, const char *call_id)
{
	json_object *arr = field_get(data, "transcriptions");
	if (!arr || !json_object_is_type(arr, json_type_array))
		return;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *text = field_str(m, e, "text");
		if (!text)
			continue;
		const char *source = field_str(m, e, "source");
		struct segment *s = rows_add_segment(m, call_id);
		if (!s)
			return;
		s->role = field_role(source);
		s->speaker = source;
		s->content = text;
		s->spoken_at = field_ts(m, e, "time");
	}
}

static void map_call(struct mapped *m, json_object *data, const char *topic, const char *id,
		     bool v2)
{
	struct row *r = rows_add(m, TBL_CALLS);
	if (!r)
		return;
	const char *dir = field_direction(get(m, field_str, data, "type"));
	if (!dir)
		dir = field_direction(get(m, field_str, data, "direction"));
	const char *from = get(m, field_str, data, "from_number");
	const char *from_name = get(m, field_str, data, "from_name");
	const char *to = get(m, field_str, data, "to");
	const char *to_name = get(m, field_str, data, "to_name");
	const char *result = get(m, field_str, data, "result");
	bool inbound = dir && !strcmp(dir, "inbound");

	if (!to)
		to = get(m, field_str, data, "to_number");
	r->v[CALL_EXTERNAL_ID] = id;
	r->v[CALL_AGENT_ID] = get(m, field_str, data, "user_email");
	r->v[CALL_DIRECTION] = dir;
	r->v[CALL_FROM_NUMBER] = from;
	r->v[CALL_FROM_NAME] = from_name;
	r->v[CALL_TO_NUMBER] = to;
	r->v[CALL_TO_NAME] = to_name;
	if (dir) {
		r->v[CALL_CUSTOMER_NUMBER] = inbound ? from : to;
		r->v[CALL_CUSTOMER_NAME] = inbound ? from_name : to_name;
	}
	r->v[CALL_STARTED_AT] = get(m, field_ts, data, "start_date");
	r->v[CALL_RECORDING_URL] = get(m, field_str, data, "recording_url");
	r->v[CALL_DURATION_SECONDS] =
		minutes_to_seconds(m, get(m, field_num, data, "length_in_minutes"));
	if (!r->v[CALL_DURATION_SECONDS])
		r->v[CALL_DURATION_SECONDS] = parse_length(m, get(m, field_str, data, "length"));
	r->v[CALL_DISPOSITION] = get(m, field_str, data, "tag");
	r->v[CALL_SUMMARY] = get(m, field_str, data, "summary");
	if (!r->v[CALL_SUMMARY])
		r->v[CALL_SUMMARY] = get(m, field_str, data, "one_sentence_summary");
	r->v[CALL_METADATA] = get(m, field_object, data, "data_collected");
	r->v[CALL_STATUS] = result ? result : get(m, field_str, data, "status");
	if (!r->v[CALL_STATUS] && v2)
		r->v[CALL_STATUS] = strchr(topic, '.') + 1;
	if (result) {
		static const char *const good[] = {"ANSWERED", "TRANSFERRED_AI",
						   "TRANSFERRED_EXTERNAL", NULL};
		static const char *const bad[] = {"VOICEMAIL", "BLOCKED", "FAILED", "MISSED", NULL};
		for (int i = 0; good[i]; i++)
			if (!strcasecmp(result, good[i]))
				r->v[CALL_SUCCESSFUL] = "true";
		for (int i = 0; bad[i]; i++)
			if (!strcasecmp(result, bad[i]))
				r->v[CALL_SUCCESSFUL] = "false";
	}
	r->v[CALL_ANSWERED_AT] = get(m, field_ts, data, "answered_at");
	r->v[CALL_ENDED_AT] = get(m, field_ts, data, "end_date");
	if (v2 && !strcmp(topic, "call.answered") && !r->v[CALL_ANSWERED_AT])
		r->v[CALL_ANSWERED_AT] = m->occurred_at;
	if (v2 && !strcmp(topic, "call.completed") && !r->v[CALL_ENDED_AT])
		r->v[CALL_ENDED_AT] = m->occurred_at;

	map_transcript(m, data, id);
	r->v[CALL_TRANSCRIPT_TEXT] = get(m, field_str, data, "concatenated_transcript");
	if (!r->v[CALL_TRANSCRIPT_TEXT])
		r->v[CALL_TRANSCRIPT_TEXT] = rows_transcript_text(m);
}

static void map_sms(struct mapped *m, json_object *data, const char *topic, const char *id)
{
	struct row *r = rows_add(m, TBL_SMS);
	if (!r)
		return;
	const char *dir = field_direction(get(m, field_str, data, "direction"));
	if (!dir)
		dir = strcasestr(topic, "received") ? "inbound" : "outbound";
	const char *type = get(m, field_str, data, "type");
	r->v[SMS_EXTERNAL_ID] = id;
	r->v[SMS_DIRECTION] = dir;
	r->v[SMS_MESSAGE_TYPE] = !type                      ? NULL
				 : !strcasecmp(type, "sms") ? "sms"
				 : !strcasecmp(type, "mms") ? "mms"
							    : NULL;
	r->v[SMS_CONTENT] = get(m, field_str, data, "content");
	r->v[SMS_SENT_AT] = get(m, field_ts, data, "sent_at");
	r->v[SMS_FROM_NUMBER] = get(m, field_str, data, "from_number");
	r->v[SMS_FROM_NAME] = get(m, field_str, data, "from_name");
	r->v[SMS_TO_NUMBER] = get(m, field_str, data, "to_number");
	r->v[SMS_TO_NAME] = get(m, field_str, data, "to_name");
}

static void map_contact(struct mapped *m, json_object *data, const char *id)
{
	struct row *r = rows_add(m, TBL_CONTACTS);
	if (!r)
		return;
	r->v[CONTACT_EXTERNAL_ID] = id;
	r->v[CONTACT_FIRST_NAME] = get(m, field_str, data, "name");
	if (!r->v[CONTACT_FIRST_NAME])
		r->v[CONTACT_FIRST_NAME] = get(m, field_str, data, "first_name");
	r->v[CONTACT_LAST_NAME] = get(m, field_str, data, "last_name");
	r->v[CONTACT_COMPANY] = get(m, field_str, data, "company");
	r->v[CONTACT_EMAILS] = field_text_array(m, data, "emails", "email");
	r->v[CONTACT_PHONE_NUMBERS] = field_text_array(m, data, "numbers", "number");
	if (!r->v[CONTACT_PHONE_NUMBERS])
		r->v[CONTACT_PHONE_NUMBERS] = field_text_array(m, data, "phone_numbers", "number");
}

void map_allo(const struct map_input *in, struct mapped *m)
{
	json_object *root = in->root;
	const char *topic = field_str(m, root, "topic");
	json_object *data = field_get(root, "data");
	const char *hook_id = platform_header(in, "webhook-id");
	bool v2 =
		field_str(m, root, "version") != NULL || (topic && islower((unsigned char)*topic));

	if (!data)
		data = field_get(root, "body");
	m->event_type = topic;
	if (!topic) {
		rows_fail(m, "topic is missing");
		return;
	}
	enum kind kind = kind_of(topic);
	const char *id = field_str(m, data, "id");
	m->occurred_at = field_ts(m, root, "timestamp");
	if (!m->occurred_at)
		m->occurred_at = kind == K_CONTACT ? get(m, field_ts, data, "updated_at")
				 : kind == K_SMS   ? get(m, field_ts, data, "sent_at")
				 : kind == K_CALL  ? get(m, field_ts, data, "start_date")
						   : NULL;
	if (!m->occurred_at && kind == K_CONTACT && strcasestr(topic, "created"))
		m->occurred_at = "1970-01-01T00:00:00.000000Z";

	if (hook_id)
		m->dedupe_key = rows_printf(m, "webhook-id:%s", hook_id);
	else if (kind == K_CONTACT && id && strcasestr(topic, "updated") &&
		 field_digest(m, data, NULL))
		m->dedupe_key = rows_printf(m, "%s:%s:%s", topic, id, field_digest(m, data, NULL));
	else if (kind != K_OTHER && id)
		m->dedupe_key = rows_printf(m, "%s:%s", topic, id);

	if (kind == K_OTHER) {
		m->status = MAP_UNMAPPED;
		return;
	}
	if (!id) {
		rows_fail(m, "data.id is missing");
		return;
	}
	if (kind == K_CALL)
		map_call(m, data, topic, id, v2);
	else if (kind == K_SMS)
		map_sms(m, data, topic, id);
	else
		map_contact(m, data, id);
}
