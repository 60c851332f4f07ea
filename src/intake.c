/* intake — verify, parse, map (see intake.h). */
#include "intake.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define MAX_KEY_LEN 200

static int refuse(struct intake_error *err, int status, const char *code, const char *detail)
{
	err->status = status;
	err->code = code;
	snprintf(err->detail, sizeof err->detail, "%s", detail);
	return -1;
}

/* True when the JSON text holds the escape \u0000 (a backslash-escaped backslash before
 * "u0000" is not one). Refused before parsing, whether or not the database is up, so an
 * acknowledged delivery is always one PostgreSQL can store. */
static bool has_nul_escape(const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	while ((p = memmem(p, (size_t)(end - p), "u0000", 5)) != NULL) {
		size_t slashes = 0;
		for (const char *q = p; q > body && q[-1] == '\\'; q--)
			slashes++;
		if (slashes % 2 == 1)
			return true;
		p += 5;
	}
	return false;
}

/* "sha256:<hex>" of the given bytes, in the arena. */
static const char *hash_key(struct mapped *m, const char *bytes, size_t len)
{
	unsigned char md[32];
	char hex[7 + 64 + 1] = "sha256:";
	if (!EVP_Digest(bytes, len, md, NULL, EVP_sha256(), NULL))
		return NULL;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 7 + 2 * i, 3, "%02x", md[i]);
	return rows_strdup(m, hex);
}

static int map_body(const struct platform *p, const char *body, size_t len,
		    const char *(*header)(void *ctx, const char *name), void *ctx,
		    struct mapped *out, struct intake_error *err);

int intake_request(const struct platform *p, const char *path_token, const char *body, size_t len,
		   const char *(*header)(void *ctx, const char *name), void *ctx, int64_t now_us,
		   struct mapped *out, struct intake_error *err)
{
	enum verify_result v = verify_request((int)(p - platforms), p->scheme, p->signature_header,
					      path_token, body, len, header, ctx, now_us / 1000000);
	if (v != VERIFY_OK)
		return refuse(err, 401, verify_result_name(v),
			      v == VERIFY_MISSING ? "the request is not signed"
			      : v == VERIFY_STALE ? "the signature's timestamp is too far from now"
			      : v == VERIFY_TOKEN ? "the route's token is missing or wrong"
						  : "the signature does not match");
	return map_body(p, body, len, header, ctx, out, err);
}

int intake_map(const struct platform *p, const char *body, size_t len,
	       const char *(*header)(void *ctx, const char *name), void *ctx, bool verify,
	       int64_t now_us, struct mapped *out, struct intake_error *err)
{
	if (verify)
		return intake_request(p, NULL, body, len, header, ctx, now_us, out, err);
	return map_body(p, body, len, header, ctx, out, err);
}

static int map_body(const struct platform *p, const char *body, size_t len,
		    const char *(*header)(void *ctx, const char *name), void *ctx,
		    struct mapped *out, struct intake_error *err)
{

	if (has_nul_escape(body, len))
		return refuse(err, 400, "unstorable",
			      "the body contains \\u0000, which PostgreSQL's jsonb cannot hold");

	struct json_tokener *tok = json_tokener_new_ex(INTAKE_MAX_DEPTH);
	if (!tok)
		return refuse(err, 503, "out_of_memory", "cannot parse now");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *root = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (root && used < len && strchr(" \t\r\n", body[used]))
		used++;
	if (!root || jerr != json_tokener_success || used != len) {
		json_object_put(root);
		if (jerr == json_tokener_error_parse_utf8_string)
			return refuse(err, 400, "invalid_utf8", "the body is not valid UTF-8");
		return refuse(err, 400, "invalid_json",
			      root ? "unexpected data after the JSON value"
			      : jerr == json_tokener_continue ? "the JSON is incomplete"
							      : json_tokener_error_desc(jerr));
	}
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return refuse(err, 400, "invalid_payload", "the body is not a JSON object");
	}

	struct map_input in = {root, header, ctx};
	p->map(&in, out);
	json_object_put(root);
	if (rows_finish(out) < 0)
		return refuse(err, 503, "out_of_memory", "cannot map the delivery now");

	if (!out->dedupe_key)
		out->dedupe_key = hash_key(out, body, len);
	else if (strlen(out->dedupe_key) > MAX_KEY_LEN)
		out->dedupe_key = hash_key(out, out->dedupe_key, strlen(out->dedupe_key));
	if (!out->dedupe_key)
		return refuse(err, 503, "out_of_memory", "cannot key the delivery now");
	return 0;
}
