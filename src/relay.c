/* relay — mailbox between threads (see relay.h). A mutex-guarded list and an eventfd that
 * wakes the owning loop. */
#include "relay.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

struct relay {
	pthread_mutex_t mu;
	struct relay_node *head, *tail;
	int efd;
	struct event *ev;
	void (*cb)(struct relay_node *n, void *arg);
	void *arg;
};

void relay_run(struct relay *r)
{
	pthread_mutex_lock(&r->mu);
	struct relay_node *n = r->head;
	r->head = r->tail = NULL;
	pthread_mutex_unlock(&r->mu);
	while (n) {
		struct relay_node *next = n->next; /* before cb: it may free n */
		r->cb(n, r->arg);
		n = next;
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	uint64_t count;
	if (read(fd, &count, sizeof count) < 0 && errno != EAGAIN)
		log_error("relay: eventfd read failed", "error", strerror(errno));
	relay_run(arg);
}

struct relay *relay_new(struct event_base *base, void (*cb)(struct relay_node *n, void *arg),
			void *arg)
{
	struct relay *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	r->cb = cb;
	r->arg = arg;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->ev = r->efd >= 0 ? event_new(base, r->efd, EV_READ | EV_PERSIST, on_wake, r) : NULL;
	if (!r->ev || event_add(r->ev, NULL) < 0) {
		relay_free(&r);
		return NULL;
	}
	return r;
}

void relay_post(struct relay *r, struct relay_node *n)
{
	uint64_t one = 1;
	pthread_mutex_lock(&r->mu);
	n->next = NULL;
	if (r->tail)
		r->tail->next = n;
	else
		r->head = n;
	r->tail = n;
	pthread_mutex_unlock(&r->mu);
	/* An eventfd counter only fails to add at 2^64 - 2; the item is queued either way
	 * and the next wake-up delivers it. */
	if (write(r->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_error("relay: eventfd write failed", "error", strerror(errno));
}

void relay_free(struct relay **rp)
{
	struct relay *r = *rp;
	if (!r)
		return;
	if (r->ev)
		event_free(r->ev);
	if (r->efd >= 0)
		close(r->efd);
	pthread_mutex_destroy(&r->mu);
	free(r);
	*rp = NULL;
}
