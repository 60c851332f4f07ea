/* transcript — "Speaker: text" strings to ordered segments, and speaker roles (see
 * transcript.h for the rules and who owns what). */
#include "transcript.h"
#include "field.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* U+FF1A FULLWIDTH COLON, the colon of CJK transcripts ("李雷：你好"). */
static const char fullwidth_colon[] = "\xEF\xBC\x9A";

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* The end of the line that starts at p: the first \n or \r, or stop. */
static const char *line_end(const char *p, const char *stop)
{
	while (p < stop && *p != '\n' && *p != '\r')
		p++;
	return p;
}

/* Drops blanks from both ends of [*a, *b). */
static void trim(const char **a, const char **b)
{
	while (*a < *b && is_blank(**a))
		(*a)++;
	while (*b > *a && is_blank((*b)[-1]))
		(*b)--;
}

/* What [a, e) (no trailing blanks) looks like as a speaker's name. */
enum shape {
	NOT_A_LABEL,
	LABEL,
	LABEL_IF_KNOWN, /* "My address is": words after the first in lower case */
};

/* A label starts with a letter or digit and has at most TRANSCRIPT_MAX_WORDS words of
 * letters, digits and ' - _ ( ) &, a dot only closing a word of 1 to 3 bytes ("Dr.",
 * "Mrs.", "D."). Non-ASCII bytes count as letters. Names are capitalised; a later word
 * in lower case makes it a sentence unless it names a known speaker ("ai agent"). */
static enum shape label_shape(const char *a, const char *e)
{
	enum shape shape = LABEL;
	int words = 0;
	size_t word = 0; /* bytes of the current word so far */
	if (!isalnum((unsigned char)*a) && (unsigned char)*a < 0x80)
		return NOT_A_LABEL;
	for (const char *p = a; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == ' ') {
			word = 0;
			continue;
		}
		if (word == 0 && ++words > TRANSCRIPT_MAX_WORDS)
			return NOT_A_LABEL;
		if (word == 0 && words > 1 && islower(c))
			shape = LABEL_IF_KNOWN;
		if (c == '.') {
			if (word == 0 || word > 3 || (p + 1 < e && p[1] != ' '))
				return NOT_A_LABEL;
		} else if (!isalnum(c) && c < 0x80 && c != '\'' && c != '-' && c != '_' &&
			   c != '(' && c != ')' && c != '&') {
			return NOT_A_LABEL;
		}
		word++;
	}
	return shape;
}

/* Whether [a, e), at most TRANSCRIPT_MAX_LABEL bytes, is a role or one of the names. */
static bool known_speaker(const char *a, const char *e, const char *agent_name,
			  const char *customer_name)
{
	char label[TRANSCRIPT_MAX_LABEL + 1];
	size_t n = (size_t)(e - a);
	memcpy(label, a, n);
	label[n] = '\0';
	return strcmp(transcript_role(label, agent_name, customer_name), "unknown") != 0;
}

/* Whether the trimmed, non-empty line [a, b) opens with a label (the names help decide
 * label_shape's doubtful cases). If so, *label_end is where the label's text ends and
 * *rest where the text after its colon starts. Only the first colon of the line counts,
 * and only within TRANSCRIPT_MAX_LABEL + 1 bytes. */
static bool find_label(const char *a, const char *b, const char *agent_name,
		       const char *customer_name, const char **label_end, const char **rest)
{
	size_t len = (size_t)(b - a);
	size_t max = len < TRANSCRIPT_MAX_LABEL + 1 ? len : TRANSCRIPT_MAX_LABEL + 1;
	const char *colon = NULL, *after = NULL;
	for (size_t i = 0; i < max && !colon; i++) {
		if (a[i] == ':') {
			colon = a + i;
			after = colon + 1;
			if (after < b && *after != ' ' && *after != '\t')
				return false; /* "10:30", "http://x" */
		} else if (len - i >= 3 && memcmp(a + i, fullwidth_colon, 3) == 0) {
			colon = a + i;
			after = colon + 3;
		}
	}
	if (!colon)
		return false;
	const char *e = colon;
	while (e > a && is_blank(e[-1]))
		e--;
	enum shape shape = e > a ? label_shape(a, e) : NOT_A_LABEL;
	if (shape == NOT_A_LABEL ||
	    (shape == LABEL_IF_KNOWN && !known_speaker(a, e, agent_name, customer_name)))
		return false;
	*label_end = e;
	*rest = after;
	return true;
}

