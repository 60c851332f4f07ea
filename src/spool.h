/* spool — the writer's fallback while PostgreSQL is away: verified deliveries appended
 * to local segment files, fsync'd before they are acknowledged, and drained later through
 * the normal idempotent path.
 *
 * DESIGN
 * Guarantee: when spool_append() reports success, the record is on disk (write + fdatasync
 * of its segment, directory fsync'd when the segment was created); a crash at any moment
 * loses no reported record. Appends are grouped: a writer thread takes every record queued
 * since its last fdatasync and syncs them together, so the event loop never blocks on disk
 * (it only copies the record into the queue). Each synced batch comes back to the loop
 * through a relay (src/relay.c).
 *
 * Format: segment files <dir>/spool-<16 hex digits>.log, appended in order, each a run of
 * checksummed records; the record layout and the rule for reading a damaged segment are
 * src/spoolrec.h's. Start-up scans every segment: a torn last record (crash mid-write) is
 * cut off the file, a record whose checksum fails is reported and skipped, everything
 * else survives.
 *
 * Draining: spool_seal() closes the segment being written; spool_load_segment() hands out
 * the oldest sealed segment's records; spool_release() deletes a segment once all its
 * records are committed, and from then on it is never handed out again, even while its
 * deletion still waits behind appends in the writer thread (a file that cannot be
 * deleted is drained again at the next start). Re-draining after a crash only produces
 * duplicates, not counted again (drain.h). A segment with a record the database refuses
 * even as a dead letter is not deleted but renamed quarantine-<16 hex digits>.log
 * (spool_quarantine): never drained again by itself, it is drained at the next start
 * once renamed back to spool-<same digits>.log (its other records then come back as
 * duplicates).
 *
 * Ownership: spool_append copies what it is given; records handed out by
 * spool_load_segment belong to the caller's struct spool_segment until
 * spool_segment_free. */
#ifndef CALLBRIDGE_SPOOL_H
#define CALLBRIDGE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct spool;

/* The delivery was spooled after its COMMIT went unanswered: it may be stored already, and
 * finding it stored is then not another delivery (see pgw_delivery.maybe_stored). */
#define SPOOL_MAYBE_STORED 1u

struct spool_record {
	const char *platform;
	const char *received_at;
	const char *dedupe_key;
	const char *body;
	size_t body_len;
	uint32_t flags; /* SPOOL_MAYBE_STORED or 0 */
};

struct spool_stats {
	uint64_t bytes;           /* on disk, all segments */
	uint64_t records;         /* not yet drained */
	uint64_t corrupt;         /* records skipped at start-up because their checksum failed */
	uint64_t appended;        /* since start */
	uint64_t fsyncs;          /* since start */
	uint64_t quarantined;     /* segments put in quarantine since start */
	int64_t backlog_since_us; /* when the spool last went from empty to holding records
				     (start-up, for records found then); 0 while empty */
};

/* Opens (creating) dir, repairs and counts existing segments, starts the writer thread.
 * NULL with err filled on failure. */
struct spool *spool_open(struct event_base *base, const char *dir, uint64_t max_bytes, char *err,
			 size_t errlen);

/* Queues rec for a durable append; done(arg, ok) is called from the loop once it is on
 * disk (ok = true) or could not be written (ok = false). Returns -1 at once (done not
 * called) when the spool is full. */
int spool_append(struct spool *s, const struct spool_record *rec, void (*done)(void *arg, bool ok),
		 void *arg) __attribute__((warn_unused_result));

/* Ends the segment being written, so that everything appended so far can be drained. */
void spool_seal(struct spool *s);

struct spool_segment {
	uint64_t seq;
	int n;
	struct spool_record *rec;
	char *data;
	size_t size;
};

/* Loads the oldest sealed segment into seg. Returns 1 when one was loaded, 0 when there
 * is none, -1 on a read error (err filled). */
int spool_load_segment(struct spool *s, struct spool_segment *seg, char *err, size_t errlen);

/* Deletes a drained segment and frees seg. */
void spool_release(struct spool *s, struct spool_segment *seg);

/* Instead of deleting a drained segment, renames it to its quarantine name (written to
 * path), and frees seg. Its records no longer count in the spool's figures. */
void spool_quarantine(struct spool *s, struct spool_segment *seg, char *path, size_t pathlen);
void spool_segment_free(struct spool_segment *seg);

void spool_get_stats(struct spool *s, struct spool_stats *out);
/* True once an append has been refused for room (until a segment is drained). */
bool spool_is_full(struct spool *s);

/* Stops the writer thread after it has written what is queued, and reports those last
 * appends to their callbacks. */
void spool_close(struct spool **s);

#endif
