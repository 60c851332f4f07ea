/* hostlist — libpq's comma-separated host lists (host, hostaddr, port), for the writer's
 * failover: after an attempt stuck on one host, the next begins with the host after it
 * (see pgw.c, "several hosts"). Pure: no libpq, no I/O. */
#ifndef CALLBRIDGE_HOSTLIST_H
#define CALLBRIDGE_HOSTLIST_H

#include <stdbool.h>
#include <stddef.h>

/* How many items list holds: its commas plus one. */
int hostlist_count(const char *list);

/* The index of the item equal to item in list, or -1. */
int hostlist_find(const char *list, const char *item);

/* The index k of host in hosts whose port (item k of ports) is port, or -1. When ports is
 * NULL or not one per host (a single port for every host), the first k where host is. */
int hostlist_find_pair(const char *hosts, const char *ports, const char *host, const char *port);

/* list rotated to begin with item first ("a,b,c", 1 -> "b,c,a") into out. A list whose
 * count is not n (a single port for every host) is copied as it is. false, with out
 * empty, when out is too small. */
bool hostlist_rotate(const char *list, int n, int first, char *out, size_t outlen);

#endif
