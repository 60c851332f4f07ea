/* Timestamps: every shape platforms send, and what must be refused. */
#include "harness.h"
#include "ts.h"

static const char *iso(const char *in)
{
	static char out[TS_LEN];
	int64_t us;
	if (!ts_parse_iso(in, &us))
		return NULL;
	ts_format(us, out);
	return out;
}

int main(void)
{
	is_str(iso("2026-05-19T15:02:14.781Z"), "2026-05-19T15:02:14.781000Z", "milliseconds, Z");
	is_str(iso("2026-05-19T15:02:14Z"), "2026-05-19T15:02:14.000000Z", "no fraction");
	is_str(iso("2026-05-19T17:02:14+02:00"), "2026-05-19T15:02:14.000000Z", "+HH:MM offset");
	is_str(iso("2026-05-19T10:02:14-0500"), "2026-05-19T15:02:14.000000Z", "-HHMM offset");
	is_str(iso("2026-05-19T16:02:14+01"), "2026-05-19T15:02:14.000000Z", "+HH offset");
	is_str(iso("2026-05-19 15:02:14"), "2026-05-19T15:02:14.000000Z",
	       "space separator, no offset is UTC");
	is_str(iso("2026-05-19T15:02"), "2026-05-19T15:02:00.000000Z", "no seconds");
	is_str(iso("2026-05-19"), "2026-05-19T00:00:00.000000Z", "date only");
	is_str(iso("2026-05-19T15:02:14.123456789Z"), "2026-05-19T15:02:14.123456Z",
	       "nanoseconds cut to micro");
	is_str(iso("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000000Z", "leap day");
	is_str(iso("2026-01-01T00:30:00+01:00"), "2025-12-31T23:30:00.000000Z",
	       "offset crosses a year");
	is_str(iso("1969-12-31T23:59:59.5Z"), "1969-12-31T23:59:59.500000Z", "before the epoch");
	is_str(iso("2026-06-30T23:59:60Z"), "2026-06-30T23:59:59.999999Z",
	       "leap second kept in its minute");
	is_str(iso("2026-02-29T00:00:00Z"), NULL, "not a leap year");
	is_str(iso("2026-13-01T00:00:00Z"), NULL, "month 13");
	is_str(iso("2026-05-19T24:00:00Z"), NULL, "hour 24");
	is_str(iso("2026-05-19T15:02:14Zjunk"), NULL, "trailing junk");
	is_str(iso("..."), NULL, "placeholder text");
	is_str(iso(""), NULL, "empty");
	is_str(iso("0000-01-01"), NULL, "year 0");
	is_str(iso("2026-5-19"), NULL, "one-digit month");
	is_str(iso("2026-05-19T15:02:14+25:00"), NULL, "offset out of range");

	char out[TS_LEN];
	int64_t us;
	ok(ts_from_unix(1779202001, &us), "unix seconds");
	ts_format(us, out);
	is_str(out, "2026-05-19T14:46:41.000000Z", "unix seconds formatted");
	ok(ts_from_unix(1779202001123.0, &us), "unix milliseconds");
	ts_format(us, out);
	is_str(out, "2026-05-19T14:46:41.123000Z", "milliseconds detected");
	ok(!ts_from_unix(-1, &us), "negative unix time refused");
	ok(!ts_from_unix(1e300, &us), "absurd unix time refused");
	return done_testing();
}
