/* config — the settings table and its loader (see config.h). */
#include "config.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

extern char **environ;

enum cfg_type { CFG_STR, CFG_INT, CFG_LONG, CFG_ENUM };

struct cfg_entry {
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def; /* NULL: unset by default */
	long long min, max;
	const char *const *choices; /* CFG_ENUM: NULL-terminated names, stored as index */
	const char *meaning;
};

static const char *const level_choices[] = {"debug", "info", "notice", "warn", "error", NULL};
static const char *const format_choices[] = {"text", "json", NULL};
static const char *const pooler_choices[] = {"auto", "transaction", "session", NULL};

#define F(field) offsetof(struct config, field)
static const struct cfg_entry table[] = {
	{"DATABASE_URL", CFG_STR, F(database_url), NULL, 0, 0, NULL,
	 "libpq URI or conninfo (`make run` starts a local PostgreSQL and sets it)"},
	{"PORT", CFG_INT, F(port), "8080", 1, 65535, NULL, "HTTP port"},
	{"CALLBRIDGE_LISTEN", CFG_STR, F(listen), "0.0.0.0", 0, 0, NULL, "bind address"},
	{"CALLBRIDGE_MAX_BODY_BYTES", CFG_LONG, F(max_body_bytes), "1048576", 1024, 67108864, NULL,
	 "larger bodies get 413"},
	{"CALLBRIDGE_ADMIN_LISTEN", CFG_STR, F(admin_listen), NULL, 0, 0, NULL,
	 "`HOST:PORT` (e.g. `127.0.0.1:9091`): serve `/metrics`, `/readyz`, `/healthz` and the status page `/status` there, and only `/healthz` of them on the public port; unset: `/healthz`, `/readyz` and `/metrics` on the public port, no status page"},
	{"CALLBRIDGE_TLS_CERT_FILE", CFG_STR, F(tls_cert_file), NULL, 0, 0, NULL,
	 "PEM certificate chain: serve HTTPS instead of HTTP (with CALLBRIDGE_TLS_KEY_FILE)"},
	{"CALLBRIDGE_TLS_KEY_FILE", CFG_STR, F(tls_key_file), NULL, 0, 0, NULL,
	 "PEM private key of the certificate"},
	{"CALLBRIDGE_LOG_LEVEL", CFG_ENUM, F(log_level), "notice", 0, 0, level_choices,
	 "`debug`, `info` (adds a line per delivery), `notice`, `warn` or `error`"},
	{"CALLBRIDGE_LOG_FORMAT", CFG_ENUM, F(log_format), "text", 0, 0, format_choices,
	 "`text` or `json` (one object per line)"},
	{"CALLBRIDGE_BATCH_MAX", CFG_INT, F(batch_max), "256", 1, 10000, NULL,
	 "most deliveries committed in one transaction (group commit)"},
	{"CALLBRIDGE_DB_CONNECTIONS", CFG_INT, F(db_connections), "2", 1, 64, NULL,
	 "PostgreSQL connections; while a batch is in flight, another starts once as many "
	 "deliveries wait, or when it is slower than 50 ms (a lock, a slow disk)"},
	{"CALLBRIDGE_MAX_INFLIGHT", CFG_INT, F(max_inflight), "4096", 1, 1000000, NULL,
	 "deliveries waiting for the database at once; past it, 503 at once"},
	{"CALLBRIDGE_RETRY_AFTER_SECONDS", CFG_INT, F(retry_after_seconds), "5", 1, 3600, NULL,
	 "`Retry-After` sent with 503"},
	{"CALLBRIDGE_DB_POOLER", CFG_ENUM, F(db_pooler), "auto", 0, 0, pooler_choices,
	 "what DATABASE_URL reaches: `transaction` for a transaction-mode pooler (PgBouncer, Supabase's or Neon's pooled port): unnamed statements, no session state; `session` for PostgreSQL or a session pooler; `auto`: prepared statements until the database shows the connection is shared, then unnamed"},
	{"CALLBRIDGE_DB_CONNECT_TIMEOUT_SECONDS", CFG_INT, F(db_connect_timeout_seconds), "5", 1,
	 300, NULL, "give up a connection attempt to PostgreSQL after this long"},
	{"CALLBRIDGE_DB_RECONNECT_MAX_SECONDS", CFG_INT, F(db_reconnect_max_seconds), "10", 1, 3600,
	 NULL, "longest wait between reconnection attempts (backoff doubles from 0.1 s)"},
	{"CALLBRIDGE_COMMIT_DEADLINE_MS", CFG_INT, F(commit_deadline_ms), "2000", 100, 60000, NULL,
	 "deliveries not committed this long after reaching the writer (a hung COMMIT) are spooled and answered, marked maybe stored (no spool: 503)"},
	{"CALLBRIDGE_READY_DB_DOWN_SECONDS", CFG_INT, F(ready_db_down_seconds), "0", 0, 86400, NULL,
	 "`/readyz` answers 503 once no database connection has been ready for this long, so a load balancer moves senders to instances that have one; 0: never for that alone (the spool takes deliveries)"},
	{"CALLBRIDGE_MAX_CONNECTIONS", CFG_INT, F(max_connections), "1000", 1, 1000000, NULL,
	 "client connections at once (sets the open-files limit to this + 64); past it, new ones wait in the listen queue"},
	{"CALLBRIDGE_WORKERS", CFG_INT, F(workers), "1", 1, 64, NULL,
	 "event loops receiving HTTP on the port (`SO_REUSEPORT`); one writer loop commits for all"},
	{"CALLBRIDGE_READ_TIMEOUT_SECONDS", CFG_INT, F(read_timeout_seconds), "30", 1, 3600, NULL,
	 "close a client connection idle or slow for this long"},
	{"CALLBRIDGE_SIGNATURE_TOLERANCE_SECONDS", CFG_INT, F(signature_tolerance_seconds), "300",
	 1, 86400, NULL, "timestamped signatures further than this from our clock are refused"},
	{"CALLBRIDGE_SOURCES_FILE", CFG_STR, F(sources_file), NULL, 0, 0, NULL,
	 "sources file (docs/sources.md): several accounts per platform, each with its route `/webhooks/<slug>/<source>`, secrets and tag on every row; SIGHUP reloads it; empty: none"},
	{"CALLBRIDGE_PRECALL_BUDGET_MS", CFG_INT, F(precall_budget_ms), "300", 10, 10000, NULL,
	 "a pre-call lookup not answered by the database this long after it arrived is answered as an unknown caller; with the database away, at once"},
	{"CALLBRIDGE_RAW_RETENTION_DAYS", CFG_INT, F(raw_retention_days), "0", 0, 36500, NULL,
	 "raw payloads (`webhook_events`) and pre-call lookup records older than this many days are removed by the daemon every `CALLBRIDGE_MAINTENANCE_INTERVAL_SECONDS` and by `callbridge prune`; 0: kept for ever"},
	{"CALLBRIDGE_DEDUPE_WINDOW_DAYS", CFG_INT, F(dedupe_window_days), "30", 1, 36500, NULL,
	 "with a raw retention set, de-duplication keys are kept for the longer of it and this, so a retry this late is still answered as a duplicate"},
	{"CALLBRIDGE_PARTITIONS_AHEAD_DAYS", CFG_INT, F(partitions_ahead_days), "7", 1, 366, NULL,
	 "day partitions of `webhook_events` made ahead of time (a day without one still takes deliveries, in the default partition)"},
	{"CALLBRIDGE_MAINTENANCE_INTERVAL_SECONDS", CFG_INT, F(maintenance_interval_seconds),
	 "3600", 10, 86400, NULL,
	 "how often the daemon makes partitions ahead and applies the retention"},
	{"CALLBRIDGE_PRUNE_BATCH", CFG_INT, F(prune_batch), "2000", 1, 1000000, NULL,
	 "rows deleted per transaction by the retention (`callbridge forget` is one transaction)"},
	{"CALLBRIDGE_PRUNE_LOCK_TIMEOUT_MS", CFG_INT, F(prune_lock_timeout_ms), "200", 10, 60000,
	 NULL,
	 "longest wait of a retention step for a lock (dropping a partition waits for the writes in flight, and writes wait behind it); on timeout it tries again later"},
	{"CALLBRIDGE_SPOOL_DIR", CFG_STR, F(spool_dir), "var/spool", 0, 0, NULL,
	 "while PostgreSQL is away, deliveries are fsync'd here and acknowledged; empty: answer 503 instead"},
	{"CALLBRIDGE_SPOOL_MAX_BYTES", CFG_LONG, F(spool_max_bytes), "1073741824", 1048576,
	 1099511627776LL, NULL, "when the spool holds this much, 503 again"},
	{"CALLBRIDGE_SHUTDOWN_TIMEOUT_SECONDS", CFG_INT, F(shutdown_timeout_seconds), "30", 1, 3600,
	 NULL, "on SIGTERM/SIGINT, longest wait for deliveries in flight"},
};
#undef F

