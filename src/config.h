/* config — every setting in one table (name, type, bounds, default, meaning), read from
 * the environment and from `.env` in the working directory (the environment wins).
 * Bad values fail start-up with a message naming the variable. */
#ifndef CALLBRIDGE_CONFIG_H
#define CALLBRIDGE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

enum log_format { LOGFMT_TEXT, LOGFMT_JSON };

struct config {
	const char *database_url; /* NULL when unset */
	int port;
	const char *listen;
	long long max_body_bytes;
	int log_level; /* enum log_level */
	int log_format;
	int batch_max;
	int db_connections;
	int max_inflight;
	int retry_after_seconds;
	int db_connect_timeout_seconds;
	int db_reconnect_max_seconds;
	int db_pooler;             /* enum pgw_pooler */
	int ready_db_down_seconds; /* 0: the database alone never makes /readyz 503 */
	int commit_deadline_ms;
	int read_timeout_seconds;
	int max_connections;
	int workers;
	int shutdown_timeout_seconds;
	int signature_tolerance_seconds;
	int precall_budget_ms;
	int raw_retention_days; /* 0: keep */
	int dedupe_window_days;
	int partitions_ahead_days;
	int maintenance_interval_seconds;
	int prune_batch;
	int prune_lock_timeout_ms;
	const char *sources_file;  /* NULL: only the default sources */
	const char *admin_listen;  /* NULL: no admin listener */
	const char *tls_cert_file; /* NULL: plain HTTP */
	const char *tls_key_file;
	const char *spool_dir; /* "" disables the spool */
	long long spool_max_bytes;
};

/* Loads `.env` from dotenv_path (may be NULL or missing), then fills cfg from the table.
 * On a bad value writes "NAME: reason" to err and returns -1. Strings in cfg stay valid
 * until cfg_free(). */
int cfg_load(struct config *cfg, const char *dotenv_path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Value of a variable from the environment or `.env`, or NULL. Borrowed. Used for the
 * per-platform variables (CALLBRIDGE_<SLUG>_SECRET) that the table lists as a pattern. */
const char *cfg_lookup(const char *name);

/* Names of CALLBRIDGE_* variables that are set, in the environment or in the `.env` read
 * by cfg_load, but mean nothing (typos); calls fn once for each, with source
 * "environment" or ".env". is_known lets other modules claim their own patterned names. */
void cfg_each_unknown(bool (*is_known)(const char *name),
		      void (*fn)(const char *name, const char *source));

/* Prints the table as the Markdown rows of docs/configuration.md (the docs test compares them). */
void cfg_print_table(FILE *out);

/* Splits "HOST:PORT" or "[IPV6]:PORT" (port 0..65535). 0, or -1 when malformed. */
int cfg_split_hostport(const char *s, char *host, size_t hostlen, int *port);

/* The value of the variable name, or the contents of the file that name_FILE names (one
 * trailing newline dropped, at most 4 KiB): a malloc'd copy, or NULL when neither is set
 * (empty is unset). Both set, an unreadable file or no memory: NULL with *bad set and
 * err filled. For secrets and tokens, so that they need not sit in the environment. */
char *cfg_secret(const char *name, char *err, size_t errlen, bool *bad)
	__attribute__((warn_unused_result));

void cfg_free(void);

#endif
