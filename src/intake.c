/* intake — verify, parse, map (see intake.h). */
#include "intake.h"
#include "sources.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int refuse(struct intake_error *err, int status, const char *code, const char *detail)
{
	err->status = status;
	err->code = code;
	snprintf(err->detail, sizeof err->detail, "%s", detail);
	return -1;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no encoded surrogates, nothing past
 * U+10FFFF. json-c's own check lets the first two through, and PostgreSQL refuses them. */
static bool utf8_valid(const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len;
	while (p < end) {
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
		if (n == 0 || c > 0xF4 || (size_t)(end - p) < n)
			return false;
		unsigned cp = c & (0x7F >> n);
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += n;
	}
	return true;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i];
		int d = isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Checks a number token for PostgreSQL's numeric, which jsonb uses: at most 131072
 * digits before the decimal point and 16383 after. *p is left past the token. */
static bool numeric_fits(const char **pp, const char *end)
{
	const char *p = *pp;
	long ints = 0, fracs = 0, exp = 0;
	int sign = 1;
	if (p < end && *p == '-')
		p++;
	for (; p < end && isdigit((unsigned char)*p); p++)
		ints++;
	if (p < end && *p == '.')
		for (p++; p < end && isdigit((unsigned char)*p); p++)
			fracs++;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			sign = *p++ == '-' ? -1 : 1;
		for (; p < end && isdigit((unsigned char)*p); p++)
			if (exp < 1000000)
				exp = exp * 10 + (*p - '0');
	}
	*pp = p - 1;
	exp *= sign;
	return ints + exp <= 131072 && fracs - exp <= 16383;
}

/* Why PostgreSQL's jsonb would refuse this JSON text (already parsed by json-c, so
 * well-formed), or NULL: the escape \u0000, a UTF-16 surrogate escape without its
 * pair, a number beyond numeric's range. Checked before anything is acknowledged,
 * whether or not the database is up, so that a spooled delivery is always one the
 * database will take. */
static const char *jsonb_refusal(const char *p, size_t len, const char **code)
{
	*code = "unstorable";
	const char *end = p + len;
	bool in_str = false, want_low = false;
	for (; p < end; p++) {
		if (!in_str) {
			if (*p == '"')
				in_str = true;
			else if ((*p == '-' || isdigit((unsigned char)*p)) &&
				 !numeric_fits(&p, end))
				return "a number is beyond the range PostgreSQL's numeric can hold";
			else if (isalpha((unsigned char)*p)) {
				size_t n = 1;
				while (p + n < end && isalpha((unsigned char)p[n]))
					n++;
				if (!(n == 4 && !memcmp(p, "true", 4)) &&
				    !(n == 5 && !memcmp(p, "false", 5)) &&
				    !(n == 4 && !memcmp(p, "null", 4))) {
					*code = "invalid_json"; /* json-c is lenient here */
					return "a bare word that JSON does not have (NaN, Infinity, ...)";
				}
				p += n - 1;
			}
			continue;
		}
		if (*p == '\\' && p + 1 < end && p[1] == 'u' && end - p >= 6) {
			int v = hex4(p + 2);
			p += 5;
			if (v == 0)
				return "\\u0000 cannot be stored in PostgreSQL's jsonb";
			bool high = v >= 0xD800 && v <= 0xDBFF, low = v >= 0xDC00 && v <= 0xDFFF;
			if (want_low != low || (want_low && high))
				return "a UTF-16 surrogate escape is not paired";
			want_low = high;
			continue;
		}
		if (want_low)
			return "a UTF-16 surrogate escape is not paired";
		if (*p == '\\')
			p++;
		else if (*p == '"')
			in_str = false;
	}
	return NULL;
}

/* Parses and maps; zone is the one of the platform's (or the source's) local times. */
static int map_body(const struct platform *p, const struct tz *zone, const char *body, size_t len,
		    const char *(*header)(void *ctx, const char *name), void *ctx,
		    struct mapped *out, struct intake_error *err);

/* The checks of keys (a source's) over the raw body. 0, or -1 with err filled. */
static int verify_with(const struct platform *p, const struct verify_keys *keys,
		       bool refuse_unsigned, const char *path_token, const char *body, size_t len,
		       const char *(*header)(void *ctx, const char *name), void *ctx,
		       int64_t now_us, struct intake_error *err)
{
	if (refuse_unsigned)
		return refuse(err, 401, "signature_missing",
			      "this source has no secret or token: set one in the sources file, or "
			      "insecure = true");
	enum verify_result v = verify_keys_request(keys, p->scheme, p->signature_header, path_token,
						   body, len, header, ctx, now_us / 1000000);
	if (v == VERIFY_OK)
		return 0;
	return refuse(err, 401, verify_result_name(v),
		      v == VERIFY_MISSING ? "the request is not signed"
		      : v == VERIFY_STALE ? "the signature's timestamp is too far from now"
		      : v == VERIFY_TOKEN ? "the route's token is missing or wrong"
					  : "the signature does not match");
}

int intake_request(const struct source *src, const char *path_token, const char *body, size_t len,
		   const char *(*header)(void *ctx, const char *name), void *ctx, int64_t now_us,
		   struct mapped *out, struct intake_error *err)
{
	const struct platform *p = src->platform;
	if (verify_with(p, src->keys, src->refuse_unsigned, path_token, body, len, header, ctx,
			now_us, err) < 0)
		return -1;
	return map_body(p, sources_zone(src), body, len, header, ctx, out, err);
}

int intake_map_source(const struct platform *p, const char *source, const char *body, size_t len,
		      struct mapped *out, struct intake_error *err)
{
	struct sources *set = sources_acquire(); /* holds the zone while mapping */
	const struct source *src = set ? sources_find(set, p, source, strlen(source)) : NULL;
	const struct tz *zone = src ? sources_zone(src) : platform_zone(p);
	int rc = map_body(p, zone, body, len, NULL, NULL, out, err);
	sources_release(set);
	return rc;
}

int intake_map(const struct platform *p, const char *body, size_t len,
	       const char *(*header)(void *ctx, const char *name), void *ctx, bool verify,
	       int64_t now_us, struct mapped *out, struct intake_error *err)
{
	if (verify && verify_with(p, verify_default((int)(p - platforms)), false, NULL, body, len,
				  header, ctx, now_us, err) < 0)
		return -1;
	return map_body(p, platform_zone(p), body, len, header, ctx, out, err);
}

static int map_body(const struct platform *p, const struct tz *zone, const char *body, size_t len,
		    const char *(*header)(void *ctx, const char *name), void *ctx,
		    struct mapped *out, struct intake_error *err)
{

	if (!utf8_valid((const unsigned char *)body, len))
		return refuse(err, 400, "invalid_utf8", "the body is not valid UTF-8");

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
	const char *code;
	const char *why = jsonb_refusal(body, len, &code);
	if (why) {
		json_object_put(root);
		return refuse(err, 400, code, why);
	}

	struct map_input in = {root, header, ctx, zone};
	out->zone = in.zone;
	p->map(&in, out);
	json_object_put(root);
	if (rows_finish(out) < 0)
		return refuse(err, 503, "out_of_memory", "cannot map the delivery now");

	/* The key is bounded like every indexed value (see ROWS_MAX_KEY_LEN). */
	if (!out->dedupe_key)
		out->dedupe_key = rows_digest(out, body, len);
	else
		out->dedupe_key = rows_bound_key(out, out->dedupe_key);
	if (!out->dedupe_key)
		return refuse(err, 503, "out_of_memory", "cannot key the delivery now");
	return 0;
}
