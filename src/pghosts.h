/* pghosts — starting a libpq connection to DATABASE_URL with failover across its hosts,
 * shared by the writer (pgw.c) and the pre-call lookups (precall.c).
 *
 * libpq tries a URL's hosts in turn, but its connect_timeout does not apply to a
 * non-blocking connection: the caller's own timer ends an attempt stuck on a host that
 * accepts and never answers (or drops packets), and the next attempt would begin with
 * that host again, never reaching the others. So after a timed-out attempt
 * (pghosts_stuck), the next one begins with the host after the one it was stuck on: the
 * lists given to libpq rotated (the list handling is hostlist.c). */
#ifndef CALLBRIDGE_PGHOSTS_H
#define CALLBRIDGE_PGHOSTS_H

#include <libpq-fe.h>

struct pghosts {
	char *conninfo;
	char *hosts[3]; /* host, hostaddr, port: comma-separated, as libpq takes them */
	int nhosts, first;
};

/* -1 when out of memory. */
int pghosts_init(struct pghosts *h, const char *conninfo) __attribute__((warn_unused_result));

/* PQconnectStartParams on the hosts, the next attempt's first host first, with
 * application_name; NULL when out of memory. */
PGconn *pghosts_start(const struct pghosts *h, const char *application_name);

/* An attempt on pg timed out: the next begins with the host after the one it was on. */
void pghosts_stuck(struct pghosts *h, PGconn *pg);

void pghosts_free(struct pghosts *h);

#endif
