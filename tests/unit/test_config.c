/* The settings table: defaults, bounds, enums, .env and precedence. */
#include "config.h"
#include "harness.h"

#include <stdlib.h>
#include <unistd.h>

static int load(struct config *c, const char *dotenv, char *err)
{
	cfg_free();
	return cfg_load(c, dotenv, err, 256);
}

/* What cfg_each_unknown reports, as "NAME@source " in order. */
static char unknown[512];

static void collect(const char *name, const char *source)
{
	size_t n = strlen(unknown);
	snprintf(unknown + n, sizeof unknown - n, "%s@%s ", name, source);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static bool claims_secret(const char *name)
{
	return strcmp(name, "CALLBRIDGE_SIMZ_SECRET") == 0;
}

/* Out of memory on demand: the test binary's strdup takes the place of libc's (config.c's
 * calls bind to it), and fails on its fail_strdup-th call from when that is set. */
static int fail_strdup;

char *strdup(const char *s)
{
	if (fail_strdup && --fail_strdup == 0)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	return p ? memcpy(p, s, n) : NULL;
}

int main(void)
{
	struct config c;
	char err[256] = "";
	char path[] = "/tmp/cbtest-env-XXXXXX";

	unsetenv("PORT");
	unsetenv("DATABASE_URL");
	ok(load(&c, NULL, err) == 0, "defaults load");
	ok(c.port == 8080 && c.max_body_bytes == 1048576 && c.batch_max == 256, "defaults");
	ok(c.database_url == NULL, "DATABASE_URL unset by default");
	is_str(c.listen, "0.0.0.0", "listen default");

	setenv("PORT", "0", 1);
	ok(load(&c, NULL, err) < 0, "PORT 0 refused");
	is_str(err, "PORT: must be an integer from 1 to 65535, got '0'",
	       "error names the variable");
	setenv("PORT", "80x", 1);
	ok(load(&c, NULL, err) < 0, "PORT with junk refused");
	setenv("PORT", "9090", 1);
	ok(load(&c, NULL, err) == 0 && c.port == 9090, "PORT read");
	setenv("CALLBRIDGE_LOG_FORMAT", "json", 1);
	ok(load(&c, NULL, err) == 0 && c.log_format == LOGFMT_JSON, "enum read");
	setenv("CALLBRIDGE_LOG_FORMAT", "xml", 1);
	ok(load(&c, NULL, err) < 0, "bad enum refused");
	is_str(err, "CALLBRIDGE_LOG_FORMAT: unknown value 'xml'", "enum error");
	unsetenv("CALLBRIDGE_LOG_FORMAT");

	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("# comment\n\nexport DATABASE_URL=\"postgresql://u@h/db\"\nPORT=1234\n"
	      "CALLBRIDGE_BATCH_MAX='64'\nCALLBRIDGE_MAX_INFLIGHT=\n",
	      f);
	fclose(f);
	ok(load(&c, path, err) == 0, ".env loads");
	is_str(c.database_url, "postgresql://u@h/db", ".env value, quotes and export stripped");
	ok(c.port == 9090, "the environment wins over .env");
	ok(c.batch_max == 64, "single quotes stripped");
	ok(c.max_inflight == 4096, "empty value means the default");
	is_str(cfg_lookup("DATABASE_URL"), "postgresql://u@h/db", "lookup sees .env");

	/* Unknown CALLBRIDGE_* names warn wherever they are set: a typo in .env is no
	 * quieter than one in the environment. */
	f = fopen(path, "w");
	fputs("CALLBRIDGE_BATCH_MAXX=64\nCALLBRIDGE_SIMZ_SECRET=s\nCALLBRIDGE_BATCH_MAX=8\n"
	      "CALLBRIDGE_TYPO_BOTH=1\nCALLBRIDGE_BATCH_MAXX=65\nOTHER_VARIABLE=1\n",
	      f);
	fclose(f);
	setenv("CALLBRIDGE_TYPO_BOTH", "1", 1);
	setenv("CALLBRIDGE_ENV_TYPO", "1", 1);
	ok(load(&c, path, err) == 0, ".env with unknown names loads");
	unknown[0] = '\0';
	cfg_each_unknown(claims_secret, collect);
	ok(count(unknown, "CALLBRIDGE_BATCH_MAXX@.env ") == 1, "a typo in .env is reported, once");
	ok(count(unknown, "CALLBRIDGE_ENV_TYPO@environment ") == 1,
	   "a typo in the environment is reported");
	ok(count(unknown, "CALLBRIDGE_TYPO_BOTH@") == 1 &&
		   count(unknown, "CALLBRIDGE_TYPO_BOTH@environment ") == 1,
	   "a typo in both is reported once, as the environment's");
	ok(!strstr(unknown, "CALLBRIDGE_SIMZ_SECRET") &&
		   !strstr(unknown, "CALLBRIDGE_BATCH_MAX@") && !strstr(unknown, "OTHER_VARIABLE"),
	   "known, claimed and non-CALLBRIDGE_ names are not reported");
	unsetenv("CALLBRIDGE_TYPO_BOTH");
	unsetenv("CALLBRIDGE_ENV_TYPO");

	f = fopen(path, "w");
	fputs("NOT A SETTING\n", f);
	fclose(f);
	ok(load(&c, path, err) < 0, "malformed .env line refused");
	ok(strstr(err, ":1: expected NAME=value") != NULL, "with its line number");
	unlink(path);
	ok(load(&c, "/nonexistent/.env", err) == 0, "a missing .env is fine");

	/* Out of memory reading .env stops start-up and says so; a value lost to it is never
	 * read as unset (an unset secret would leave its route open). */
	f = fopen(path, "w");
	fputs("DATABASE_URL=postgresql://u@h/oom\n", f);
	fclose(f);
	for (int k = 1; k <= 2; k++) {
		fail_strdup = k;
		err[0] = '\0';
		ok(load(&c, path, err) < 0, "out of memory copying the %s refused",
		   k == 1 ? "name" : "value");
		is_str(err, "out of memory", "with a message that says so");
		ok(cfg_lookup("DATABASE_URL") == NULL, "and no half-read setting");
	}
	fail_strdup = 0;

	/* CALLBRIDGE_ADMIN_LISTEN's HOST:PORT. */
	char host[64];
	int port = -1;
	ok(cfg_split_hostport("127.0.0.1:9091", host, sizeof host, &port) == 0 &&
		   !strcmp(host, "127.0.0.1") && port == 9091,
	   "HOST:PORT splits");
	ok(cfg_split_hostport("[::1]:0", host, sizeof host, &port) == 0 && !strcmp(host, "::1") &&
		   port == 0,
	   "[IPV6]:PORT splits");
	const char *bad[] = {"9091", ":9091",  "localhost:", "h:65536", "h:-1",
			     "h:9x", "::1:80", "[::1:80",    "[]:80"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(cfg_split_hostport(bad[i], host, sizeof host, &port) < 0, "'%s' refused",
		   bad[i]);

	ok(load(&c, path, err) == 0 && c.database_url &&
		   !strcmp(c.database_url, "postgresql://u@h/oom"),
	   "the same .env loads with memory");
	unlink(path);
	cfg_free();
	return done_testing();
}
