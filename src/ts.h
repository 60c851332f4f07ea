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
 * including impossible dates (2026-02-30) and years outside 1..9999. */
bool ts_parse_iso(const char *s, int64_t *epoch_us);

/* Unix time in seconds (fraction allowed); values past 1e11 are taken as milliseconds. */
bool ts_from_unix(double secs, int64_t *epoch_us);

/* Writes the canonical form of epoch_us into out[TS_LEN]. */
void ts_format(int64_t epoch_us, char out[TS_LEN]);

/* Current time, microseconds since the epoch. */
int64_t ts_now_us(void);

#endif
