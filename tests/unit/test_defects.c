/* Small defects, each pinned by a test: a secret that cannot be copied stops start-up
 * (it must never read as "no secret", which would turn verification off), and the text
 * log format escapes quotes inside a quoted value. strdup is interposed here so that
 * one copy can be made to fail. */
#include "harness.h"
#include "log.h"
#include "verify.h"

#include <stdlib.h>
#include <unistd.h>

static int fail_strdup_of; /* fail strdup when its argument has this length; 0: never */

char *strdup(const char *s)
{
	size_t n = strlen(s);
	if (fail_strdup_of && n == (size_t)fail_strdup_of)
		return NULL;
	char *c = malloc(n + 1);
	if (c)
		memcpy(c, s, n + 1);
	return c;
}

/* The log line written for one record, from a temporary stderr. */
static void log_line(char *out, size_t cap, const char *key, const char *val)
{
	char path[] = "/tmp/callbridge-log.XXXXXX";
	int fd = mkstemp(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	log_write(LOG_ERROR, "msg", key, val, (const char *)NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

int main(void)
{
	char err[256] = "";
	setenv("CALLBRIDGE_ATOMS_SECRET", "a-secret-of-exactly-31-chars-xx", 1);
	fail_strdup_of = 31;
	ok(verify_load(2, "atoms", VERIFY_HEX_BODY, err, sizeof err) < 0,
	   "a secret that cannot be copied fails start-up");
	ok(strstr(err, "CALLBRIDGE_ATOMS_SECRET") != NULL, "naming the variable (%s)", err);
	fail_strdup_of = 0;
	ok(verify_load(2, "atoms", VERIFY_HEX_BODY, err, sizeof err) == 0, "and loads once it can");
	ok(verify_required(2), "verification is on");
	verify_free();

	char line[512];
	log_setup(LOG_DEBUG, false);
	log_line(line, sizeof line, "detail", "say \"hi\" key=x");
	ok(strstr(line, " detail=\"say \\\"hi\\\" key=x\"\n") != NULL,
	   "text log: quotes inside a quoted value are escaped (%s)", line);
	log_line(line, sizeof line, "path", "a\\b c");
	ok(strstr(line, " path=\"a\\\\b c\"\n") != NULL, "text log: backslashes too (%s)", line);
	log_line(line, sizeof line, "word", "plain");
	ok(strstr(line, " word=plain\n") != NULL, "text log: a plain value is not quoted");
	log_line(line, sizeof line, "empty", "");
	ok(strstr(line, " empty=\"\"\n") != NULL, "text log: an empty value is quoted");
	return done_testing();
}
