/* Timestamps: every shape platforms send, and what must be refused. */
#include "harness.h"
#include "ts.h"

static const char *iso(const char *in)
{
	static char out[TS_LEN];
	int64_t us;
	if (!ts_parse_iso(in, &us))
		return NULL;
	return ts_format(us, out) ? out : "(ts_format refused a parsed time)";
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

	/* The range is years 1..9999 in UTC, checked after the offset is applied. */
	is_str(iso("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00.000000Z",
	       "first instant of year 1");
	is_str(iso("9999-12-31T23:59:59.999999Z"), "9999-12-31T23:59:59.999999Z",
	       "last instant of year 9999");
	is_str(iso("0001-01-01T00:00:00+23:59"), NULL, "year 1 pushed into year 0 by its offset");
	is_str(iso("0001-01-01T00:00:00+00:01"), NULL, "one minute before year 1");
	is_str(iso("0001-01-01T23:59:00+23:59"), "0001-01-01T00:00:00.000000Z",
	       "an offset that stays inside year 1");
	is_str(iso("9999-12-31T23:59:59-23:59"), NULL, "year 9999 pushed into year 10000");
	is_str(iso("9999-12-31T23:59:59.999999-00:01"), NULL, "one minute past year 9999");
	is_str(iso("9999-12-31T00:00:00-23:59"), "9999-12-31T23:59:00.000000Z",
	       "an offset that stays inside year 9999");
	is_str(iso("9999-12-31T23:59:60Z"), "9999-12-31T23:59:59.999999Z",
	       "a leap second at the very end stays in range");

	char out[TS_LEN];
	int64_t us;
	ok(ts_from_unix(1779202001, &us), "unix seconds");
	ok(ts_format(us, out), "unix seconds format");
	is_str(out, "2026-05-19T14:46:41.000000Z", "unix seconds formatted");
	ok(ts_from_unix(1779202001123.0, &us), "unix milliseconds");
	ok(ts_format(us, out), "unix milliseconds format");
	is_str(out, "2026-05-19T14:46:41.123000Z", "milliseconds detected");
	ok(!ts_from_unix(-1, &us), "negative unix time refused");
	ok(!ts_from_unix(1e300, &us), "absurd unix time refused");
	/* Past 1e11 a number is milliseconds: only they reach year 10000. */
	ok(ts_from_unix(253402300799999.0, &us) && ts_format(us, out),
	   "last millisecond of year 9999");
	is_str(out, "9999-12-31T23:59:59.999000Z", "last millisecond of year 9999 formatted");
	ok(!ts_from_unix(253402300800000.0, &us), "first millisecond of year 10000 refused");
	ok(!ts_from_unix(253402300799999.9999, &us),
	   "a fraction that rounds into year 10000 refused");

	/* ts_format refuses rather than truncating: never a wrong string. */
	ok(!ts_format(253402300800LL * 1000000, out), "year 10000 not formatted");
	is_str(out, "", "nothing written for year 10000");
	ok(!ts_format(-62135596800LL * 1000000 - 1, out), "year 0 not formatted");
	is_str(out, "", "nothing written for year 0");
	ok(!ts_format(INT64_MAX, out) && !ts_format(INT64_MIN, out), "extremes not formatted");
	ok(ts_format(-62135596800LL * 1000000, out), "year 1 formatted");
	is_str(out, "0001-01-01T00:00:00.000000Z", "year 1 text");
	ok(ts_format(0, out), "the epoch formatted");
	is_str(out, "1970-01-01T00:00:00.000000Z", "the epoch text");

	/* Arrival instants name one delivery each: many within one microsecond still differ,
	 * and they stay by the clock (never far ahead of it). */
	int64_t prev = ts_arrival_us();
	bool increasing = true;
	for (int i = 0; i < 100000; i++) {
		int64_t t = ts_arrival_us();
		increasing &= t > prev;
		prev = t;
	}
	ok(increasing, "100000 arrival instants, each after the one before");
	ok(prev - ts_now_us() < 1000000, "and within a second of the clock");
	return done_testing();
}
