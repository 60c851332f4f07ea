/* status — the operator's page (GET /status on the admin listener): one self-contained
 * HTML page, rendered here on each request and refreshing itself every STATUS_REFRESH_S
 * seconds with a meta tag (no script, no external asset). It shows, per platform, the
 * last delivery and its age, deliveries per minute over the last hour (an inline SVG
 * chart), failures and the last error, signature refusals; the spool's depth and
 * backlog; the database connection and batch commit times; the change feed's newest
 * version.
 *
 * Per-minute counts come from samples of the delivery counters taken once a minute on
 * the writer's loop (nothing on the delivery path). The change feed's version is read by
 * a short-lived thread with a connection of its own, at most every STATUS_FEED_EVERY_S
 * seconds while the page is looked at, so a slow database never holds up the loop; the
 * page shows the last value read and when.
 *
 * Ownership: struct status belongs to the writer's loop (status_new/status_free there);
 * status_render is called on that loop. */
#ifndef CALLBRIDGE_STATUS_H
#define CALLBRIDGE_STATUS_H

#include "writer.h"

struct event_base;
struct evbuffer;
struct status;

#define STATUS_REFRESH_S    10
#define STATUS_FEED_EVERY_S 5

struct status *status_new(struct event_base *base, const char *conninfo, int connect_timeout_s);
/* Renders the page for v (the writer's view) into out. */
void status_render(struct status *st, struct evbuffer *out, const struct writer_view *v);
/* Waits for a feed read in flight (bounded by its connect timeout). */
void status_free(struct status **st);

#endif
