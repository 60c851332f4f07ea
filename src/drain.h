/* drain — replays spooled deliveries into PostgreSQL once it is back: the oldest sealed
 * segment first, its records in order, through intake and the writer exactly like live
 * deliveries; the segment is deleted only when every record is committed. A spooled
 * delivery was acknowledged, so none is ever dropped: one the database refuses (or that
 * no longer passes intake) is stored raw as 'failed' with the reason, a dead letter that
 * `callbridge replay --status failed` maps later; one refused even so keeps its segment,
 * which goes to quarantine instead of being deleted (see spool.h). Both are logged as
 * errors. A lost connection mid-segment keeps the segment loaded: the next attempt
 * resubmits only the records not yet committed, those whose COMMIT went unanswered with
 * maybe_stored (so they are not counted twice in delivery_count). After a
 * crash mid-segment the whole segment is drained again: its committed records then come
 * back as duplicates of themselves, which the duplicate statement knows by their arrival
 * instant and does not count again (batchsql.c). */
#ifndef CALLBRIDGE_DRAIN_H
#define CALLBRIDGE_DRAIN_H

#include <stdint.h>

struct event_base;
struct pgw;
struct spool;
struct drain;

struct drain *drain_new(struct event_base *base, struct spool *spool, struct pgw *pgw);

/* Drained records since start, and records the database refused (stored as dead
 * letters, or quarantined). */
void drain_counts(const struct drain *d, uint64_t *drained, uint64_t *refused);

/* Stops taking new records (before the writer is freed at shutdown). */
void drain_stop(struct drain *d);

void drain_free(struct drain **d);

#endif
