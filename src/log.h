/* log — one-line log records on stderr, as text or JSON.
 * A record is a message plus optional key=value fields; values are escaped, never
 * interpreted. Secrets and request bodies are never passed here. */
#ifndef CALLBRIDGE_LOG_H
#define CALLBRIDGE_LOG_H

#include <stdbool.h>

/* info is one line per delivery; notice is the daemon's own life (listening, connected,
 * stopped), the default threshold, so that the request path writes no log by default. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARN, LOG_ERROR };

/* Set once at start-up: level threshold and format (json when true). */
void log_setup(enum log_level level, bool json);
bool log_enabled(enum log_level level);

/* Fields come as NULL-terminated pairs of strings: key, value, key, value, ..., NULL.
 * A NULL value is written as null / omitted. */
void log_write(enum log_level level, const char *msg, ...);

#define log_debug(...)  log_write(LOG_DEBUG, __VA_ARGS__, (const char *)NULL)
#define log_info(...)   log_write(LOG_INFO, __VA_ARGS__, (const char *)NULL)
#define log_notice(...) log_write(LOG_NOTICE, __VA_ARGS__, (const char *)NULL)
#define log_warn(...)   log_write(LOG_WARN, __VA_ARGS__, (const char *)NULL)
#define log_error(...)  log_write(LOG_ERROR, __VA_ARGS__, (const char *)NULL)

#endif
