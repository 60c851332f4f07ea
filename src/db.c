/* db — blocking connections with a connect timeout (see db.h). */
#include "db.h"

#include <stdio.h>
#include <string.h>

PGconn *db_connect(const char *conninfo, int timeout_s, char *err, size_t errlen)
{
	char timeout[16];
	snprintf(timeout, sizeof timeout, "%d", timeout_s);
	/* With expand_dbname, the parameters dbname's conninfo or URL spells out override
	 * the keywords before it: a connect_timeout in DATABASE_URL wins over the setting.
	 * libpq waits at least 2 s, and the timeout applies to each address of a host. */
	const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *vals[] = {timeout, "callbridge", conninfo, NULL};
	PGconn *pg = PQconnectdbParams(keys, vals, 1);
	if (pg && PQstatus(pg) == CONNECTION_OK)
		return pg;
	const char *why = pg ? PQerrorMessage(pg) : "out of memory";
	snprintf(err, errlen, "cannot connect to PostgreSQL%s: %s",
		 strstr(why, "timeout expired")
			 ? " (no answer within CALLBRIDGE_DB_CONNECT_TIMEOUT_SECONDS)"
			 : "",
		 why);
	err[strcspn(err, "\n")] = '\0';
	PQfinish(pg);
	return NULL;
}
