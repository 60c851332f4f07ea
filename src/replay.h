/* replay — `callbridge replay`: re-runs the mappers over stored raw events (after a
 * mapper fix, or to map events stored as unmapped) through the same intake and writer
 * as live deliveries. Idempotent: replaying twice changes nothing more. */
#ifndef CALLBRIDGE_REPLAY_H
#define CALLBRIDGE_REPLAY_H

#include "config.h"

struct replay_filter {
	const char *platform; /* slug, or NULL for all */
	const char *status;   /* mapped|unmapped|failed, or NULL for all */
	const char *since;    /* received_at >= this timestamp, or NULL */
};

/* Prints a summary on stdout. Returns 0, or -1 with err filled. */
int replay_run(const struct config *cfg, const struct replay_filter *f, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
