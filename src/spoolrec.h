/* spoolrec — the spool's on-disk record format, pure: encoding a record into bytes,
 * reading and checking records back out of a segment's bytes, and the rule for what of a
 * segment survives a crash. No files, threads or event loop: spool.c reads and writes
 * the files and calls these.
 *
 * FORMAT (the bytes of every segment ever written; changing it strands old segments)
 * A segment is records back to back, nothing between them. A record is a 16-byte header
 * and a payload; the header's integers are 32-bit little-endian:
 *   0  magic "CBS1"
 *   4  payload length
 *   8  CRC-32C (Castagnoli) of the payload
 *  12  flags: SPOOL_MAYBE_STORED or 0; a record with any other bit set reads as corrupt
 *  16  payload: platform slug (or "<slug>.<source>" for a source of the sources file;
 *      a slug alone is the default source, as in every segment written before sources),
 *      received_at, dedupe key and body, each followed by a NUL
 *      (so no field holds a NUL: the body is JSON text that intake has checked, and
 *      JSON text has none).
 * The flags are outside the checksum: a flipped SPOOL_MAYBE_STORED can only change
 * whether a duplicate is counted in delivery_count, never what is stored.
 *
 * READING A SEGMENT (spoolrec_next)
 * Records are read in order. Where the bytes are not a good record (whatever the
 * reason), reading resumes at the next "CBS1" after that point; such a bad stretch is
 * counted as corrupt when a good record follows it. A bad stretch at the very end is a
 * torn tail (a crash mid-write: the record was never acknowledged) and is not counted.
 * What to keep of the segment is everything up to the end of its last good record.
 *
 * Ownership: records handed out point into the caller's bytes (no copies); they live as
 * long as those bytes do. */
#ifndef CALLBRIDGE_SPOOLREC_H
#define CALLBRIDGE_SPOOLREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct spool_record and SPOOL_MAYBE_STORED: the record as http.c and drain.c see it
 * stays spool's public type; this module only lays it out. (spool.h is declarations
 * only: no I/O comes in with it.) */
#include "spool.h"

#define SPOOLREC_HDR 16 /* header bytes before the payload */

/* Bytes rec takes on disk (header and payload), or 0 when its payload would not fit the
 * 32-bit length field. */
size_t spoolrec_size(const struct spool_record *rec);

/* Writes rec into out[spoolrec_size(rec)] (which must not be 0) and returns the bytes
 * written. rec->flags is written as it is: unknown bits make a record that reads back
 * as corrupt. */
size_t spoolrec_encode(const struct spool_record *rec, char *out);

enum spoolrec_result {
	SPOOLREC_OK,         /* a whole, good record */
	SPOOLREC_INCOMPLETE, /* so far a good start, but cut short: a torn write, or more to come */
	SPOOLREC_CORRUPT,    /* these bytes are not a record, whatever follows them */
};

/* Reads the record that starts at data[0], looking at no byte past data[size - 1].
 * SPOOLREC_OK: rec is filled (its strings point into data) and *len is the record's
 * size in bytes. Otherwise rec is left alone and *len is 0. A length field that was
 * damaged to point past size reads as SPOOLREC_INCOMPLETE: the two cannot be told apart
 * until the bytes it promises are there. */
enum spoolrec_result spoolrec_decode(const char *data, size_t size, struct spool_record *rec,
				     size_t *len) __attribute__((warn_unused_result));

/* Walks a segment's bytes; plain data, set up by spoolrec_iter_init. */
struct spoolrec_iter {
	const char *data;
	size_t size;
	size_t pos;       /* where reading resumes */
	size_t keep;      /* end of the last good record so far: what survives a torn tail */
	uint64_t corrupt; /* bad stretches so far that a good record followed */
	bool bad;         /* in a bad stretch (not yet counted) */
};

void spoolrec_iter_init(struct spoolrec_iter *it, const char *data, size_t size);

/* The next good record (as spoolrec_decode fills it), skipping bad stretches; false at
 * the end of the bytes. Once it has returned false, it->keep is how many bytes of the
 * segment to keep (anything after is a torn tail) and it->corrupt how many bad
 * stretches were skipped. */
bool spoolrec_next(struct spoolrec_iter *it, struct spool_record *rec)
	__attribute__((warn_unused_result));

/* CRC-32C (Castagnoli) of len bytes, as the header carries it. */
uint32_t spoolrec_crc32c(const void *data, size_t len);

#endif
