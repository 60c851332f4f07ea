/* lookup — adapters of the pre-call lookups and their answers (see lookup.h). Pure. */
#include "lookup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lookup_variable_names[LF_COUNT] = {
	[LF_PHONE] = "caller_phone",
	[LF_KNOWN] = "known",
	[LF_NAME] = "caller_name",
	[LF_COMPANY] = "caller_company",
	[LF_CALLS] = "previous_calls",
	[LF_LAST_CALL_AT] = "last_call_at",
	[LF_LAST_CALL_PLATFORM] = "last_call_platform",
	[LF_LAST_CALL_DIRECTION] = "last_call_direction",
	[LF_LAST_CALL_OUTCOME] = "last_call_outcome",
	[LF_LAST_CALL_SUMMARY] = "last_call_summary",
	[LF_LAST_CALL_SENTIMENT] = "last_call_sentiment",
	[LF_LAST_QUALIFIED] = "last_qualified",
	[LF_LAST_QUALIFIED_REASON] = "last_qualified_reason",
	[LF_LAST_SMS_AT] = "last_sms_at",
	[LF_LAST_SMS_DIRECTION] = "last_sms_direction",
	[LF_LAST_SMS] = "last_sms",
	[LF_FOLLOW_UP] = "follow_up",
};

void lookup_facts_unknown(struct lookup_facts *f)
{
	memset(f, 0, sizeof *f);
}

/* ---- reading requests ---- */

/* The string at key of obj; a number is taken as its digits (a sender that writes
 * numbers as JSON numbers). NULL when absent, null, empty or another type. */
static const char *str_at(json_object *obj, const char *key)
{
	json_object *v;
	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v))
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string_len(v) > 0 ? json_object_get_string(v) : NULL;
	if (json_object_is_type(v, json_type_int))
		return json_object_get_string(v); /* kept by json-c in v */
	return NULL;
}

