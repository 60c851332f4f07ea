/* tz — TZif files and local-to-UTC conversion (see tz.h). tz_load reads a file; the rest
 * is pure. */
#include "tz.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A POSIX TZ rule (the TZif footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3"): standard and
 * daylight offsets (seconds east of UTC) and the two changes of each year. */
struct rule_date {
	char kind; /* 'M' month.week.day, 'J' Julian day 1..365 (no Feb 29), 'D' day 0..365 */
	int month, week, day;
	int32_t time; /* seconds after local midnight (may be negative or past 24 h) */
};

struct posix_rule {
	bool valid, has_dst;
	int32_t std_off, dst_off;
	struct rule_date start, end;
};

struct tz {
	char *name;
	int ntrans;
	int64_t *trans;     /* transition instants, ascending */
	unsigned char *idx; /* the type in effect from each transition on */
	int ntypes;
	int32_t *type_off;      /* each type's offset, seconds east of UTC */
	struct posix_rule rule; /* past the last transition */
};

/* ---- dates ---- */

int64_t tz_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* The year (local) of local seconds since 1970-01-01. */
static int64_t year_of(int64_t secs)
{
	int64_t y;
	int m, d;
	tz_civil_from_days((secs >= 0 ? secs : secs - 86399) / 86400, &y, &m, &d);
	return y;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds (since 1970-01-01 local) of a rule date in year y. */
static int64_t rule_local(const struct rule_date *r, int64_t y)
{
	int64_t day;
	if (r->kind == 'J') {
		day = tz_days_from_civil(y, 1, 1) + r->day - 1;
		if (leap(y) && r->day >= 60)
			day++;
	} else if (r->kind == 'D') {
		day = tz_days_from_civil(y, 1, 1) + r->day;
	} else {
		static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		int64_t first = tz_days_from_civil(y, r->month, 1);
		int wday_first = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
		int d = 1 + ((r->day - wday_first) % 7 + 7) % 7;   /* the first such weekday */
		int len = mdays[r->month - 1] + (r->month == 2 && leap(y));
		d += (r->week - 1) * 7;
		while (d > len)
			d -= 7; /* week 5: the last */
		day = first + d - 1;
	}
	return day * 86400 + r->time;
}

/* ---- POSIX TZ rules ---- */

/* [+-]hh[:mm[:ss]], in seconds; false when malformed. */
static bool parse_hms(const char **pp, int32_t *out, int max_hours)
{
	const char *p = *pp;
	int sign = 1, part[3] = {0, 0, 0};
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		if (i && *p != ':')
			break;
		if (i)
			p++;
		if (!isdigit((unsigned char)*p))
			return false;
		int v = 0;
		for (int n = 0; isdigit((unsigned char)*p); p++, n++) {
			if (n == 3)
				return false;
			v = v * 10 + (*p - '0');
		}
		part[i] = v;
	}
	if (part[0] > max_hours || part[1] > 59 || part[2] > 59)
		return false;
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	*pp = p;
	return true;
}

/* A zone abbreviation: letters, or anything but '>' between '<' and '>'. */
static bool parse_abbr(const char **pp)
{
	const char *p = *pp;
	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		if (*p != '>')
			return false;
		*pp = p + 1;
		return true;
	}
	while (isalpha((unsigned char)*p))
		p++;
	if (p - *pp < 3)
		return false;
	*pp = p;
	return true;
}

static bool parse_num(const char **pp, int lo, int hi, int *out)
{
	const char *p = *pp;
	int v = 0;
	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++)
		if ((v = v * 10 + (*p - '0')) > hi)
			return false;
	if (v < lo)
		return false;
	*out = v;
	*pp = p;
	return true;
}

