/* sources — the accounts callbridge receives from: each platform's default source (its
 * CALLBRIDGE_<SLUG>_* variables) and the sources of CALLBRIDGE_SOURCES_FILE (INI, one
 * section [<slug>.<source>] each; docs/sources.md). A source has its own route
 * (/webhooks/<slug>/<source>), secrets, tokens and tag on every row.
 *
 * DESIGN
 * - The sources in force are one immutable set (struct sources). Every loop reads it
 *   through sources_acquire(), which counts a reference; SIGHUP builds a new set from
 *   the file and swaps it in (sources_reload): requests already holding the old set
 *   finish with it, and it is freed by whoever releases it last. A file that does not
 *   load leaves the set in force as it was.
 * - Parsing is pure (sources_parse: text in, sections out, errors with line numbers);
 *   reading the file and the env:/file: values is sources_load's. */
#ifndef CALLBRIDGE_SOURCES_H
#define CALLBRIDGE_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "verify.h"

#define SOURCE_NAME_MAX 64
#define SOURCES_MAX     256 /* sources in one file; metrics label at most this many */

struct platform;
struct tz;

/* One section of the file as written (values not resolved). */
struct sources_section {
	int line;
	int platform; /* index into platforms[] */
	char name[SOURCE_NAME_MAX + 1];
	/* raw values, NULL when absent; malloc'd */
	char *secret, *token, *path_token, *bearer_token, *signature, *timezone;
	int tolerance; /* 0: absent */
	bool insecure;
	bool own_rows_only; /* precall_scope = source */
	int value_line[6];  /* line of each value above, for messages */
};

/* Parses the text of a sources file. 0 with *out (malloc'd) and *n set; -1 with err
 * "FILE:LINE: reason" (file is only used in messages). */
int sources_parse(const char *file, const char *text, struct sources_section **out, int *n,
		  char *err, size_t errlen) __attribute__((warn_unused_result));
void sources_sections_free(struct sources_section *s, int n);

/* A source in force. */
struct source {
	const struct platform *platform;
	char name[SOURCE_NAME_MAX + 1]; /* "default" for the platform's own */
	const struct verify_keys *keys; /* never NULL */
	bool refuse_unsigned;           /* a file's source with no secret nor token, not insecure */
	const char *precall_token;      /* NULL: none */
	bool insecure;                  /* no secret, and said so */
	bool own_rows_only;             /* lookups see only this source's rows */
	int label;                      /* sources_label_id(name): its metrics series, or -1 */
	const struct tz *zone;          /* its timezone; NULL: the platform's */
};

struct sources;

/* Loads the environment's default sources and, when path is not NULL, the file's:
 * secrets given as env:NAME or file:PATH are read now. NULL with err filled. */
struct sources *sources_load(const char *path, char *err, size_t errlen);

/* The set in force (first sources_install, then each reload). */
void sources_install(struct sources *s);
/* SIGHUP: loads path again; on success the new set is in force, else err is filled and
 * the set in force stays. */
int sources_reload(const char *path, char *err, size_t errlen);

/* The set in force, with a reference; give it back with sources_release. Before any
 * sources_install, the platforms' default sources. NULL only when out of memory. */
struct sources *sources_acquire(void);
void sources_release(struct sources *s);

/* The source of platform p named by the len bytes at name, or NULL. */
const struct source *sources_find(const struct sources *s, const struct platform *p,
				  const char *name, size_t len);
/* Platform p's default source (never NULL). */
const struct source *sources_default(const struct sources *s, const struct platform *p);
/* The zone of src's offset-less times: its own, else its platform's
 * (CALLBRIDGE_<SLUG>_TIMEZONE; NULL: UTC). Valid while the set holding src is. */
const struct tz *sources_zone(const struct source *src);

/* Iterates: the i-th source, or NULL past the last. */
const struct source *sources_at(const struct sources *s, int i);

/* Whether name is a valid source name: [a-z0-9_-]{1,64}. */
bool sources_valid_name(const char *name, size_t len);

/* The label id of a source name seen since start (for metrics): 0 for "default",
 * 1..SOURCES_MAX for the others in order of first sight, -1 past that. */
int sources_label_id(const char *name);
/* The name of a label id, or NULL. */
const char *sources_label_name(int id);

/* Frees the set in force at exit. */
void sources_shutdown(void);

#endif
