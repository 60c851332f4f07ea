/* sources — the sources file and the set of sources in force (see sources.h). */
#include "sources.h"
#include "config.h"
#include "log.h"
#include "platform.h"
#include "tz.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* ---- parsing (pure) ---- */

enum key { K_SECRET, K_TOKEN, K_PATH_TOKEN, K_BEARER, K_SIGNATURE, K_TIMEZONE, K_NTEXT };

static const char *const text_keys[K_NTEXT] = {"secret",       "token",     "path_token",
					       "bearer_token", "signature", "timezone"};

bool sources_valid_name(const char *name, size_t len)
{
	if (len < 1 || len > SOURCE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static char **text_slot(struct sources_section *s, int k)
{
	char **slots[K_NTEXT] = {&s->secret,       &s->token,     &s->path_token,
				 &s->bearer_token, &s->signature, &s->timezone};
	return slots[k];
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* The value after '=': a quoted value is taken as it is between its quotes; otherwise a
 * ';' or '#' after white space begins a comment. NULL when a quote is not closed. */
static char *value_of(char *v)
{
	v = trim(v);
	if (*v == '"' || *v == '\'') {
		char *end = strrchr(v + 1, *v);
		if (!end)
			return NULL;
		char *rest = trim(end + 1);
		if (*rest && *rest != ';' && *rest != '#')
			return NULL;
		*end = '\0';
		return v + 1;
	}
	for (char *p = v; *p; p++)
		if ((*p == ';' || *p == '#') && (p == v || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	return trim(v);
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
										    "off", "0"};
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]))
			return *out = true, true;
		if (!strcasecmp(v, no[i]))
			return *out = false, true;
	}
	return false;
}

void sources_sections_free(struct sources_section *s, int n)
{
	for (int i = 0; s && i < n; i++)
		for (int k = 0; k < K_NTEXT; k++) {
			char **slot = text_slot(&s[i], k);
			if (*slot) {
				OPENSSL_cleanse(*slot, strlen(*slot));
				free(*slot);
			}
		}
	free(s);
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		int off_ = snprintf(err, errlen, "%s:%d: ", file, lineno);                         \
		if (off_ > 0 && (size_t)off_ < errlen)                                             \
			snprintf(err + off_, errlen - (size_t)off_, __VA_ARGS__);                  \
		goto fail;                                                                         \
	} while (0)

int sources_parse(const char *file, const char *text, struct sources_section **out, int *nout,
		  char *err, size_t errlen)
{
	struct sources_section *secs = NULL;
	int n = 0, lineno = 0;
	char *copy = strdup(text);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		char *s = trim(line);
		if (lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3)) /* a byte order mark */
			s = trim(s + 3);
		if (!*s || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || *trim(end + 1))
				FAIL("a section is [<platform>.<source>] alone on its line");
			*end = '\0';
			char *name = trim(s + 1), *dot = strchr(name, '.');
			if (!dot)
				FAIL("[%s]: a section is [<platform>.<source>], e.g. [simpleai.acme]",
				     name);
			const struct platform *p = platform_find(name, (size_t)(dot - name));
			if (!p)
				FAIL("[%s]: no platform '%.*s' (callbridge platforms lists them)",
				     name, (int)(dot - name), name);
			const char *src = dot + 1;
			if (!sources_valid_name(src, strlen(src)))
				FAIL("[%s]: a source name is 1 to 64 of a-z, 0-9, _ and -", name);
			if (!strcmp(src, "default"))
				FAIL("[%s]: 'default' is the source of /webhooks/%s, configured by "
				     "CALLBRIDGE_*_ variables; name this one otherwise",
				     name, p->slug);
			for (int i = 0; i < n; i++)
				if (secs[i].platform == (int)(p - platforms) &&
				    !strcmp(secs[i].name, src))
					FAIL("[%s]: already defined on line %d", name,
					     secs[i].line);
			if (n == SOURCES_MAX)
				FAIL("more than %d sources", SOURCES_MAX);
			struct sources_section *grown =
				realloc(secs, (size_t)(n + 1) * sizeof *secs);
			if (!grown)
				FAIL("out of memory");
			secs = grown;
			secs[n] = (struct sources_section){.line = lineno,
							   .platform = (int)(p - platforms)};
			snprintf(secs[n].name, sizeof secs[n].name, "%s", src);
			n++;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq)
			FAIL("expected key = value or [<platform>.<source>]");
		*eq = '\0';
		char *key = trim(s), *val = value_of(eq + 1);
		if (!n)
			FAIL("'%s' before any [<platform>.<source>] section", key);
		if (!val)
			FAIL("%s: a quoted value is not closed, or text follows it", key);
		struct sources_section *sec = &secs[n - 1];
		int k;
		for (k = 0; k < K_NTEXT && strcmp(key, text_keys[k]); k++)
			;
		if (k < K_NTEXT) {
			char **slot = text_slot(sec, k);
			if (*slot)
				FAIL("%s: set twice in [%s.%s] (line %d)", key,
				     platforms[sec->platform].slug, sec->name, sec->value_line[k]);
			if (!*val)
				FAIL("%s: empty", key);
			if (!(*slot = strdup(val)))
				FAIL("out of memory");
			sec->value_line[k] = lineno;
		} else if (!strcmp(key, "tolerance")) {
			char *end;
			errno = 0;
			long t = strtol(val, &end, 10);
			if (errno || *end || t < 1 || t > 86400)
				FAIL("tolerance: '%s' is not a number of seconds from 1 to 86400",
				     val);
			sec->tolerance = (int)t;
		} else if (!strcmp(key, "insecure")) {
			if (!parse_bool(val, &sec->insecure))
				FAIL("insecure: '%s' is not true or false", val);
		} else if (!strcmp(key, "precall_scope")) {
			if (strcmp(val, "all") && strcmp(val, "source"))
				FAIL("precall_scope: '%s' is not all or source", val);
			sec->own_rows_only = !strcmp(val, "source");
		} else {
			FAIL("unknown key '%s' (known: secret, token, path_token, bearer_token, "
			     "signature, tolerance, insecure, precall_scope, timezone)",
			     key);
		}
	}
	OPENSSL_cleanse(copy, strlen(text));
	free(copy);
	*out = secs;
	*nout = n;
	return 0;