static bool parse_date(const char **pp, struct rule_date *r)
{
	const char *p = *pp;
	r->time = 7200; /* 02:00 unless told */
	if (*p == 'M') {
		p++;
		r->kind = 'M';
		if (!parse_num(&p, 1, 12, &r->month) || *p++ != '.' ||
		    !parse_num(&p, 1, 5, &r->week) || *p++ != '.' || !parse_num(&p, 0, 6, &r->day))
			return false;
	} else if (*p == 'J') {
		p++;
		r->kind = 'J';
		if (!parse_num(&p, 1, 365, &r->day))
			return false;
	} else {
		r->kind = 'D';
		if (!parse_num(&p, 0, 365, &r->day))
			return false;
	}
	if (*p == '/') {
		p++;
		if (!parse_hms(&p, &r->time, 167))
			return false;
	}
	*pp = p;
	return true;
}

/* Parses the footer's rule; an empty one leaves r invalid (the last type stays). */
static bool parse_rule(const char *s, struct posix_rule *r)
{
	const char *p = s;
	int32_t west;
	*r = (struct posix_rule){0};
	if (!*p)
		return true;
	if (!parse_abbr(&p) || !parse_hms(&p, &west, 24))
		return false;
	r->std_off = -west;
	r->valid = true;
	if (!*p)
		return true;
	if (!parse_abbr(&p))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*p && *p != ',') {
		if (!parse_hms(&p, &west, 24))
			return false;
		r->dst_off = -west;
	}
	if (*p != ',') /* a DST name without rules: POSIX leaves it to the system; refuse */
		return false;
	p++;
	if (!parse_date(&p, &r->start) || *p++ != ',' || !parse_date(&p, &r->end))
		return false;
	return *p == '\0';
}

static int32_t rule_offset(const struct posix_rule *r, int64_t utc)
{
	if (!r->has_dst)
		return r->std_off;
	int64_t y = year_of(utc + r->std_off);
	/* The year's two changes as instants: the start is given in standard time, the end
	 * in daylight time. The neighbouring years cover instants near New Year. */
	for (int64_t yy = y + 1; yy >= y - 1; yy--) {
		int64_t start = rule_local(&r->start, yy) - r->std_off;
		int64_t end = rule_local(&r->end, yy) - r->dst_off;
		if (start < end) { /* northern: DST inside the year */
			if (utc >= end)
				return r->std_off;
			if (utc >= start)
				return r->dst_off;
		} else { /* southern: DST across New Year */
			if (utc >= start)
				return r->dst_off;
			if (utc >= end)
				return r->std_off;
		}
	}
	return r->std_off;
}

/* ---- TZif ---- */

static int64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

struct header {
	int version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static bool read_header(const unsigned char *p, size_t len, struct header *h)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return false;
	h->version = p[4] ? p[4] - '0' : 1;
	uint32_t *f[] = {&h->isutcnt, &h->isstdcnt, &h->leapcnt,
			 &h->timecnt, &h->typecnt,  &h->charcnt};
	for (int i = 0; i < 6; i++)
		*f[i] = (uint32_t)be(p + 20 + 4 * i, 4);
	return h->typecnt > 0 && h->typecnt <= 256 && h->timecnt <= 100000 && h->charcnt <= 10000 &&
	       h->leapcnt <= 10000;
}

