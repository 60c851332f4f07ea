/* pghosts — connection start with host rotation (see pghosts.h). */
#include "pghosts.h"
#include "hostlist.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static const char *const host_keys[3] = {"host", "hostaddr", "port"};

int pghosts_init(struct pghosts *h, const char *conninfo)
{
	*h = (struct pghosts){.nhosts = 1};
	if (!(h->conninfo = strdup(conninfo)))
		return -1;
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		for (int k = 0; k < 3; k++)
			if (o->val && o->val[0] && !strcmp(o->keyword, host_keys[k]))
				h->hosts[k] = strdup(o->val);
	PQconninfoFree(opts);
	h->nhosts = h->hosts[0]   ? hostlist_count(h->hosts[0])
		    : h->hosts[1] ? hostlist_count(h->hosts[1])
				  : 1;
	for (int k = 0; k < 3; k++)
		if (h->hosts[k] && strlen(h->hosts[k]) > 900)
			h->nhosts = 1; /* beyond pghosts_start's room: never rotated */
	return 0;
}

void pghosts_stuck(struct pghosts *h, PGconn *pg)
{
	if (h->nhosts < 2)
		return;
	const char *host = pg ? PQhost(pg) : NULL, *port = pg ? PQport(pg) : NULL;
	const char *list = h->hosts[0] ? h->hosts[0] : h->hosts[1];
	int at = host ? hostlist_find_pair(list, h->hosts[2], host, port) : -1;
	h->first = ((at >= 0 ? at : h->first) + 1) % h->nhosts;
	log_warn("a database host did not answer in time; the next attempt begins with the next",
		 "host", host ? host : "?", "port", port ? port : "?");
}

PGconn *pghosts_start(const struct pghosts *h, const char *application_name)
{
	const char *keys[6] = {"application_name", "dbname"};
	const char *vals[6] = {application_name, h->conninfo};
	char lists[3][1024];
	int n = 2;
	for (int k = 0; h->nhosts > 1 && h->first > 0 && k < 3; k++)
		if (h->hosts[k]) { /* after dbname: these override its host list */
			if (!hostlist_rotate(h->hosts[k], h->nhosts, h->first, lists[k],
					     sizeof lists[k]))
				continue; /* pghosts_init keeps lists that long from rotating */
			keys[n] = host_keys[k];
			vals[n++] = lists[k];
		}
	keys[n] = vals[n] = NULL;
	return PQconnectStartParams(keys, vals, 1);
}

void pghosts_free(struct pghosts *h)
{
	free(h->conninfo);
	for (int k = 0; k < 3; k++)
		free(h->hosts[k]);
	*h = (struct pghosts){0};
}
