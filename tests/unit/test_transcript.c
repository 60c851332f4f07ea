/* The transcript splitter: labels, continuation lines, roles, and the odd shapes a
 * "Speaker: text" string takes. */
#include "harness.h"
#include "transcript.h"

#include <stdlib.h>

static struct mapped m;

static int split(const char *text, const char *agent, const char *customer)
{
	rows_reset(&m);
	return transcript_split(&m, "c1", text, agent, customer);
}

static const char *seg(int i)
{
	static char buf[512];
	if (i >= m.transcript.n)
		return NULL;
	const struct segment *s = &m.transcript.seg[i];
	snprintf(buf, sizeof buf, "%s|%s|%s", s->role, s->speaker ? s->speaker : "-",
		 s->content ? s->content : "");
	return buf;
}

int main(void)
{
	ok(split("Agent: Hello\nUser: Hi", NULL, NULL) == 0, "splits");
	ok(m.transcript.n == 2, "two segments");
	is_str(seg(0), "agent|Agent|Hello", "agent label");
	is_str(seg(1), "customer|User|Hi", "user is the customer");

	split("Maya: Hi John\nJohn: Hello\nJohn Smith: yes", "Maya", "John Smith");
	is_str(seg(0), "agent|Maya|Hi John", "label equal to the agent's name");
	is_str(seg(1), "customer|John|Hello", "customer's first name");
	is_str(seg(2), "customer|John Smith|yes", "customer's full name");

	split("Agent: first\n  second line\n\n\tthird\nUser: ok", NULL, NULL);
	is_str(seg(0), "agent|Agent|first\nsecond line\nthird",
	       "continuation lines joined, trimmed");
	ok(m.transcript.n == 2, "continuations start no segment");

	split("no labels at all\njust text", NULL, NULL);
	is_str(seg(0), "unknown|-|no labels at all\njust text", "no label: one unknown segment");

	split("Meeting at 10:30: fine\nsee http://x.example/a:b", NULL, NULL);
	ok(m.transcript.n == 1, "times and URLs are not labels");

	split("Agent:\nUser: answer", NULL, NULL);
	is_str(seg(0), "agent|Agent|", "a label with nothing after it");
	is_str(seg(1), "customer|User|answer", "next label after an empty one");

	split("A very very long label that is surely not a speaker name: text", NULL, NULL);
	ok(m.transcript.n == 1 && m.transcript.seg[0].speaker == NULL,
	   "labels over 40 characters are text");

	split("Agent: one\r\nUser: two\r\n", NULL, NULL);
	is_str(seg(1), "customer|User|two", "CRLF");

	split("", NULL, NULL);
	ok(m.transcript.n == 0, "empty text: nothing");
	split("\n\n  \n", NULL, NULL);
	ok(m.transcript.n == 0, "blank lines: nothing");
	split(":", NULL, NULL);
	ok(m.transcript.n == 1, "a lone colon is text");
	split("Narrator: (music)", "Maya", "John");
	is_str(seg(0), "unknown|Narrator|(music)", "unknown speaker");

	/* 50,000 continuation lines: linear, one segment. */
	size_t n = 50000, len = 8 + n * 6 + 1;
	char *big = malloc(len), *p = big;
	p += sprintf(p, "Agent: x");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "\nmore.");
	ok(split(big, NULL, NULL) == 0 && m.transcript.n == 1, "50,000 continuation lines");
	ok(strlen(m.transcript.seg[0].content) == 1 + n * 6, "all kept");
	free(big);
	rows_free(&m);
	return done_testing();
}
