/* relay — a mailbox between threads: any thread posts, the event loop that owns the
 * relay receives, in the order posted. With CALLBRIDGE_WORKERS > 1 the receiving loops
 * hand deliveries to the writer's loop through one, and get their answers back through
 * their own. */
#ifndef CALLBRIDGE_RELAY_H
#define CALLBRIDGE_RELAY_H

struct event_base;
struct relay;

/* A posted item embeds this (first or anywhere); the relay only links it. */
struct relay_node {
	struct relay_node *next;
};

/* cb runs on base's loop thread, once per item posted. */
struct relay *relay_new(struct event_base *base, void (*cb)(struct relay_node *n, void *arg),
			void *arg);

/* From any thread. n must not be posted again before cb has had it. */
void relay_post(struct relay *r, struct relay_node *n);

/* On the owning thread: runs cb for what is queued now (also when the loop has stopped). */
void relay_run(struct relay *r);

/* Items still queued are not delivered. */
void relay_free(struct relay **r);

#endif