/* ---- .env ---- */

struct dotenv_var {
	char *name;
	char *value;
};
static struct dotenv_var *dotenv;
static size_t dotenv_len;

/* Parses KEY=VALUE lines; `export ` prefixes, blank lines and # comments are allowed,
 * and values may be wrapped in single or double quotes. */
static int dotenv_read(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT
			       ? 0
			       : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
	char line[8192];
	int lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *s = line;
		size_t n = strcspn(s, "\r\n");
		s[n] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		if (strncmp(s, "export ", 7) == 0)
			s += 7;
		char *eq = strchr(s, '=');
		if (!eq || eq == s) {
			snprintf(err, errlen, "%s:%d: expected NAME=value", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *val = eq + 1;
		size_t vl = strlen(val);
		if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
			val[vl - 1] = '\0';
			val++;
		}
		struct dotenv_var *grown = realloc(dotenv, (dotenv_len + 1) * sizeof *dotenv);
		if (!grown) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		dotenv = grown;
		dotenv[dotenv_len].name = strdup(s);
		dotenv[dotenv_len].value = strdup(val);
		if (!dotenv[dotenv_len].name || !dotenv[dotenv_len].value) {
			free(dotenv[dotenv_len].name);
			free(dotenv[dotenv_len].value);
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		dotenv_len++;
	}
	fclose(f);
	return rc;
}

const char *cfg_lookup(const char *name)
{
	const char *v = getenv(name);
	if (v)
		return v;
	for (size_t i = dotenv_len; i-- > 0;)
		if (strcmp(dotenv[i].name, name) == 0)
			return dotenv[i].value;
	return NULL;
}

static int set_entry(struct config *cfg, const struct cfg_entry *e, const char *val, char *err,
		     size_t errlen)
{
	char *base = (char *)cfg;
	if (e->type == CFG_STR) {
		*(const char **)(base + e->offset) = val;
		return 0;
	}
	if (e->type == CFG_ENUM) {
		for (int i = 0; e->choices[i]; i++) {
			if (strcmp(e->choices[i], val) == 0) {
				*(int *)(base + e->offset) = i;
				return 0;
			}
		}
		snprintf(err, errlen, "%s: unknown value '%s'", e->name, val);
		return -1;
	}
	char *end = NULL;
	errno = 0;
	long long n = strtoll(val, &end, 10);
	if (errno || end == val || *end != '\0' || n < e->min || n > e->max) {
		snprintf(err, errlen, "%s: must be an integer from %lld to %lld, got '%s'", e->name,
			 e->min, e->max, val);
		return -1;
	}
	if (e->type == CFG_INT)
		*(int *)(base + e->offset) = (int)n;
	else
		*(long long *)(base + e->offset) = n;
	return 0;
}

int cfg_split_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -1;
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (h[0] == '[') { /* [IPv6]:port */
		if (hl < 3 || h[hl - 1] != ']')
			return -1;
		h++;
		hl -= 2;
	} else if (memchr(h, ':', hl)) {
		return -1; /* an IPv6 address needs brackets */
	}
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || errno || p < 0 || p > 65535 || hl >= hostlen)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