fail:
	OPENSSL_cleanse(copy, strlen(text));
	free(copy);
	sources_sections_free(secs, n);
	return -1;
}
#undef FAIL

/* ---- the set ---- */

struct sources {
	int refs; /* under mu */
	int n;
	struct source *v;
	struct verify_keys **keys; /* the file's sources' own, n entries (NULL for defaults) */
	struct tz **zones;         /* the file's sources' own time zones, n entries, or NULL */
	char **strings;            /* what the sources' const char * point to */
	int nstrings;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct sources *current;

static void set_free(struct sources *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++) {
		if (s->keys)
			verify_keys_free(&s->keys[i]);
		if (s->zones)
			tz_free(s->zones[i]);
	}
	free(s->zones);
	for (int i = 0; i < s->nstrings; i++) {
		OPENSSL_cleanse(s->strings[i], strlen(s->strings[i]));
		free(s->strings[i]);
	}
	free(s->strings);
	free(s->keys);
	free(s->v);
	free(s);
}

static const char *keep(struct sources *s, char *str)
{
	char **grown = str ? realloc(s->strings, (size_t)(s->nstrings + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(str);
		return NULL;
	}
	s->strings = grown;
	s->strings[s->nstrings++] = str;
	return str;
}

/* A value as written, or what env:NAME or file:PATH holds (one trailing newline
 * dropped). malloc'd; NULL with err filled. */
static char *resolve_one(const char *file, int line, const char *key, const char *v, char *err,
			 size_t errlen)
{
	if (!strncmp(v, "env:", 4)) {
		const char *e = cfg_lookup(v + 4);
		if (!e || !*e) {
			snprintf(err, errlen, "%s:%d: %s: %s is not set", file, line, key, v + 4);
			return NULL;
		}
		char *c = strdup(e);
		if (!c)
			snprintf(err, errlen, "%s:%d: out of memory", file, line);
		return c;
	}
	if (!strncmp(v, "file:", 5)) {
		FILE *f = fopen(v + 5, "r");
		char buf[4096];
		size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		bool bad = !f || ferror(f) || n == sizeof buf - 1;
		if (f)
			fclose(f);
		if (bad) {
			snprintf(err, errlen, "%s:%d: %s: cannot read %s%s", file, line, key, v + 5,
				 n == sizeof buf - 1 ? " (over 4 KiB)" : "");
			OPENSSL_cleanse(buf, sizeof buf);
			return NULL;
		}
		buf[n] = '\0';
		if (n && buf[n - 1] == '\n')
			buf[--n] = '\0';
		if (n && buf[n - 1] == '\r')
			buf[--n] = '\0';
		char *c = n ? strdup(buf) : NULL;
		OPENSSL_cleanse(buf, sizeof buf);
		if (!c)
			snprintf(err, errlen, "%s:%d: %s: %s", file, line, key,
				 n ? "out of memory" : "the file is empty");
		return c;
	}
	char *c = strdup(v);
	if (!c)
		snprintf(err, errlen, "%s:%d: out of memory", file, line);
	return c;
}

/* A comma-separated list whose items may each be env:/file:, resolved and joined. */
static char *resolve_list(const char *file, int line, const char *key, const char *v, char *err,
			  size_t errlen)
{
	size_t cap = 1, len = 0;
	char *out = calloc(1, 1);
	for (const char *p = v; out && *p;) {
		size_t n = strcspn(p, ",");
		char item[4200];
		snprintf(item, sizeof item, "%.*s", (int)n, p);
		p += n + (p[n] == ',');
		char *t = trim(item);
		if (!*t)
			continue;
		char *r = resolve_one(file, line, key, t, err, errlen);
		OPENSSL_cleanse(item, sizeof item);
		if (!r) {
			OPENSSL_cleanse(out, cap);
			free(out);
			return NULL;
		}
		size_t rl = strlen(r);
		char *grown = realloc(out, cap + rl + 1);
		if (!grown) {
			OPENSSL_cleanse(r, rl);
			free(r);
			break;
		}
		out = grown;
		cap += rl + 1;
		if (len)
			out[len++] = ',';
		memcpy(out + len, r, rl + 1);
		len += rl;
		OPENSSL_cleanse(r, rl);
		free(r);
	}
	if (!out)
		snprintf(err, errlen, "%s:%d: out of memory", file, line);
	return out;
}

/* The file's text; NULL with err filled. */
static char *read_text(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n - 1, f);
		if (ferror(f) || n < cap - 1)
			break;
		if (cap >= (size_t)4 << 20) {
			snprintf(err, errlen, "%s: larger than 4 MiB", path);
			free(buf);
			fclose(f);
			return NULL;
		}
		char *grown = realloc(buf, cap *= 2);
		if (!grown)
			free(buf);
		buf = grown;
	}
	bool bad = !buf || ferror(f);
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: cannot read it", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* One source of the file, its values resolved, into s->v[i]. */
static int add_file_source(struct sources *s, int i, const char *path,
			   const struct sources_section *sec, char *err, size_t errlen)
{
	const struct platform *p = &platforms[sec->platform];
	struct source *src = &s->v[i];
	*src = (struct source){
		.platform = p, .insecure = sec->insecure, .own_rows_only = sec->own_rows_only};
	snprintf(src->name, sizeof src->name, "%s", sec->name);
	char what[160];
	snprintf(what, sizeof what, "%s:%d: [%s.%s]", path, sec->line, p->slug, sec->name);
	char *secret = NULL, *pt = NULL, *bearer = NULL, *token = NULL;
	int rc = -1;
	if ((sec->secret && !(secret = resolve_list(path, sec->value_line[K_SECRET], "secret",
						    sec->secret, err, errlen))) ||
	    (sec->path_token && !(pt = resolve_one(path, sec->value_line[K_PATH_TOKEN],
						   "path_token", sec->path_token, err, errlen))) ||
	    (sec->bearer_token &&
	     !(bearer = resolve_one(path, sec->value_line[K_BEARER], "bearer_token",
				    sec->bearer_token, err, errlen))) ||
	    (sec->token && !(token = resolve_one(path, sec->value_line[K_TOKEN], "token",
						 sec->token, err, errlen))))
		goto done;
	struct verify_settings set = {.signature = sec->signature,
				      .secrets = secret,
				      .path_token = pt,
				      .bearer = bearer,
				      .tolerance = sec->tolerance,
				      .sig_suffix = " signature",
				      .secret_suffix = " secret"};
	if (!(s->keys[i] = verify_keys_new())) {
		snprintf(err, errlen, "%s: out of memory", what);
		goto done;
	}
	if (verify_keys_set(s->keys[i], what, p->scheme, &set, err, errlen) < 0)
		goto done;
	src->keys = s->keys[i];
	src->refuse_unsigned = !sec->insecure && !verify_keys_required(src->keys);
	if (token && !(src->precall_token = keep(s, token))) {
		token = NULL;
		snprintf(err, errlen, "%s: out of memory", what);
		goto done;
	}
	token = NULL;
	if (sec->timezone) {
		char why[200];
		if (!(s->zones[i] = tz_load(sec->timezone, why, sizeof why))) {
			snprintf(err, errlen, "%s:%d: timezone: %s", path,
				 sec->value_line[K_TIMEZONE], why);
			goto done;
		}
		src->zone = s->zones[i];
	}
	rc = 0;
done:;
	char *held[] = {secret, pt, bearer, token};
	for (int k = 0; k < 4; k++)
		if (held[k]) {
			OPENSSL_cleanse(held[k], strlen(held[k]));
			free(held[k]);
		}
	return rc;
}

