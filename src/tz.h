/* tz — IANA time zones, for timestamps that platforms send without an offset (a local
 * wall time such as Allo's "2026-03-29 02:30:00"). A zone is read once, at start-up, from
 * its TZif file (RFC 8536) under $TZDIR or /usr/share/zoneinfo; converting is pure.
 *
 * Local to UTC, the rule at the daylight-saving changes: a wall time that happens twice
 * (the autumn overlap) is taken at its first occurrence, and one that never happens (the
 * spring gap) is read with the offset in effect before the change (Paris 02:30 on the
 * last Sunday of March is 01:30Z, the instant the clock showed 03:30). Both are the
 * offset just before the change, so one rule covers both.
 *
 * Ownership: tz_load and tz_parse return a zone the caller frees with tz_free. */
#ifndef CALLBRIDGE_TZ_H
#define CALLBRIDGE_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz;

/* Parses a TZif file's bytes (versions 1 to 4; the 64-bit data and the footer's POSIX
 * rule for times past the last transition when present). NULL when malformed or out of
 * memory. name is copied, for tz_name. */
struct tz *tz_parse(const char *name, const unsigned char *data, size_t len);

/* Reads the zone named name (an IANA name such as "Europe/Paris"; no "..", no leading
 * '/') from $TZDIR, else /usr/share/zoneinfo. NULL with a reason in err when the name is
 * unknown or the file unreadable or malformed. I/O: call it at start-up only. */
struct tz *tz_load(const char *name, char *err, size_t errlen);

void tz_free(struct tz *z);

const char *tz_name(const struct tz *z);

/* Seconds east of UTC in effect at the instant utc (unix seconds). */
int32_t tz_offset_at(const struct tz *z, int64_t utc);

/* The instant (unix seconds) of a local wall time given as seconds since
 * 1970-01-01T00:00:00 local; see the rule above for the gap and the overlap. A NULL zone
 * is UTC. */
int64_t tz_local_to_utc(const struct tz *z, int64_t local);

/* The proleptic Gregorian calendar (Howard Hinnant's algorithms): days since 1970-01-01
 * of a date, and the date of such a day. */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
