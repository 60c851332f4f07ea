/* db — the blocking PostgreSQL connections made outside the event loop: the start-up
 * schema check, `callbridge migrate`, replay's reads and `callbridge export`. Each gives
 * up after the configured connect timeout (CALLBRIDGE_DB_CONNECT_TIMEOUT_SECONDS), as the
 * writer's own connections do, so a database that accepts and never answers cannot hang
 * start-up or a command. */
#ifndef CALLBRIDGE_DB_H
#define CALLBRIDGE_DB_H

#include <stddef.h>

#include <libpq-fe.h>

/* Connects to conninfo (a libpq URI or key=value string) with connect_timeout set to
 * timeout_s, unless conninfo sets its own. Returns the connection (the caller PQfinish-es
 * it), or NULL with a one-line reason in err. */
PGconn *db_connect(const char *conninfo, int timeout_s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
