/* tz: TZif files read from the system's zoneinfo, and local wall times converted to UTC
 * across both daylight-saving changes (Europe/Paris; America/New_York; the southern
 * hemisphere with Australia/Sydney), the rule at the gap and the overlap, the footer's
 * POSIX rule past the last transition, and the refusals (unknown names, paths, bad
 * files). Also ts_parse_iso_in, which reads offset-less times in a zone. */
#include "harness.h"
#include "ts.h"
#include "tz.h"

#include <stdlib.h>

/* Local wall time "YYYY-MM-DD HH:MM:SS" in zone z, as canonical UTC text. */
static const char *utc_of(const struct tz *z, const char *local)
{
	static char out[TS_LEN];
	int64_t us;
	if (!ts_parse_iso_in(local, z, &us) || !ts_format(us, out))
		return "(unreadable)";
	return out;
}

/* A TZif file of version 2 with no transitions and only a footer rule. */
static struct tz *footer_only(const char *rule)
{
	unsigned char buf[256] = {0};
	size_t n = 0;
	for (int block = 0; block < 2; block++) {
		memcpy(buf + n, "TZif2", 5);
		n += 20;
		/* isutcnt, isstdcnt, leapcnt, timecnt 0; typecnt 1; charcnt 4 */
		unsigned char counts[24] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4};
		memcpy(buf + n, counts, 24);
		n += 24;
		unsigned char type[6] = {0, 0, 0x0e, 0x10, 0, 0}; /* +3600, not DST, abbr 0 */
		memcpy(buf + n, type, 6);
		n += 6;
		memcpy(buf + n, "CET", 4);
		n += 4;
	}
	n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "\n%s\n", rule);
	return tz_parse("test", buf, n);
}

