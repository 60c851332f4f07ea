/* worker — the receiving event loops of CALLBRIDGE_WORKERS > 1: CALLBRIDGE_WORKERS - 1
 * threads, each with its own loop and HTTP server on the shared port, handing deliveries
 * to the writer's loop (see http.h). */
#ifndef CALLBRIDGE_WORKER_H
#define CALLBRIDGE_WORKER_H

#include <stddef.h>

struct event_base;
struct http_server;
struct workers;

/* An event loop as every loop of the daemon wants it. */
struct event_base *worker_new_base(void);

/* Starts n receivers for writer. Returns NULL with err filled when one cannot listen. */
struct workers *worker_start(struct http_server *writer, int n, char *err, size_t errlen);

/* From the writer's loop: every receiver stops accepting. */
void worker_stop(struct workers *ws);

/* Stops the receivers, lets them answer what the writer sent back, joins and frees them. */
void worker_free(struct workers **ws);

#endif
