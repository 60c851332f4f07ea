/* lookup: the pre-call request shapes, the answers and the path decoding. */
#include "harness.h"
#include "lookup.h"

static struct lookup_request parse(const char *slug, const char *json, bool *ok_out)
{
	struct lookup_request r = {0};
	static json_object *root; /* kept: r borrows from it until the next parse */
	json_object_put(root);
	root = json_tokener_parse(json);
	const struct lookup_adapter *a = lookup_adapter_find(slug, strlen(slug));
	*ok_out = a && a->parse(root, &r);
	return r;
}

static const char *answer_of(const char *slug, const struct lookup_facts *f)
{
	static char buf[4096];
	const struct lookup_adapter *a = lookup_adapter_find(slug, strlen(slug));
	json_object *o = lookup_answer(a, f);
	snprintf(buf, sizeof buf, "%s",
		 o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE)
		   : "(null)");
	json_object_put(o);
	return buf;
}

int main(void)
{
	bool okp;
	struct lookup_request r;

	r = parse("simpleai",
		  "{\"call\":{\"from_number\":\"+15551234567\",\"to_number\":\"+15557654321\","
		  "\"direction\":\"inbound\",\"timestamp\":\"2024-01-01T12:00:00Z\"},"
		  "\"agent\":{\"id\":\"agent-uuid\",\"name\":\"Support Agent\"}}",
		  &okp);
	ok(okp, "Simple AI: its request");
	is_str(r.phone, "+15551234567", "inbound: the caller");
	is_str(r.called, "+15557654321", "inbound: the number called");
	is_str(r.agent, "agent-uuid", "the agent");
	r = parse("simpleai",
		  "{\"call\":{\"from_number\":\"+15550000000\",\"to_number\":\"5557654321\","
		  "\"direction\":\"outbound\"}}",
		  &okp);
	is_str(r.phone, "5557654321", "outbound: the callee");
	ok(!r.agent, "no agent object: no agent");
	r = parse("simpleai", "{\"call\":{\"from_number\":15551234567}}", &okp);
	is_str(r.phone, "15551234567", "a number sent as a JSON number");
	r = parse("simpleai", "{\"call\":{\"from_number\":\"\",\"direction\":\"inbound\"}}", &okp);
	ok(okp && !r.phone, "an empty number: the right shape, no phone");
	r = parse("simpleai", "{\"call\":{\"from_number\":[\"+1555\"]}}", &okp);
	ok(okp && !r.phone, "a number of another type: no phone");
	parse("simpleai", "{\"event\":\"call.started\"}", &okp);
	ok(!okp, "no call object: not Simple AI's request");
	parse("simpleai", "[1]", &okp);
	ok(!okp, "an array: not a request");

	r = parse(
		"retell",
		"{\"event\":\"call_inbound\",\"call_inbound\":{\"agent_id\":\"ag\","
		"\"agent_version\":1,\"from_number\":\"+12137771234\",\"to_number\":\"+12137771235\"}}",
		&okp);
	ok(okp, "Retell: its inbound call webhook");
	is_str(r.phone, "+12137771234", "Retell: the caller");
	is_str(r.agent, "ag", "Retell: the agent");
	parse("retell", "{\"event\":\"call_started\"}", &okp);
	ok(!okp, "Retell: another event is not a lookup");

	r = parse("elevenlabs",
		  "{\"caller_id\":\"+15551234567\",\"agent_id\":\"ag\",\"called_number\":\"+1555\","
		  "\"call_sid\":\"CA1\"}",
		  &okp);
	ok(okp, "ElevenLabs: its initiation webhook");
	is_str(r.phone, "+15551234567", "ElevenLabs: caller_id");
	is_str(r.called, "+1555", "ElevenLabs: called_number");

	ok(!lookup_adapter_find("simple", 6), "a prefix of a slug is no adapter");
	ok(!lookup_adapter_find("vapi", 4), "an unknown slug");

	struct lookup_facts f;
	lookup_facts_unknown(&f);
	is_str(answer_of("simpleai", &f),
	       "{\"parameters\":{\"caller_phone\":\"\",\"known\":\"false\",\"caller_name\":\"\","
	       "\"caller_company\":\"\",\"previous_calls\":\"0\",\"last_call_at\":\"\","
	       "\"last_call_platform\":\"\",\"last_call_direction\":\"\",\"last_call_outcome\":\"\","
	       "\"last_call_summary\":\"\",\"last_call_sentiment\":\"\",\"last_qualified\":\"\","
	       "\"last_qualified_reason\":\"\",\"last_sms_at\":\"\",\"last_sms_direction\":\"\","
	       "\"last_sms\":\"\",\"follow_up\":\"false\"}}",
	       "the unknown caller: every variable, as a string");

	f.v[LF_PHONE] = "+15551234567";
	f.v[LF_KNOWN] = "t";
	f.v[LF_NAME] = "Jane \"JJ\" Doe";
	f.v[LF_CALLS] = "3";
	f.v[LF_LAST_QUALIFIED] = "f";
	f.v[LF_LAST_CALL_SUMMARY] = "Asked for https://example.com/pricing";
	const char *a = answer_of("retell", &f);
	ok(strstr(a, "{\"call_inbound\":{\"dynamic_variables\":{") == a, "Retell's shape");
	ok(strstr(a, "\"caller_name\":\"Jane \\\"JJ\\\" Doe\""), "quotes escaped");
	ok(strstr(a, "\"known\":\"true\"") && strstr(a, "\"last_qualified\":\"false\""),
	   "booleans spelt out");
	ok(strstr(a, "https://example.com/pricing"), "slashes not escaped");
	a = answer_of("elevenlabs", &f);
	ok(strstr(a, "\"type\":\"conversation_initiation_client_data\"") &&
		   strstr(a, "\"dynamic_variables\":{"),
	   "ElevenLabs' shape");

	json_object *p = lookup_plain(&f, "ok");
	const char *s = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
	ok(strstr(s, "\"known\":true") && strstr(s, "\"calls\":3") &&
		   strstr(s, "\"last_audit\":{\"qualified\":false,\"reason\":null}") &&
		   strstr(s, "\"last_sms\":null") && strstr(s, "\"lookup\":\"ok\""),
	   "the plain answer: typed, groups null when empty");
	json_object_put(p);

	char out[32];
	ok(lookup_path_decode("%2B1%20555", 10, out, sizeof out) && !strcmp(out, "+1 555"),
	   "percent escapes decoded");
	ok(lookup_path_decode("555.765", 7, out, sizeof out) && !strcmp(out, "555.765"),
	   "plain text kept");
	ok(!lookup_path_decode("%2", 2, out, sizeof out), "a cut escape refused");
	ok(!lookup_path_decode("%zz", 3, out, sizeof out), "a bad escape refused");
	ok(!lookup_path_decode("a%00b", 5, out, sizeof out), "a NUL refused");
	ok(!lookup_path_decode("12345678", 8, out, 8), "too long refused");
	return done_testing();
}
