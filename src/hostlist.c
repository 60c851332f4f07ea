/* hostlist — libpq's comma-separated host lists (see hostlist.h). */
#include "hostlist.h"

#include <stdio.h>
#include <string.h>

int hostlist_count(const char *list)
{
	int n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	return n;
}

/* The start of item k of list (k < its count). */
static const char *item_at(const char *list, int k)
{
	const char *p = list;
	for (int i = 0; i < k; i++)
		p = strchr(p, ',') + 1;
	return p;
}

static bool item_is(const char *list, int k, const char *item)
{
	const char *p = item_at(list, k);
	size_t len = strlen(item);
	return strcspn(p, ",") == len && !strncmp(p, item, len);
}

int hostlist_find(const char *list, const char *item)
{
	return hostlist_find_pair(list, NULL, item, NULL);
}

int hostlist_find_pair(const char *hosts, const char *ports, const char *host, const char *port)
{
	int n = hostlist_count(hosts);
	bool by_port = ports && port && hostlist_count(ports) == n;
	for (int k = 0; k < n; k++)
		if (item_is(hosts, k, host) && (!by_port || item_is(ports, k, port)))
			return k;
	return -1;
}

bool hostlist_rotate(const char *list, int n, int first, char *out, size_t outlen)
{
	int wrote;
	if (hostlist_count(list) != n || first <= 0 || first >= n) {
		wrote = snprintf(out, outlen, "%s", list);
	} else {
		const char *p = item_at(list, first);
		wrote = snprintf(out, outlen, "%s,%.*s", p, (int)(p - list - 1), list);
	}
	if (wrote < 0 || (size_t)wrote >= outlen) {
		if (outlen)
			out[0] = '\0';
		return false;
	}
	return true;
}
