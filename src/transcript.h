/* transcript — splits a transcript sent as one string of "Speaker: text" lines into
 * ordered segments. A line that starts with a short label and a colon starts a segment;
 * any other line continues the segment before it; text before the first label is one
 * segment with role "unknown". Linear in the length of the text.
 *
 * Ownership: segments are added to m with rows_add_segment; their strings live in m's
 * arena. text is borrowed and not kept. */
#ifndef CALLBRIDGE_TRANSCRIPT_H
#define CALLBRIDGE_TRANSCRIPT_H

#include "rows.h"

/* Longest label taken for a speaker ("Sales Agent", "John Doe"); longer is text. */
#define TRANSCRIPT_MAX_LABEL 40

/* Adds the segments of text to call_external_id's transcript in m. The role comes from
 * the label (see field_role), else from agent_name / customer_name (or the customer's
 * first name) when the label matches, else "unknown". Returns 0, or -1 when out of
 * memory. */
int transcript_split(struct mapped *m, const char *call_external_id, const char *text,
		     const char *agent_name, const char *customer_name)
	__attribute__((warn_unused_result));

#endif