static json_object *obj_at(json_object *obj, const char *key)
{
	json_object *v;
	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

/* Simple AI: {"call":{"from_number","to_number","direction","timestamp"},"agent":{"id"}}.
 * The person is the caller of an inbound call and the callee of an outbound one. */
static bool parse_simpleai(json_object *root, struct lookup_request *out)
{
	json_object *call = obj_at(root, "call");
	if (!call)
		return false;
	const char *dir = str_at(call, "direction");
	bool outbound = dir && !strcmp(dir, "outbound");
	out->phone = str_at(call, outbound ? "to_number" : "from_number");
	out->called = str_at(call, outbound ? "from_number" : "to_number");
	out->agent = str_at(obj_at(root, "agent"), "id");
	return true;
}

/* Retell's inbound call webhook: {"event":"call_inbound","call_inbound":{"agent_id",
 * "from_number","to_number"}}. */
static bool parse_retell(json_object *root, struct lookup_request *out)
{
	json_object *in = obj_at(root, "call_inbound");
	if (!in)
		return false;
	out->phone = str_at(in, "from_number");
	out->called = str_at(in, "to_number");
	out->agent = str_at(in, "agent_id");
	return true;
}

/* ElevenLabs' conversation initiation webhook (inbound Twilio calls):
 * {"caller_id","agent_id","called_number","call_sid"}. */
static bool parse_elevenlabs(json_object *root, struct lookup_request *out)
{
	if (!json_object_is_type(root, json_type_object))
		return false;
	out->phone = str_at(root, "caller_id");
	out->called = str_at(root, "called_number");
	out->agent = str_at(root, "agent_id");
	return true;
}

/* ---- answers ---- */

static json_object *wrap_in(const char *key, json_object *vars)
{
	json_object *o = json_object_new_object();
	if (!o || json_object_object_add(o, key, vars) < 0) {
		json_object_put(o);
		json_object_put(vars);
		return NULL;
	}
	return o;
}

/* {"parameters":{...}}, merged by Simple AI into the call's parameters. */
static json_object *wrap_simpleai(json_object *vars)
{
	return wrap_in("parameters", vars);
}

/* {"call_inbound":{"dynamic_variables":{...}}}. */
static json_object *wrap_retell(json_object *vars)
{
	json_object *inner = wrap_in("dynamic_variables", vars);
	return inner ? wrap_in("call_inbound", inner) : NULL;
}

/* {"type":"conversation_initiation_client_data","dynamic_variables":{...}}. */
static json_object *wrap_elevenlabs(json_object *vars)
{
	json_object *o = wrap_in("dynamic_variables", vars);
	json_object *t = json_object_new_string("conversation_initiation_client_data");
	if (!o || !t || json_object_object_add(o, "type", t) < 0) {
		json_object_put(t);
		json_object_put(o);
		return NULL;
	}
	return o;
}

const struct lookup_adapter lookup_adapters[] = {
	{"simpleai", "Simple AI", parse_simpleai, wrap_simpleai},
	{"retell", "Retell", parse_retell, wrap_retell},
	{"elevenlabs", "ElevenLabs", parse_elevenlabs, wrap_elevenlabs},
};
const int lookup_adapter_count = (int)(sizeof lookup_adapters / sizeof lookup_adapters[0]);

const struct lookup_adapter *lookup_adapter_find(const char *slug, size_t len)
{
	for (int i = 0; i < lookup_adapter_count; i++)
		if (strlen(lookup_adapters[i].slug) == len &&
		    !memcmp(lookup_adapters[i].slug, slug, len))
			return &lookup_adapters[i];
	return NULL;
}

static bool is_bool(enum lookup_fact k)
{
	return k == LF_KNOWN || k == LF_LAST_QUALIFIED || k == LF_FOLLOW_UP;
}

/* A fact as a variable's string: "" when unknown, booleans spelt out; known and
 * follow_up are "false" rather than "" when unknown, previous_calls "0". */
static const char *var_value(const struct lookup_facts *f, enum lookup_fact k)
{
	const char *v = f->v[k];
	if (is_bool(k)) {
		if (v)
			return v[0] == 't' ? "true" : "false";
		return k == LF_LAST_QUALIFIED ? "" : "false";
	}
	if (k == LF_CALLS && !v)
		return "0";
	return v ? v : "";
}

json_object *lookup_answer(const struct lookup_adapter *a, const struct lookup_facts *f)
{
	json_object *vars = json_object_new_object();
	if (!vars)
		return NULL;
	for (int k = 0; k < LF_COUNT; k++) {
		json_object *s = json_object_new_string(var_value(f, (enum lookup_fact)k));
		if (!s || json_object_object_add(vars, lookup_variable_names[k], s) < 0) {
			json_object_put(s);
			json_object_put(vars);
			return NULL;
		}
	}
	return a->wrap(vars);
}

/* ---- the plain answer ---- */

static json_object *typed(const struct lookup_facts *f, enum lookup_fact k)
{
	const char *v = f->v[k];
	if (!v)
		return NULL; /* json null */
	if (is_bool(k))
		return json_object_new_boolean(v[0] == 't');
	if (k == LF_CALLS)
		return json_object_new_int64(strtoll(v, NULL, 10));
	return json_object_new_string(v);
}

struct plain_field {
	const char *key;
	enum lookup_fact fact;
};

/* Adds fields to o; a group (o itself, when group is set) whose facts are all NULL is
 * null. false when out of memory. */
static bool add_group(json_object *parent, const char *group, const struct plain_field *fl, int n,
		      const struct lookup_facts *f)
{
	json_object *o = parent;
	if (group) {
		bool any = false;
		for (int i = 0; i < n; i++)
			any |= f->v[fl[i].fact] != NULL;
		if (!any)
			return json_object_object_add(parent, group, NULL) == 0;
		if (!(o = json_object_new_object()) ||
		    json_object_object_add(parent, group, o) < 0) {
			json_object_put(o);
			return false;
		}
	}
	for (int i = 0; i < n; i++) {
		json_object *v = typed(f, fl[i].fact);
		if ((f->v[fl[i].fact] && !v) || json_object_object_add(o, fl[i].key, v) < 0) {
			json_object_put(v);
			return false;
		}
	}
	return true;
}

json_object *lookup_plain(const struct lookup_facts *f, const char *lookup)
{
	static const struct plain_field top[] = {
		{"phone", LF_PHONE}, {"name", LF_NAME}, {"company", LF_COMPANY}};
	static const struct plain_field call[] = {
		{"at", LF_LAST_CALL_AT},
		{"platform", LF_LAST_CALL_PLATFORM},
		{"direction", LF_LAST_CALL_DIRECTION},
		{"outcome", LF_LAST_CALL_OUTCOME},
		{"summary", LF_LAST_CALL_SUMMARY},
		{"sentiment", LF_LAST_CALL_SENTIMENT},
	};
	static const struct plain_field audit[] = {{"qualified", LF_LAST_QUALIFIED},
						   {"reason", LF_LAST_QUALIFIED_REASON}};
	static const struct plain_field sms[] = {{"at", LF_LAST_SMS_AT},
						 {"direction", LF_LAST_SMS_DIRECTION},
						 {"content", LF_LAST_SMS}};

	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	bool ok = json_object_object_add(o, "known",
					 json_object_new_boolean(f->v[LF_KNOWN] &&
								 f->v[LF_KNOWN][0] == 't')) == 0 &&
		  add_group(o, NULL, top, 3, f) &&
		  json_object_object_add(
			  o, "calls",
			  json_object_new_int64(f->v[LF_CALLS] ? strtoll(f->v[LF_CALLS], NULL, 10)
							       : 0)) == 0 &&
		  add_group(o, "last_call", call, 6, f) &&
		  add_group(o, "last_audit", audit, 2, f) && add_group(o, "last_sms", sms, 3, f) &&
		  json_object_object_add(o, "follow_up",
					 json_object_new_boolean(f->v[LF_FOLLOW_UP] &&
								 f->v[LF_FOLLOW_UP][0] == 't')) ==
			  0 &&
		  json_object_object_add(o, "lookup", json_object_new_string(lookup)) == 0;
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* ---- paths ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool lookup_path_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (lo < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || n + 1 >= outlen)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return true;
}