int cfg_load(struct config *cfg, const char *dotenv_path, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	if (dotenv_path && dotenv_read(dotenv_path, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct cfg_entry *e = &table[i];
		const char *val = cfg_lookup(e->name);
		if (val && *val == '\0' && e->type != CFG_STR)
			val = NULL; /* NAME= in .env means "use the default" */
		if (!val)
			val = e->def;
		if (val && set_entry(cfg, e, val, err, errlen) < 0)
			return -1;
	}
	char host[256];
	int port;
	if (cfg->admin_listen &&
	    cfg_split_hostport(cfg->admin_listen, host, sizeof host, &port) < 0) {
		snprintf(err, errlen,
			 "CALLBRIDGE_ADMIN_LISTEN: expected HOST:PORT or [IPV6]:PORT with a port "
			 "from 0 to 65535, got '%s'",
			 cfg->admin_listen);
		return -1;
	}
	return 0;
}

static bool known_name(const char *name, bool (*is_known)(const char *name))
{
	if (is_known && is_known(name))
		return true;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(table[i].name, name) == 0)
			return true;
	return false;
}

void cfg_each_unknown(bool (*is_known)(const char *name),
		      void (*fn)(const char *name, const char *source))
{
	for (char **env = environ; *env; env++) {
		if (strncmp(*env, "CALLBRIDGE_", 11) != 0)
			continue;
		char name[256];
		size_t n = strcspn(*env, "=");
		if (n >= sizeof name)
			continue;
		memcpy(name, *env, n);
		name[n] = '\0';
		if (!known_name(name, is_known))
			fn(name, "environment");
	}
	/* .env is where settings are typed by hand, so where typos live. A name also in the
	 * environment was reported above; one written twice in .env is reported once. */
	for (size_t i = 0; i < dotenv_len; i++) {
		const char *name = dotenv[i].name;
		bool seen = getenv(name) != NULL;
		for (size_t k = 0; !seen && k < i; k++)
			seen = strcmp(dotenv[k].name, name) == 0;
		if (!seen && strncmp(name, "CALLBRIDGE_", 11) == 0 && !known_name(name, is_known))
			fn(name, ".env");
	}
}