struct sources *sources_load(const char *path, char *err, size_t errlen)
{
	struct sources_section *secs = NULL;
	int nsec = 0;
	if (path && !*path) /* empty is unset, as a compose file passes it */
		path = NULL;
	if (path) {
		char *text = read_text(path, err, errlen);
		if (!text)
			return NULL;
		int rc = sources_parse(path, text, &secs, &nsec, err, errlen);
		OPENSSL_cleanse(text, strlen(text));
		free(text);
		if (rc < 0)
			return NULL;
	}
	struct sources *s = calloc(1, sizeof *s);
	int total = platform_count + nsec;
	if (s) {
		s->v = calloc((size_t)total, sizeof *s->v);
		s->keys = calloc((size_t)total, sizeof *s->keys);
		s->zones = calloc((size_t)total, sizeof *s->zones);
	}
	if (!s || !s->v || !s->keys || !s->zones) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->refs = 1;
	for (int i = 0; i < platform_count; i++) {
		s->v[i] = (struct source){.platform = &platforms[i], .keys = verify_default(i)};
		snprintf(s->v[i].name, sizeof s->v[i].name, "default");
	}
	s->n = platform_count;
	for (int i = 0; i < nsec; i++, s->n++)
		if (add_file_source(s, platform_count + i, path, &secs[i], err, errlen) < 0) {
			s->n++; /* what it allocated is freed with the rest */
			goto fail;
		}
	sources_sections_free(secs, nsec);
	for (int i = 0; i < s->n; i++)
		s->v[i].label = sources_label_id(s->v[i].name);
	return s;
fail:
	sources_sections_free(secs, nsec);
	set_free(s);
	return NULL;
}

