/* migrate — applies the migrations compiled in from the .sql files of sql/migrations, in order,
 * each once, recorded in callbridge.schema_migrations. An advisory lock makes concurrent start-ups
 * safe: the second waits, then finds nothing left to do. Blocking libpq: this runs before the
 * server, never inside the event loop. */
#ifndef CALLBRIDGE_MIGRATE_H
#define CALLBRIDGE_MIGRATE_H

#include <stddef.h>

struct migration {
	const char *version;
	const char *sql;
};

extern const struct migration migrate_list[];
extern const int migrate_count;

/* Returns the number applied (0 when up to date), or -1 with err filled. timeout_s: the
 * connect timeout (see db.h). */
int migrate_run(const char *conninfo, int timeout_s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Number of compiled-in migrations not applied yet in the database, or -1 with err. */
int migrate_pending(const char *conninfo, int timeout_s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
