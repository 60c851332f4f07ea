/* worker — receiving loops on threads of their own (see worker.h). */
#include "worker.h"
#include "http.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct worker {
	pthread_t thread;
	struct event_base *base;
	struct http_server *http;
	int started;
};

struct workers {
	int n;
	struct worker w[];
};

struct event_base *worker_new_base(void)
{
	/* A plain epoll base, without EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST: the changelist
	 * defers epoll_ctl to the next loop pass, after the descriptor may have been closed
	 * and its number reused (by another thread, or by conn.c's dup for a lingering
	 * close, which libevent's documentation names as unsafe with it). */
	return event_base_new();
}

static void *run(void *arg)
{
	struct worker *k = arg;
	event_base_dispatch(k->base);
	return NULL;
}

struct workers *worker_start(struct http_server *writer, int n, char *err, size_t errlen)
{
	struct workers *ws = calloc(1, sizeof *ws + (size_t)n * sizeof ws->w[0]);
	if (!ws) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ws->n = n;
	/* Signals are the writer's: the receivers' threads block them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < n; i++) {
		struct worker *k = &ws->w[i];
		k->base = worker_new_base();
		k->http = k->base ? http_new_receiver(k->base, writer) : NULL;
		if (!k->http) {
			snprintf(err, errlen, "out of memory at start-up");
			break;
		}
		if (http_listen(k->http, err, errlen) < 0)
			break;
		if (pthread_create(&k->thread, NULL, run, k) != 0) {
			snprintf(err, errlen, "cannot start a worker thread");
			break;
		}
		k->started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (int i = 0; i < n; i++)
		if (!ws->w[i].started) {
			worker_free(&ws);
			return NULL;
		}
	return ws;
}

void worker_stop(struct workers *ws)
{
	for (int i = 0; ws && i < ws->n; i++)
		if (ws->w[i].started)
			http_post_stop(ws->w[i].http);
}

void worker_free(struct workers **wsp)
{
	struct workers *ws = *wsp;
	if (!ws)
		return;
	for (int i = 0; i < ws->n; i++) {
		struct worker *k = &ws->w[i];
		if (k->started) {
			http_post_exit(k->http);
			pthread_join(k->thread, NULL);
		}
		http_free(&k->http);
		if (k->base)
			event_base_free(k->base);
	}
	free(ws);
	*wsp = NULL;
}
