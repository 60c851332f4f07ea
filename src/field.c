/* field — typed, lenient reads from json-c trees (see field.h). */
#include "field.h"
#include "ts.h"

#include <openssl/evp.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

json_object *field_get(json_object *obj, const char *path)
{
	char key[128];
	while (obj && path && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof key || !json_object_is_type(obj, json_type_object))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		json_object *next = NULL;
		if (!json_object_object_get_ex(obj, key, &next))
			return NULL;
		obj = next;
		path += n + (path[n] == '.');
	}
	return obj && !json_object_is_type(obj, json_type_null) ? obj : NULL;
}

bool field_null(json_object *obj, const char *path)
{
	const char *dot = strrchr(path, '.');
	json_object *parent = obj, *v = NULL;
	if (dot) {
		char head[128];
		size_t n = (size_t)(dot - path);
		if (n >= sizeof head)
			return false;
		memcpy(head, path, n);
		head[n] = '\0';
		parent = field_get(obj, head);
		path = dot + 1;
	}
	return parent && json_object_is_type(parent, json_type_object) &&
	       json_object_object_get_ex(parent, path, &v) && v == NULL;
}

const char *field_str(struct mapped *m, json_object *obj, const char *path)
{
	json_object *v = field_get(obj, path);
	if (!v)
		return NULL;
	switch (json_object_get_type(v)) {
	case json_type_string: {
		int len = json_object_get_string_len(v);
		return len > 0 ? rows_strndup(m, json_object_get_string(v), (size_t)len) : NULL;
	}
	case json_type_int:
	case json_type_double:
	case json_type_boolean:
		return rows_strdup(m, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	default:
		return NULL;
	}
}

/* Canonical text of a finite number: integers without a fraction, others with up to 15
 * significant digits. */
static const char *num_text(struct mapped *m, double d)
{
	if (!isfinite(d))
		return NULL;
	if (d == floor(d) && fabs(d) < 1e15)
		return rows_printf(m, "%.0f", d);
	return rows_printf(m, "%.15g", d);
}

/* Parses a decimal number from text; whole string, surrounding spaces allowed. */
static bool parse_number(const char *s, double *out)
{
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || strncasecmp(s, "nan", 3) == 0 || strncasecmp(s, "inf", 3) == 0 ||
	    strncasecmp(s, "-inf", 4) == 0 || strncasecmp(s, "+inf", 4) == 0 ||
	    strncasecmp(s, "0x", 2) == 0)
		return false;
	char *end = NULL;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s)
		return false;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || !isfinite(d))
		return false;
	*out = d;
	return true;
}

const char *field_num(struct mapped *m, json_object *obj, const char *path)
{
	json_object *v = field_get(obj, path);
	if (!v)
		return NULL;
	switch (json_object_get_type(v)) {
	case json_type_int:
		return rows_printf(m, "%lld", (long long)json_object_get_int64(v));
	case json_type_double:
		return num_text(m, json_object_get_double(v));
	case json_type_string: {
		double d;
		return parse_number(json_object_get_string(v), &d) ? num_text(m, d) : NULL;
	}
	default:
		return NULL;
	}
}

const char *field_bool(struct mapped *m, json_object *obj, const char *path)
{
	(void)m;
	json_object *v = field_get(obj, path);
	if (!v)
		return NULL;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) ? "true" : "false";
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v) == 1   ? "true"
		       : json_object_get_int64(v) == 0 ? "false"
						       : NULL;
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
			return "true";
		if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0"))
			return "false";
	}
	return NULL;
}

const char *field_ts(struct mapped *m, json_object *obj, const char *path)
{
	json_object *v = field_get(obj, path);
	int64_t us;
	char out[TS_LEN];
	if (!v)
		return NULL;
	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		if (!ts_from_unix(json_object_get_double(v), &us))
			return NULL;
		break;
	case json_type_string: {
		const char *s = json_object_get_string(v);
		double d;
		if (!ts_parse_iso_in(s, m->zone, &us) &&
		    !(parse_number(s, &d) && ts_from_unix(d, &us)))
			return NULL;
		break;
	}
	default:
		return NULL;
	}
	return ts_format(us, out) ? rows_strdup(m, out) : NULL;
}

