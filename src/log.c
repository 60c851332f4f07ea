/* log — one-line records on stderr (see log.h). One fputs per record, so lines from
 * several threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

static enum log_level threshold = LOG_NOTICE;
static bool as_json;

static const char *const level_names[] = {"debug", "info", "notice", "warn", "error"};

void log_setup(enum log_level level, bool json)
{
	threshold = level;
	as_json = json;
}

bool log_enabled(enum log_level level)
{
	return level >= threshold;
}

/* Appends s to buf at *pos, escaped for JSON (or made printable for text). */
static void append(char *buf, size_t cap, size_t *pos, const char *s, bool escape)
{
	for (; s && *s && *pos + 8 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (escape && (c == '"' || c == '\\')) {
			buf[(*pos)++] = '\\';
			buf[(*pos)++] = (char)c;
		} else if (c < 0x20) {
			*pos += (size_t)snprintf(buf + *pos, cap - *pos,
						 escape ? "\\u%04x" : "\\x%02x", c);
		} else {
			buf[(*pos)++] = (char)c;
		}
	}
	buf[*pos] = '\0';
}

void log_write(enum log_level level, const char *msg, ...)
{
	if (level < threshold)
		return;
	char buf[4096];
	size_t pos = 0;
	struct timeval tv;
	struct tm tm;
	char ts[40];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

	if (as_json) {
		pos += (size_t)snprintf(buf, sizeof buf,
					"{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
					level_names[level]);
		append(buf, sizeof buf, &pos, msg, true);
		append(buf, sizeof buf, &pos, "\"", false);
	} else {
		pos += (size_t)snprintf(buf, sizeof buf, "%s %-5s ", ts, level_names[level]);
		append(buf, sizeof buf, &pos, msg, false);
	}

	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *val = va_arg(ap, const char *);
		if (as_json) {
			append(buf, sizeof buf, &pos, ",\"", false);
			append(buf, sizeof buf, &pos, key, true);
			append(buf, sizeof buf, &pos, val ? "\":\"" : "\":null", false);
			if (val) {
				append(buf, sizeof buf, &pos, val, true);
				append(buf, sizeof buf, &pos, "\"", false);
			}
		} else if (val) {
			/* a quoted value escapes its quotes and backslashes, so that a value
			 * holding '" key=x' cannot forge a field */
			bool quote = !*val || strpbrk(val, " \"=\\") != NULL;
			append(buf, sizeof buf, &pos, " ", false);
			append(buf, sizeof buf, &pos, key, false);
			append(buf, sizeof buf, &pos, quote ? "=\"" : "=", false);
			append(buf, sizeof buf, &pos, val, quote);
			if (quote)
				append(buf, sizeof buf, &pos, "\"", false);
		}
	}
	va_end(ap);
	if (as_json)
		append(buf, sizeof buf, &pos, "}", false);
	buf[pos++] = '\n';
	buf[pos] = '\0';
	fputs(buf, stderr);
}
