/* transcript — splits a transcript sent as one string of "Speaker: text" lines into
 * ordered segments, and names a speaker's role. Used by mappers whose platform sends the
 * whole transcript as text (Replicer; Simple AI when it sends a string).
 *
 * DESIGN. Lines end at \n, \r\n or a lone \r; each is trimmed of blanks and empty lines
 * are skipped. A line that opens with a speaker label starts a segment; any other line
 * continues the segment before it (joined with "\n"); lines before the first label form
 * one segment with role "unknown" and no speaker. A label is, at the start of the line:
 * 1 to TRANSCRIPT_MAX_LABEL bytes, at most TRANSCRIPT_MAX_WORDS words, starting with a
 * letter or digit, made of letters, digits, spaces and ' - _ ( ) & (any non-ASCII byte
 * counts as a letter) plus the dot of a short abbreviation ("Dr. Ana", "John D."), then
 * ':' followed by a blank or the end of the line, or a full-width colon (U+FF1A). Later
 * words in lower case ("My address is:") make a label only when transcript_role knows it
 * ("ai agent", the agent's or customer's name). So "10:30", "http://x" and sentences
 * ("Well, he said: no") are never labels; only the start of a line matters, colons later
 * in a line are text. Linear time: each byte is looked at a bounded number of times and
 * each segment's content is built once.
 *
 * Ownership: segments are added to m with rows_add_segment; their strings (speaker,
 * content) are copies in m's arena; role is a static string. text, call_external_id,
 * agent_name and customer_name are borrowed: call_external_id must live as long as m
 * (pass an arena copy), the others are not kept. */
#ifndef CALLBRIDGE_TRANSCRIPT_H
#define CALLBRIDGE_TRANSCRIPT_H

#include "rows.h"

/* Longest label (in bytes) taken for a speaker ("Sales Agent", "John Doe"). */
#define TRANSCRIPT_MAX_LABEL 40
/* Most words in a label ("Ana María Pérez López"); more reads as a sentence. */
#define TRANSCRIPT_MAX_WORDS 4

/* Adds the segments of text (NULL reads as empty) to call_external_id's transcript in m,
 * after any segments m already holds. Each segment has a role (see transcript_role), the
 * label as sent (trimmed) as speaker, or NULL before the first label, and its content
 * (never NULL, possibly empty, no \r, no empty lines, no leading or trailing newline).
 * Returns 0, or -1 when out of memory (m's transcript is then incomplete: fail the event
 * with rows_fail, which drops it). */
int transcript_split(struct mapped *m, const char *call_external_id, const char *text,
		     const char *agent_name, const char *customer_name)
	__attribute__((warn_unused_result));

/* The role of a speaker label: field_role(label) when it knows the word; else "agent"
 * when label equals agent_name, "customer" when it equals customer_name or that name's
 * first word (case-insensitive, ASCII); else "unknown". Any argument may be NULL.
 * Returns a static string. */
const char *transcript_role(const char *label, const char *agent_name, const char *customer_name);

#endif