void sources_install(struct sources *s)
{
	pthread_mutex_lock(&mu);
	struct sources *old = current;
	current = s;
	bool last = old && --old->refs == 0;
	pthread_mutex_unlock(&mu);
	if (last)
		set_free(old);
}

int sources_reload(const char *path, char *err, size_t errlen)
{
	struct sources *s = sources_load(path, err, errlen);
	if (!s)
		return -1;
	sources_install(s);
	return 0;
}

struct sources *sources_acquire(void)
{
	pthread_mutex_lock(&mu);
	if (!current) { /* before sources_install (a tool, a test): the platforms' defaults */
		pthread_mutex_unlock(&mu);
		char err[128];
		struct sources *d = sources_load(NULL, err, sizeof err);
		pthread_mutex_lock(&mu);
		if (!current) {
			current = d;
			d = NULL;
		}
		pthread_mutex_unlock(&mu);
		set_free(d); /* another thread installed one first */
		pthread_mutex_lock(&mu);
	}
	struct sources *s = current;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&mu);
	return s;
}

void sources_release(struct sources *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&mu);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&mu);
	if (last)
		set_free(s);
}

void sources_shutdown(void)
{
	sources_install(NULL);
}

const struct source *sources_find(const struct sources *s, const struct platform *p,
				  const char *name, size_t len)
{
	for (int i = 0; s && i < s->n; i++)
		if (s->v[i].platform == p && strlen(s->v[i].name) == len &&
		    !memcmp(s->v[i].name, name, len))
			return &s->v[i];
	return NULL;
}

const struct source *sources_default(const struct sources *s, const struct platform *p)
{
	return &s->v[p - platforms];
}

const struct tz *sources_zone(const struct source *src)
{
	return src->zone ? src->zone : platform_zone(src->platform);
}

const struct source *sources_at(const struct sources *s, int i)
{
	return s && i >= 0 && i < s->n ? &s->v[i] : NULL;
}

/* ---- metric labels ---- */

static char labels[SOURCES_MAX + 1][SOURCE_NAME_MAX + 1] = {"default"};
static int nlabels = 1;

int sources_label_id(const char *name)
{
	int id = -1;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < nlabels && id < 0; i++)
		if (!strcmp(labels[i], name))
			id = i;
	if (id < 0 && nlabels <= SOURCES_MAX) {
		snprintf(labels[nlabels], sizeof labels[nlabels], "%s", name);
		id = nlabels++;
	}
	pthread_mutex_unlock(&mu);
	return id;
}

const char *sources_label_name(int id)
{
	pthread_mutex_lock(&mu);
	const char *n = id >= 0 && id < nlabels ? labels[id] : NULL;
	pthread_mutex_unlock(&mu);
	return n;
}