int main(void)
{
	char err[300];

	/* ---- Europe/Paris, from the system's zoneinfo ---- */
	struct tz *paris = tz_load("Europe/Paris", err, sizeof err);
	if (!ok(paris != NULL, "Europe/Paris loads (%s)", paris ? "ok" : err))
		return done_testing();
	is_str(tz_name(paris), "Europe/Paris", "the zone keeps its name");
	ok(tz_offset_at(paris, 1767225600) == 3600, "2026-01-01 in Paris: UTC+1");
	ok(tz_offset_at(paris, 1781049600) == 7200, "2026-06-10 in Paris: UTC+2");
	is_str(utc_of(paris, "2026-01-15 12:00:00"), "2026-01-15T11:00:00.000000Z", "winter: CET");
	is_str(utc_of(paris, "2026-07-15 12:00:00"), "2026-07-15T10:00:00.000000Z", "summer: CEST");
	/* Spring: on 2026-03-29 the clocks go from 02:00 to 03:00. */
	is_str(utc_of(paris, "2026-03-29 01:59:59"), "2026-03-29T00:59:59.000000Z",
	       "spring: the last second before the change");
	is_str(utc_of(paris, "2026-03-29 02:00:00"), "2026-03-29T01:00:00.000000Z",
	       "spring gap: 02:00 does not exist; read with the offset before (+1), the change");
	is_str(utc_of(paris, "2026-03-29 02:30:00"), "2026-03-29T01:30:00.000000Z",
	       "spring gap: 02:30 is read as +01:00 (the clock showed 03:30)");
	is_str(utc_of(paris, "2026-03-29 03:00:00"), "2026-03-29T01:00:00.000000Z",
	       "spring: 03:00 CEST, the first second after the change");
	is_str(utc_of(paris, "2026-03-29 04:00:00"), "2026-03-29T02:00:00.000000Z",
	       "spring: later that day, +2");
	/* Autumn: on 2026-10-25 the clocks go from 03:00 back to 02:00. */
	is_str(utc_of(paris, "2026-10-25 01:59:59"), "2026-10-24T23:59:59.000000Z",
	       "autumn: before the overlap, +2");
	is_str(utc_of(paris, "2026-10-25 02:30:00"), "2026-10-25T00:30:00.000000Z",
	       "autumn overlap: 02:30 happens twice; the first (+02:00) is taken");
	is_str(utc_of(paris, "2026-10-25 03:00:00"), "2026-10-25T02:00:00.000000Z",
	       "autumn: 03:00 once more, +1");
	is_str(utc_of(paris, "2026-03-29"), "2026-03-28T23:00:00.000000Z",
	       "a bare date is local midnight");
	is_str(utc_of(paris, "2026-07-15T12:00:00Z"), "2026-07-15T12:00:00.000000Z",
	       "a time with Z is not moved");
	is_str(utc_of(paris, "2026-07-15T12:00:00-05:00"), "2026-07-15T17:00:00.000000Z",
	       "a time with an offset is not moved");
	is_str(utc_of(paris, "2090-07-15 12:00:00"), "2090-07-15T10:00:00.000000Z",
	       "past the file's transitions, the footer's rule: summer 2090 is +2");
	is_str(utc_of(paris, "2090-12-15 12:00:00"), "2090-12-15T11:00:00.000000Z",
	       "and winter 2090 +1");
	is_str(utc_of(paris, "1900-06-01 12:00:00"), "1900-06-01T11:50:39.000000Z",
	       "before the first transition: Paris mean time (+0:09:21)");
	tz_free(paris);

	/* ---- America/New_York and Australia/Sydney ---- */
	struct tz *ny = tz_load("America/New_York", err, sizeof err);
	ok(ny != NULL, "America/New_York loads");
	if (ny) {
		is_str(utc_of(ny, "2026-03-08 02:30:00"), "2026-03-08T07:30:00.000000Z",
		       "New York spring gap: read as -05:00");
		is_str(utc_of(ny, "2026-11-01 01:30:00"), "2026-11-01T05:30:00.000000Z",
		       "New York autumn overlap: the first (-04:00)");
		is_str(utc_of(ny, "2026-11-01 03:00:00"), "2026-11-01T08:00:00.000000Z",
		       "New York after the overlap: -05:00");
		tz_free(ny);
	}
	struct tz *syd = tz_load("Australia/Sydney", err, sizeof err);
	ok(syd != NULL, "Australia/Sydney loads");
	if (syd) {
		is_str(utc_of(syd, "2026-01-15 12:00:00"), "2026-01-15T01:00:00.000000Z",
		       "Sydney in January: daylight time, +11");
		is_str(utc_of(syd, "2026-04-05 02:30:00"), "2026-04-04T15:30:00.000000Z",
		       "Sydney autumn overlap (April): the first (+11)");
		is_str(utc_of(syd, "2026-10-04 02:30:00"), "2026-10-03T16:30:00.000000Z",
		       "Sydney spring gap (October): read as +10");
		tz_free(syd);
	}

	/* ---- footer rules alone (slim TZif files) ---- */
	struct tz *f = footer_only("CET-1CEST,M3.5.0,M10.5.0/3");
	ok(f != NULL, "a file with only a footer rule parses");
	if (f) {
		is_str(utc_of(f, "2026-03-29 02:30:00"), "2026-03-29T01:30:00.000000Z",
		       "footer rule: the spring gap as with the full file");
		is_str(utc_of(f, "2026-10-25 02:30:00"), "2026-10-25T00:30:00.000000Z",
		       "footer rule: the autumn overlap as with the full file");
		is_str(utc_of(f, "2026-01-10 10:00:00"), "2026-01-10T09:00:00.000000Z",
		       "footer rule: winter");
		tz_free(f);
	}
	f = footer_only("<-03>3");
	ok(f && tz_offset_at(f, 1767225600) == -10800, "footer rule <-03>3: always UTC-3");
	tz_free(f);
	f = footer_only("AEST-10AEDT,M10.1.0,M4.1.0/3");
	ok(f && tz_offset_at(f, 1767225600) == 39600 && tz_offset_at(f, 1781049600) == 36000,
	   "footer rule, southern hemisphere: +11 in January, +10 in June");
	tz_free(f);
	ok(footer_only("CET-1CEST") == NULL, "a daylight name without rules is refused");
	ok(footer_only("CET-1CEST,M13.5.0,M10.5.0") == NULL, "month 13 is refused");

	/* ---- UTC and refusals ---- */
	is_str(utc_of(NULL, "2026-03-29 02:30:00"), "2026-03-29T02:30:00.000000Z",
	       "no zone: UTC, as before");
	ok(tz_local_to_utc(NULL, 42) == 42 && tz_offset_at(NULL, 42) == 0, "a NULL zone is UTC");
	struct tz *z = tz_load("Europe/Nowhere", err, sizeof err);
	ok(z == NULL && strstr(err, "unknown time zone \"Europe/Nowhere\""),
	   "an unknown name: refused, named (%s)", err);
	ok(tz_load("../etc/passwd", err, sizeof err) == NULL && strstr(err, "not an IANA"),
	   "a path out of the zoneinfo directory is refused");
	ok(tz_load("/etc/localtime", err, sizeof err) == NULL, "an absolute path is refused");
	ok(tz_load("", err, sizeof err) == NULL, "an empty name is refused");
	const unsigned char junk[] = "TZif2 but not really a zone file at all, far too short";
	ok(tz_parse("junk", junk, sizeof junk) == NULL, "a truncated file is refused");
	ok(tz_parse("junk", (const unsigned char *)"nope", 4) == NULL, "not TZif: refused");

	/* $TZDIR is where zones are read from when set. */
	setenv("TZDIR", "/nonexistent-zoneinfo", 1);
	ok(tz_load("Europe/Paris", err, sizeof err) == NULL && strstr(err, "/nonexistent-zoneinfo"),
	   "TZDIR is honoured");
	unsetenv("TZDIR");
	return done_testing();
}
