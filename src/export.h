/* export — `callbridge export --table T --since CURSOR [--limit N]`: the change feed of
 * one table as NDJSON, for CRM sync jobs (docs/change-feed.md; the protocol and its proof
 * are at the top of sql/migrations/0003_change_feed.sql).
 *
 * Output, on success only complete: one JSON object per changed row (the row's columns,
 * row_to_json) or deleted row ({"deleted":true, ...its key}: `callbridge forget`), in
 * feed order, then a last line
 *   {"cursor":"<xid>:<version>","rows":N,"more":BOOL,"pending":BOOL}
 * cursor: pass it as --since next time (unchanged when no row was returned);
 * more: the page was full, call again at once; pending: committed changes wait behind a
 * transaction still open, call again shortly. A failed run prints no cursor line (rows
 * may have been printed): keep the old cursor. Blocking libpq, one connection of its own,
 * one READ ONLY REPEATABLE READ transaction. */
#ifndef CALLBRIDGE_EXPORT_H
#define CALLBRIDGE_EXPORT_H

#include <stddef.h>
#include <stdio.h>

/* Borrowed strings (argv); none is ever spliced into SQL. */
struct export_args {
	const char *table;  /* calls, call_audits, sms_messages or contacts */
	const char *since;  /* "0" or "<xid>:<version>" as printed by a previous export */
	const char *limit;  /* 1..100000 rows; NULL: 1000 */
	const char *source; /* only this source's rows; NULL: every source's */
};

/* Checks the arguments without touching the database. Returns 0, or -1 with err filled
 * (a one-line reason naming the option). */
int export_check(const struct export_args *a, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Writes the page and the cursor line to out. Returns 0, or -1 with err filled.
 * timeout_s: the connect timeout (see db.h). */
int export_run(const char *conninfo, int timeout_s, const struct export_args *a, FILE *out,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