static size_t block_len(const struct header *h, int tsize)
{
	return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
	       (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

struct tz *tz_parse(const char *name, const unsigned char *data, size_t len)
{
	struct header h;
	if (!read_header(data, len, &h))
		return NULL;
	const unsigned char *p = data + 44, *end = data + len;
	int tsize = 4;
	if (h.version >= 2) { /* skip the 32-bit block; use the 64-bit one */
		size_t skip = block_len(&h, 4);
		if ((size_t)(end - p) < skip)
			return NULL;
		p += skip;
		if (!read_header(p, (size_t)(end - p), &h))
			return NULL;
		p += 44;
		tsize = 8;
	}
	if ((size_t)(end - p) < block_len(&h, tsize))
		return NULL;
	struct tz *z = calloc(1, sizeof *z);
	if (!z)
		return NULL;
	z->name = strdup(name ? name : "");
	z->ntrans = (int)h.timecnt;
	z->ntypes = (int)h.typecnt;
	z->trans = malloc(((size_t)h.timecnt + 1) * sizeof *z->trans);
	z->idx = malloc((size_t)h.timecnt + 1);
	z->type_off = malloc((size_t)h.typecnt * sizeof *z->type_off);
	if (!z->name || !z->trans || !z->idx || !z->type_off) {
		tz_free(z);
		return NULL;
	}
	for (uint32_t i = 0; i < h.timecnt; i++, p += tsize) {
		z->trans[i] = be(p, tsize);
		if (i && z->trans[i] <= z->trans[i - 1]) {
			tz_free(z);
			return NULL;
		}
	}
	for (uint32_t i = 0; i < h.timecnt; i++, p++) {
		if (*p >= h.typecnt) {
			tz_free(z);
			return NULL;
		}
		z->idx[i] = *p;
	}
	for (uint32_t i = 0; i < h.typecnt; i++, p += 6) {
		z->type_off[i] = (int32_t)be(p, 4);
		if (z->type_off[i] < -89999 || z->type_off[i] > 93599) {
			tz_free(z);
			return NULL;
		}
	}
	p += h.charcnt + (size_t)h.leapcnt * (tsize + 4) + h.isstdcnt + h.isutcnt;
	if (h.version >= 2 && end - p >= 2 && *p == '\n') { /* the footer: "\n<rule>\n" */
		const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
		char rule[128];
		if (!nl || nl - p - 1 >= (long)sizeof rule) {
			tz_free(z);
			return NULL;
		}
		memcpy(rule, p + 1, (size_t)(nl - p - 1));
		rule[nl - p - 1] = '\0';
		if (!parse_rule(rule, &z->rule)) {
			tz_free(z);
			return NULL;
		}
	}
	return z;
}

void tz_free(struct tz *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->trans);
	free(z->idx);
	free(z->type_off);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z ? z->name : "UTC";
}

int32_t tz_offset_at(const struct tz *z, int64_t utc)
{
	if (!z)
		return 0;
	if (z->ntrans == 0 || utc < z->trans[0]) {
		if (z->ntrans == 0 && z->rule.valid)
			return rule_offset(&z->rule, utc);
		return z->type_off[0]; /* RFC 8536: type 0 before the first transition */
	}
	if (utc >= z->trans[z->ntrans - 1] && z->rule.valid)
		return rule_offset(&z->rule, utc);
	int lo = 0, hi = z->ntrans - 1; /* the last transition at or before utc */
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (z->trans[mid] <= utc)
			lo = mid;
		else
			hi = mid - 1;
	}
	return z->type_off[z->idx[lo]];
}

int64_t tz_local_to_utc(const struct tz *z, int64_t local)
{
	if (!z)
		return local;
	/* The offsets a day before and a day after: no zone changes twice within two days.
	 * The earlier one is preferred whenever it fits (the first of two occurrences) and
	 * used when neither fits (the gap). */
	int32_t before = tz_offset_at(z, local - 86400), after = tz_offset_at(z, local + 86400);
	if (tz_offset_at(z, local - before) == before)
		return local - before;
	if (tz_offset_at(z, local - after) == after)
		return local - after;
	return local - before;
}

/* ---- loading ---- */

struct tz *tz_load(const char *name, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR");
	char path[1024];
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if (!name || !*name || name[0] == '/' || strstr(name, "..") ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") !=
		    strlen(name)) {
		snprintf(err, errlen, "\"%s\" is not an IANA time zone name (such as Europe/Paris)",
			 name ? name : "");
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "unknown time zone \"%s\" (%s: %s)", name, path,
			 strerror(errno));
		return NULL;
	}
	unsigned char buf[1 << 17];
	size_t n = fread(buf, 1, sizeof buf, f);
	bool whole = feof(f) && !ferror(f);
	fclose(f);
	struct tz *z = whole ? tz_parse(name, buf, n) : NULL;
	if (!z)
		snprintf(err, errlen, "time zone \"%s\": %s is not a readable TZif file", name,
			 path);
	return z;
}