const char *field_object(struct mapped *m, json_object *obj, const char *path)
{
	json_object *v = field_get(obj, path);
	if (!v || !json_object_is_type(v, json_type_object))
		return NULL;
	return rows_strdup(m, json_object_to_json_string_ext(
				      v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *field_direction(const char *s)
{
	if (!s)
		return NULL;
	/* Look at the last word: "telephony_outbound", "telephonyInbound", "OUTBOUND". */
	size_t n = strlen(s);
	if (n >= 7 && strcasecmp(s + n - 7, "inbound") == 0)
		return "inbound";
	if (n >= 8 && strcasecmp(s + n - 8, "outbound") == 0)
		return "outbound";
	if (!strcasecmp(s, "in") || !strcasecmp(s, "incoming"))
		return "inbound";
	if (!strcasecmp(s, "out") || !strcasecmp(s, "outgoing"))
		return "outbound";
	return NULL;
}

/* The text an array entry contributes to field_text_array, or NULL. */
static const char *entry_text(json_object *e, const char *key)
{
	if (key && json_object_is_type(e, json_type_object)) {
		json_object *v = NULL;
		if (!json_object_object_get_ex(e, key, &v) ||
		    !json_object_is_type(v, json_type_string))
			return NULL;
		e = v;
	}
	if (!json_object_is_type(e, json_type_string) && !json_object_is_type(e, json_type_int) &&
	    !json_object_is_type(e, json_type_double))
		return NULL;
	const char *s = json_object_get_string(e);
	return s && *s ? s : NULL;
}

const char *field_text_array(struct mapped *m, json_object *obj, const char *path, const char *key)
{
	json_object *v = field_get(obj, path);
	if (!v || !json_object_is_type(v, json_type_array))
		return NULL;
	size_t n = json_object_array_length(v), len = 3, count = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = entry_text(json_object_array_get_idx(v, i), key);
		len += s ? 2 * strlen(s) + 3 : 0;
	}
	char *out = rows_alloc(m, len), *p = out;
	if (!out)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		const char *s = entry_text(json_object_array_get_idx(v, i), key);
		if (!s)
			continue;
		if (count++)
			*p++ = ',';
		*p++ = '"';
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return count ? out : NULL;
}

const char *field_role(const char *s)
{
	static const char *const agent[] = {"agent", "assistant", "ai", "bot", "ai agent", NULL};
	static const char *const customer[] = {"user", "customer", "caller", "human", "contact",
					       "lead", "client",   "callee", NULL};
	static const char *const system[] = {"system", "tool", "function", NULL};
	if (!s)
		return "unknown";
	for (int i = 0; agent[i]; i++)
		if (!strcasecmp(s, agent[i]))
			return "agent";
	for (int i = 0; customer[i]; i++)
		if (!strcasecmp(s, customer[i]))
			return "customer";
	for (int i = 0; system[i]; i++)
		if (!strcasecmp(s, system[i]))
			return "system";
	return "unknown";
}

const char *field_digest(struct mapped *m, json_object *obj, const char *const *skip)
{
	json_object *copy = NULL;
	unsigned char md[32];
	char hex[7 + 64 + 1] = "sha256:";
	if (json_object_deep_copy(obj, &copy, NULL) != 0)
		return NULL;
	for (int i = 0; skip && skip[i]; i++) {
		const char *dot = strrchr(skip[i], '.');
		json_object *parent = copy;
		if (dot) {
			char path[128];
			snprintf(path, sizeof path, "%.*s", (int)(dot - skip[i]), skip[i]);
			parent = field_get(copy, path);
		}
		if (parent && json_object_is_type(parent, json_type_object))
			json_object_object_del(parent, dot ? dot + 1 : skip[i]);
	}
	const char *text = json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN);
	int okd = text && EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(), NULL);
	json_object_put(copy);
	if (!okd)
		return NULL;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 7 + 2 * i, 3, "%02x", md[i]);
	return rows_strdup(m, hex);
}