/* The trimmed, non-empty lines of [from, to) joined with "\n", in m's arena. It is never
 * longer than the range: every "\n" it adds stands for a line break of the range. */
static const char *join_lines(struct mapped *m, const char *from, const char *to)
{
	char *out = rows_alloc(m, (size_t)(to - from) + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = from; p < to;) {
		const char *eol = line_end(p, to), *a = p, *b = eol;
		p = eol < to ? eol + 1 : to;
		trim(&a, &b);
		if (a == b)
			continue;
		if (o > out)
			*o++ = '\n';
		memcpy(o, a, (size_t)(b - a));
		o += b - a;
	}
	*o = '\0';
	return out;
}

/* Appends a segment spoken by the label [a, e), or by nobody known when a is NULL. */
static struct segment *start(struct mapped *m, const char *call_external_id, const char *a,
			     const char *e, const char *agent_name, const char *customer_name)
{
	struct segment *s = rows_add_segment(m, call_external_id);
	if (!s)
		return NULL;
	s->role = "unknown";
	if (!a)
		return s;
	s->speaker = rows_strndup(m, a, (size_t)(e - a));
	if (!s->speaker)
		return NULL;
	s->role = transcript_role(s->speaker, agent_name, customer_name);
	return s;
}

/* Gives the segment being built (if any) its content, the lines of [from, to). */
static int finish(struct mapped *m, struct segment *s, const char *from, const char *to)
{
	if (!s)
		return 0;
	s->content = join_lines(m, from, to);
	return s->content ? 0 : -1;
}

int transcript_split(struct mapped *m, const char *call_external_id, const char *text,
		     const char *agent_name, const char *customer_name)
{
	const char *p = text ? text : "", *stop = p + strlen(p);
	/* The segment being built and its content so far, a range of text copied once by
	 * finish(): a long run of continuation lines costs no more than its length. */
	struct segment *cur = NULL;
	const char *from = NULL, *to = NULL;

	while (p < stop) {
		const char *eol = line_end(p, stop), *a = p, *b = eol, *label_end, *rest;
		p = eol < stop ? eol + 1 : stop;
		trim(&a, &b);
		if (a == b)
			continue;
		if (find_label(a, b, agent_name, customer_name, &label_end, &rest)) {
			if (finish(m, cur, from, to) < 0)
				return -1;
			cur = start(m, call_external_id, a, label_end, agent_name, customer_name);
			from = rest;
		} else if (!cur) {
			cur = start(m, call_external_id, NULL, NULL, NULL, NULL);
			from = a;
		}
		if (!cur)
			return -1;
		to = b; /* a continuation line extends the segment to its end */
	}
	return finish(m, cur, from, to);
}

/* Whether label equals name, or (first_word) name's first word; case-insensitive. */
static bool same_name(const char *label, const char *name, bool first_word)
{
	if (!name)
		return false;
	while (*name == ' ')
		name++;
	size_t n = first_word ? strcspn(name, " ") : strlen(name);
	while (n > 0 && name[n - 1] == ' ')
		n--;
	return n > 0 && strlen(label) == n && strncasecmp(label, name, n) == 0;
}

const char *transcript_role(const char *label, const char *agent_name, const char *customer_name)
{
	const char *role = field_role(label);
	if (!label || strcmp(role, "unknown") != 0)
		return role;
	if (same_name(label, agent_name, false))
		return "agent";
	if (same_name(label, customer_name, false) || same_name(label, customer_name, true))
		return "customer";
	return "unknown";
}