void cfg_print_table(FILE *out)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct cfg_entry *e = &table[i];
		fprintf(out, "| `%s` | %s%s%s | %s |\n", e->name, e->def ? "`" : "",
			e->def ? e->def : "unset", e->def ? "`" : "", e->meaning);
	}
}

void cfg_free(void)
{
	for (size_t i = 0; i < dotenv_len; i++) {
		free(dotenv[i].name);
		free(dotenv[i].value);
	}
	free(dotenv);
	dotenv = NULL;
	dotenv_len = 0;
}

/* ---- secrets ---- */

char *cfg_secret(const char *name, char *err, size_t errlen, bool *bad)
{
	char fname[128];
	snprintf(fname, sizeof fname, "%s_FILE", name);
	const char *val = cfg_lookup(name), *path = cfg_lookup(fname);
	/* Empty is unset, as for every setting: a compose file passes both forms with empty
	 * defaults. */
	if (val && !*val)
		val = NULL;
	if (path && !*path)
		path = NULL;
	if (val && path) {
		snprintf(err, errlen, "%s and %s are both set; keep one", name, fname);
		*bad = true;
		return NULL;
	}
	if (!path) {
		char *copy = val ? strdup(val) : NULL;
		if (val && !copy) { /* never read as "no secret": that would fail open */
			snprintf(err, errlen, "%s: out of memory", name);
			*bad = true;
		}
		return copy;
	}
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (!f || ferror(f) || n == sizeof buf - 1) {
		snprintf(err, errlen, "%s: cannot read %s%s", fname, path,
			 f && n == sizeof buf - 1 ? " (over 4 KiB)" : "");
		if (f)
			fclose(f);
		*bad = true;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	char *copy = strdup(buf);
	OPENSSL_cleanse(buf, sizeof buf);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", fname);
		*bad = true;
	}
	return copy;
}
