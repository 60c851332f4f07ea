/* ts — timestamps as platforms send them, turned into one canonical UTC text that
 * PostgreSQL's timestamptz input reads exactly: "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
#ifndef CALLBRIDGE_TS_H
#define CALLBRIDGE_TS_H

#include <stdbool.h>
#include <stdint.h>

#define TS_LEN 28 /* canonical text plus NUL */

/* ISO 8601 / RFC 3339: a date, optionally 'T' or ' ' and a time with optional seconds,
 * fraction (any digits; kept to microseconds) and offset (Z, +HH, +HHMM, +HH:MM).
 * A time without an offset is taken as UTC. Returns false for anything else,
 * including impossible dates (2026-02-30) and instants outside years 1..9999 in UTC
 * (checked after the offset is applied: 0001-01-01T00:00:00+01:00 is refused). */
bool ts_parse_iso(const char *s, int64_t *epoch_us);

struct tz;

/* ts_parse_iso, except that a time without an offset (or a bare date) is a wall time in
 * zone (see tz.h for the daylight-saving gap and overlap); a NULL zone is UTC. */
bool ts_parse_iso_in(const char *s, const struct tz *zone, int64_t *epoch_us);

/* Unix time in seconds (fraction allowed); values past 1e11 are taken as milliseconds.
 * False for negative times and for times in year 10000 or later. */
bool ts_from_unix(double secs, int64_t *epoch_us);

/* Writes the canonical form of epoch_us into out[TS_LEN]. Returns false, with out
 * empty, when epoch_us is outside years 1..9999 UTC: the text is never cut short or
 * wrong. (Not marked warn_unused_result: formatting the clock's own time cannot fail;
 * anything derived from a body must check the result.) */
bool ts_format(int64_t epoch_us, char out[TS_LEN]);

/* Current time, microseconds since the epoch. */
int64_t ts_now_us(void);

/* The current time as a delivery's arrival instant: strictly increasing over the process
 * (but for a clock stepped back by more than a second, which it follows), so that two
 * deliveries never share one, even on two loops in the same microsecond. An instant then
 * names one delivery (batchsql.c, the duplicate statement). */
int64_t ts_arrival_us(void);

#endif
