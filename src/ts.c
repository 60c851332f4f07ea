/* ts — ISO 8601 parsing and canonical formatting, without the C library's time zone
 * state (timegm is not standard and mktime depends on TZ). */
#include "ts.h"
#include "tz.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

/* The instants PostgreSQL and the canonical text share: years 1 to 9999 in UTC,
 * [0001-01-01T00:00:00Z, 10000-01-01T00:00:00Z) in microseconds since the epoch. */
#define TS_MIN_US (-62135596800LL * 1000000)
#define TS_END_US (253402300800LL * 1000000)

static bool in_range(int64_t epoch_us)
{
	return epoch_us >= TS_MIN_US && epoch_us < TS_END_US;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

bool ts_parse_iso(const char *s, int64_t *epoch_us)
{
	return ts_parse_iso_in(s, NULL, epoch_us);
}

bool ts_parse_iso_in(const char *s, const struct tz *zone, int64_t *epoch_us)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t frac_us = 0;
	int off_min = 0;
	bool local = true; /* no offset given */

	while (*p == ' ')
		p++;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return false;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return false;
			if (*p == '.' || *p == ',') {
				p++;
				if (!isdigit((unsigned char)*p))
					return false;
				int64_t scale = 100000;
				for (; isdigit((unsigned char)*p); p++) {
					frac_us += (*p - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return false;
		if (sec == 60)
			sec = 59, frac_us = 999999; /* a leap second stays inside its minute */
		if (*p == 'Z' || *p == 'z') {
			p++;
			local = false;
		} else if (*p == '+' || *p == '-') {
			local = false;
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (!digits(&p, 2, &oh))
				return false;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p) && !digits(&p, 2, &om))
				return false;
			if (oh > 23 || om > 59)
				return false;
			off_min = sign * (oh * 60 + om);
		}
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return false;
	int64_t secs =
		tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_min * 60;
	if (local && zone)
		secs = tz_local_to_utc(zone, secs);
	int64_t us = secs * 1000000 + frac_us;
	/* Checked again after the offset: 0001-01-01T00:00:00+23:59 is in year 0 and
	 * 9999-12-31T23:59:59-23:59 in year 10000, which the canonical text cannot hold. */
	if (!in_range(us))
		return false;
	*epoch_us = us;
	return true;
}

bool ts_from_unix(double secs, int64_t *epoch_us)
{
	int64_t us;
	if (!isfinite(secs) || secs < 0)
		return false;
	if (secs > 1e11) {                     /* milliseconds */
		if (secs >= 253402300800000.0) /* year 10000 */
			return false;
		/* Whole milliseconds exactly: divided into seconds first, a double is off by
		 * microseconds at these magnitudes. */
		us = secs == floor(secs) ? (int64_t)secs * 1000 : llround(secs * 1000.0);
	} else {
		us = llround(secs * 1e6);
	}
	/* The instant itself is checked too, so that no rounding can make it unformattable. */
	if (!in_range(us))
		return false;
	*epoch_us = us;
	return true;
}

bool ts_format(int64_t epoch_us, char out[TS_LEN])
{
	out[0] = '\0';
	if (!in_range(epoch_us))
		return false; /* never a truncated or five-digit year */
	int64_t secs = epoch_us / 1000000, us = epoch_us % 1000000;
	if (us < 0)
		us += 1000000, secs -= 1;
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0)
		rem += 86400, days -= 1;
	int64_t y;
	int m, d;
	tz_civil_from_days(days, &y, &m, &d);
	int n = snprintf(out, TS_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", (int)y, m, d,
			 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)us);
	if (n != TS_LEN - 1) { /* cannot happen in range; never hand out a cut string */
		out[0] = '\0';
		return false;
	}
	return true;
}

int64_t ts_now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int64_t last_arrival_us; /* every loop's: atomic */

int64_t ts_arrival_us(void)
{
	int64_t now = ts_now_us(), prev = __atomic_load_n(&last_arrival_us, __ATOMIC_RELAXED), next;
	do /* a clock stepped back by more than a second is followed, not waited for */
		next = now > prev || prev - now > 1000000 ? now : prev + 1;
	while (!__atomic_compare_exchange_n(&last_arrival_us, &prev, next, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED));
	return next;
}
