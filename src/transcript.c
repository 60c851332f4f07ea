/* transcript — "Speaker: text" strings to segments (see transcript.h). */
#include "transcript.h"
#include "field.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Length of the label that starts line [p, end): letters, digits, spaces and . ' - _ ( )
 * up to TRANSCRIPT_MAX_LABEL, then ':' followed by a space or the end of the line.
 * 0 when the line has no label. */
static size_t label_len(const char *p, const char *end)
{
	size_t n = 0;
	while (p + n < end && n <= TRANSCRIPT_MAX_LABEL) {
		unsigned char c = (unsigned char)p[n];
		if (c == ':')
			break;
		if (!(isalnum(c) || c == ' ' || c == '.' || c == '\'' || c == '-' || c == '_' ||
		      c == '(' || c == ')' || c >= 0x80))
			return 0;
		n++;
	}
	if (n == 0 || n > TRANSCRIPT_MAX_LABEL || p + n >= end || p[n] != ':')
		return 0;
	if (p + n + 1 < end && p[n + 1] != ' ' && p[n + 1] != '\t')
		return 0; /* "10:30", "http://" */
	return n;
}

static const char *role_of(const char *label, const char *agent_name, const char *customer_name)
{
	const char *r = field_role(label);
	if (strcmp(r, "unknown") != 0)
		return r;
	if (agent_name && !strcasecmp(label, agent_name))
		return "agent";
	if (customer_name) {
		size_t first = strcspn(customer_name, " ");
		if (!strcasecmp(label, customer_name) ||
		    (strlen(label) == first && !strncasecmp(label, customer_name, first)))
			return "customer";
	}
	return "unknown";
}

/* Trims spaces and tabs (and a trailing \r) from both ends of [*p, *end). */
static void trim(const char **p, const char **end)
{
	while (*p < *end && (**p == ' ' || **p == '\t'))
		(*p)++;
	while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
		(*end)--;
}

/* The content of a segment: the text range [a, b) copied once, then compacted in place:
 * no \r, no spaces at the start of a continuation line, no empty lines. */
static const char *content_of(struct mapped *m, const char *a, const char *b)
{
	char *s = (char *)rows_strndup(m, a, (size_t)(b - a));
	if (!s)
		return NULL;
	char *o = s;
	bool line_start = false;
	for (const char *i = s; *i; i++) {
		if (*i == '\r')
			continue;
		if (line_start && (*i == ' ' || *i == '\t' || *i == '\n'))
			continue;
		line_start = *i == '\n';
		*o++ = *i;
	}
	*o = '\0';
	return s;
}

int transcript_split(struct mapped *m, const char *call_external_id, const char *text,
		     const char *agent_name, const char *customer_name)
{
	const char *p = text, *stop = text + strlen(text);
	/* The current segment's content is a range of text plus continuation lines; it is
	 * copied once when the segment ends, so a long run of lines stays linear. */
	const char *seg_start = NULL, *seg_end = NULL;
	struct segment *cur = NULL;

	while (p <= stop) {
		const char *eol = memchr(p, '\n', (size_t)(stop - p));
		if (!eol)
			eol = stop;
		const char *a = p, *b = eol;
		trim(&a, &b);
		size_t n = a < b ? label_len(a, b) : 0;
		if (n) {
			if (cur)
				cur->content = content_of(m, seg_start, seg_end);
			const char *label = rows_strndup(m, a, n);
			const char *le = label + strlen(label);
			while (le > label && le[-1] == ' ')
				le--;
			label = rows_strndup(m, label, (size_t)(le - label));
			cur = rows_add_segment(m, call_external_id);
			if (!cur || !label)
				return -1;
			cur->speaker = label;
			cur->role = role_of(label, agent_name, customer_name);
			seg_start = a + n + 1;
			seg_end = b;
			while (seg_start < seg_end && (*seg_start == ' ' || *seg_start == '\t'))
				seg_start++;
			if (seg_start > seg_end)
				seg_start = seg_end;
		} else if (a < b) {
			if (!cur) {
				cur = rows_add_segment(m, call_external_id);
				if (!cur)
					return -1;
				cur->role = "unknown";
				seg_start = a;
			}
			seg_end = b; /* continuation: the segment now runs to this line's end */
		}
		p = eol + 1;
	}
	if (cur)
		cur->content = content_of(m, seg_start, seg_end);
	return 0;
}
