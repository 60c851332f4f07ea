/* Lenient typed reads from JSON: wrong types read as absent, never fail. */
#include "field.h"
#include "harness.h"

int main(void)
{
	struct mapped m = {0};
	json_object *o = json_tokener_parse(
		"{\"s\":\"text\",\"e\":\"\",\"n\":132,\"f\":61.5,\"ns\":\" 47 \",\"bad\":\"12abc\","
		"\"b\":true,\"bs\":\"FALSE\",\"nul\":null,\"obj\":{\"k\":\"v\",\"deep\":{\"x\":1}},"
		"\"arr\":[\"a\",\"b\\\"q\",7,null,{}],\"empty\":[],\"ts\":\"2026-05-19T15:02:14Z\","
		"\"unix\":1779202001,\"big\":1e400,\"attempt\":2,\"p\":{\"attempt\":3,\"id\":\"x\"}}");
	ok(o != NULL, "fixture parses");
	is_str(field_str(&m, o, "s"), "text", "string");
	is_str(field_str(&m, o, "e"), NULL, "empty string reads absent");
	is_str(field_str(&m, o, "n"), "132", "number as text");
	is_str(field_str(&m, o, "nul"), NULL, "null reads absent");
	is_str(field_str(&m, o, "obj"), NULL, "object is not a string");
	is_str(field_str(&m, o, "missing"), NULL, "missing");
	is_str(field_str(&m, o, "obj.k"), "v", "dotted path");
	is_str(field_str(&m, o, "s.k"), NULL, "path through a string");
	is_str(field_num(&m, o, "n"), "132", "integer");
	is_str(field_num(&m, o, "f"), "61.5", "float");
	is_str(field_num(&m, o, "ns"), "47", "number in a string, spaces around");
	is_str(field_num(&m, o, "bad"), NULL, "not a number");
	is_str(field_num(&m, o, "s"), NULL, "text is not a number");
	is_str(field_bool(&m, o, "b"), "true", "boolean");
	is_str(field_bool(&m, o, "bs"), "false", "boolean in a string");
	is_str(field_bool(&m, o, "s"), NULL, "text is not a boolean");
	is_str(field_ts(&m, o, "ts"), "2026-05-19T15:02:14.000000Z", "ISO time");
	is_str(field_ts(&m, o, "unix"), "2026-05-19T14:46:41.000000Z", "unix time");
	is_str(field_ts(&m, o, "s"), NULL, "text is not a time");
	is_str(field_object(&m, o, "obj"), "{\"k\":\"v\",\"deep\":{\"x\":1}}",
	       "object as compact JSON");
	is_str(field_object(&m, o, "arr"), NULL, "array is not an object");
	is_str(field_text_array(&m, o, "arr", NULL), "{\"a\",\"b\\\"q\",\"7\"}",
	       "array literal, quotes escaped, non-strings skipped");
	is_str(field_text_array(&m, o, "empty", NULL), NULL, "empty array reads absent");
	is_str(field_direction("Outbound"), "outbound", "Outbound");
	is_str(field_direction("INBOUND"), "inbound", "INBOUND");
	is_str(field_direction("telephony_outbound"), "outbound", "telephony_outbound");
	is_str(field_direction("telephonyInbound"), "inbound", "telephonyInbound");
	is_str(field_direction("sideways"), NULL, "unknown direction");
	is_str(field_role("USER"), "customer", "USER is the customer");
	is_str(field_role("assistant"), "agent", "assistant is the agent");
	is_str(field_role("narrator"), "unknown", "unknown role");
	const char *skip[] = {"attempt", "p.attempt", NULL};
	const char *d1 = field_digest(&m, o, skip);
	json_object_object_add(o, "attempt", json_object_new_int(9));
	json_object_object_add(field_get(o, "p"), "attempt", json_object_new_int(10));
	is_str(field_digest(&m, o, skip), d1, "digest ignores skipped paths");
	json_object_object_add(field_get(o, "p"), "id", json_object_new_string("y"));
	ok(strcmp(field_digest(&m, o, skip), d1) != 0, "digest sees other changes");
	json_object_put(o);

	/* field_null: an explicit null, not an absent field. */
	o = json_tokener_parse("{\"a\":null,\"b\":1,\"c\":{\"d\":null,\"e\":\"\"}}");
	ok(field_null(o, "a"), "a null is null");
	ok(!field_null(o, "b") && !field_null(o, "zz"), "a value, or an absent field, is not");
	ok(field_null(o, "c.d") && !field_null(o, "c.e") && !field_null(o, "c.f"),
	   "a dotted path: null, empty string, absent");
	ok(!field_null(o, "b.x") && !field_null(NULL, "a"),
	   "under a non-object, or no object: not");
	json_object_put(o);
	rows_free(&m);
	return done_testing();
}
