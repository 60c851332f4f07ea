/* spoolrec — the spool's record format: records survive a round trip, one record's bytes
 * are pinned by hand (segments already on disk must keep reading), and a segment cut at
 * every byte, or with any bit of a record flipped, gives back exactly its whole, intact
 * records and never a record with wrong content. Every read is from a copy of exactly
 * the bytes under test, so that a read past them shows under AddressSanitizer. */
#include "harness.h"
#include "spoolrec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A literal with its length, NULs included. */
#define BYTES(s) s, sizeof(s) - 1

static char *copy(const char *p, size_t n)
{
	char *c = malloc(n ? n : 1);
	if (!c)
		abort();
	memcpy(c, p, n);
	return c;
}

static bool same(const struct spool_record *got, const struct spool_record *want)
{
	return !strcmp(got->platform, want->platform) &&
	       !strcmp(got->received_at, want->received_at) &&
	       !strcmp(got->dedupe_key, want->dedupe_key) && got->body_len == want->body_len &&
	       !memcmp(got->body, want->body, want->body_len) && got->body[got->body_len] == '\0' &&
	       got->flags == want->flags;
}

/* Encodes rec and reads it back from a copy of exactly its bytes. */
static bool round_trip(const struct spool_record *rec)
{
	size_t size = spoolrec_size(rec), len;
	char *buf = malloc(size);
	struct spool_record got;
	bool pass = buf && spoolrec_encode(rec, buf) == size &&
		    spoolrec_decode(buf, size, &got, &len) == SPOOLREC_OK && len == size &&
		    same(&got, rec);
	free(buf);
	return pass;
}

static enum spoolrec_result decode_flags(uint32_t flags)
{
	struct spool_record rec = {"simz", "2026-11-28T10:00:00.000000Z", "k", "{}", 2, flags};
	char buf[64];
	size_t len;
	spoolrec_encode(&rec, buf);
	return spoolrec_decode(buf, spoolrec_size(&rec), &rec, &len);
}

/* ---- one record, byte by byte ---- */

/* A record as 36-spool-flags.t writes one by hand (and as every segment on disk holds
 * them): magic, then payload length, CRC-32C of the payload and flags, little-endian,
 * then the four NUL-ended fields. The CRC was computed apart from this code base (the
 * bitwise Castagnoli loop of that test's Python). */
static const char pinned[] = "CBS1"
			     "\x44\x00\x00\x00" /* payload length: 68 */
			     "\x96\xe9\x0d\x04" /* CRC-32C of the payload: 0x040de996 */
			     "\x01\x00\x00\x00" /* flags: SPOOL_MAYBE_STORED */
			     "simz\0"
			     "2026-11-28T10:00:00.000000Z\0"
			     "simz:call.completed:c1\0"
			     "{\"id\":\"c1\"}\0";
static const struct spool_record pinned_rec = {"simz",
					       "2026-11-28T10:00:00.000000Z",
					       "simz:call.completed:c1",
					       "{\"id\":\"c1\"}",
					       11,
					       SPOOL_MAYBE_STORED};

static void test_pinned(void)
{
	size_t size = sizeof pinned - 1, len;
	char out[sizeof pinned];
	ok(spoolrec_size(&pinned_rec) == size, "size of the pinned record: %zu bytes", size);
	ok(spoolrec_encode(&pinned_rec, out) == size && !memcmp(out, pinned, size),
	   "encoding writes the pinned bytes exactly");
	char *in = copy(pinned, size);
	struct spool_record got;
	ok(spoolrec_decode(in, size, &got, &len) == SPOOLREC_OK && len == size &&
		   same(&got, &pinned_rec),
	   "the pinned bytes decode to the record");
	ok(got.platform == in + 16 && got.body == in + size - 12,
	   "decoded fields point into the bytes read, not into copies");
	free(in);

	ok(spoolrec_crc32c(BYTES("123456789")) == 0xE3069283u, "CRC-32C check value");
	static const char zeros[32];
	ok(spoolrec_crc32c(zeros, sizeof zeros) == 0x8A9136AAu,
	   "CRC-32C of 32 zero bytes (RFC 3720 B.4)");
	ok(spoolrec_crc32c("", 0) == 0, "CRC-32C of nothing");
}

static void test_round_trip(void)
{
	struct spool_record rec = {"simz", "2026-11-28T10:00:00.000000Z", "simz:k", "", 0, 0};
	ok(round_trip(&rec), "empty body");
	rec.flags = SPOOL_MAYBE_STORED;
	ok(round_trip(&rec), "empty body, maybe stored");
	struct spool_record empty = {"", "", "", "", 0, 0};
	ok(round_trip(&empty) && spoolrec_size(&empty) == 16 + 4,
	   "every field empty: four NULs of payload");

	size_t big = 3u << 20; /* bigger than any body CALLBRIDGE_MAX_BODY_BYTES allows */
	char *body = malloc(big);
	for (size_t i = 0; i < big; i++)
		body[i] = (char)(1 + i % 255); /* every byte value but NUL */
	struct spool_record large = {"atoms", "2026-01-01T00:00:00.000000Z", "atoms:x", body, big,
				     0};
	ok(round_trip(&large), "large body (3 MiB, every byte value but NUL)");
	large.flags = SPOOL_MAYBE_STORED;
	ok(round_trip(&large), "large body, maybe stored");
	free(body);

	ok(decode_flags(0) == SPOOLREC_OK && decode_flags(SPOOL_MAYBE_STORED) == SPOOLREC_OK,
	   "the flags there are: 0 and SPOOL_MAYBE_STORED");
	bool refused = true;
	for (int bit = 1; bit < 32; bit++)
		refused &= decode_flags(1u << bit) == SPOOLREC_CORRUPT &&
			   decode_flags(SPOOL_MAYBE_STORED | 1u << bit) == SPOOLREC_CORRUPT;
	ok(refused, "any other flag bit reads as corrupt, alone or with SPOOL_MAYBE_STORED");

	/* A payload must fit the 32-bit length: spoolrec_size says 0 past it, without
	 * touching the body (so a fake length is enough to ask). */
	if (SIZE_MAX > UINT32_MAX) {
		struct spool_record huge = {"a", "b", "c", "", 0, 0};
		huge.body_len = (size_t)UINT32_MAX - 7; /* payload: 2 + 2 + 2 + body + 1 */
		ok(spoolrec_size(&huge) == 16 + (size_t)UINT32_MAX,
		   "a payload of exactly 2^32 - 1 bytes fits");
		huge.body_len++;
		ok(spoolrec_size(&huge) == 0, "one byte more does not");
	}
}

/* Every cut of a lone record: a prefix of a good record is incomplete, never corrupt. */
static void test_prefixes(void)
{
	size_t size = sizeof pinned - 1, len = 1;
	bool pass = true;
	struct spool_record got = {0};
	for (size_t cut = 0; cut < size; cut++) {
		char *in = copy(pinned, cut);
		if (spoolrec_decode(in, cut, &got, &len) != SPOOLREC_INCOMPLETE || len != 0 ||
		    got.platform) {
			printf("# the pinned record cut to %zu bytes\n", cut);
			pass = false;
		}
		free(in);
	}
	ok(pass, "every prefix of a record reads as incomplete, and fills nothing");
	ok(spoolrec_decode(BYTES("CBX"), &got, &len) == SPOOLREC_CORRUPT &&
		   spoolrec_decode(BYTES("X"), &got, &len) == SPOOLREC_CORRUPT,
	   "a few bytes that do not start the magic are corrupt at once");
}

/* ---- a segment ---- */

#define NREC 5
static struct spool_record recs[NREC];
static char seg[4096];
static size_t seg_size, ends[NREC]; /* ends[i]: where record i ends in seg */

static void build_segment(void)
{
	static char body[301];
	for (size_t i = 0; i < sizeof body - 1; i++)
		body[i] = "0123456789abcdef"[i % 16];
	/* A body that holds the magic: reading after a cut or damage resumes at it, and
	 * must find no record there. */
	static const char magic_body[] = "{\"note\":\"CBS1 CBS1CBS1\"}";
	struct spool_record r[NREC] = {
		{"simz", "2026-11-28T10:00:00.000000Z", "simz:a", "{\"a\":1}", 7, 0},
		{"simpleai", "2026-11-28T10:00:01.000000Z", "simpleai:b", "", 0,
		 SPOOL_MAYBE_STORED},
		{"atoms", "2026-11-28T10:00:02.000000Z", "atoms:c", magic_body,
		 sizeof magic_body - 1, 0},
		{"allo", "2026-11-28T10:00:03.000000Z", "allo:d", body, sizeof body - 1,
		 SPOOL_MAYBE_STORED},
		{"replicer", "2026-11-28T10:00:04.000000Z", "replicer:e", "[]", 2, 0},
	};
	for (int i = 0; i < NREC; i++) {
		recs[i] = r[i];
		seg_size += spoolrec_encode(&recs[i], seg + seg_size);
		ends[i] = seg_size;
	}
}

/* Reads a whole segment from a copy of exactly its bytes; returns the good records'
 * number, their copies in out[] (up to NREC + 1), the iterator as it ended in *end.
 * Records point into the copy, so they are compared before it is freed: cmp[i] says
 * whether out[i] is recs[i]. */
static int scan(const char *data, size_t size, struct spoolrec_iter *end, bool cmp[NREC + 1])
{
	char *in = copy(data, size);
	struct spool_record r;
	int n = 0;
	spoolrec_iter_init(end, in, size);
	while (spoolrec_next(end, &r)) {
		if (n <= NREC)
			cmp[n] = n < NREC && same(&r, &recs[n]);
		n++;
	}
	free(in);
	return n;
}

static void test_segment_whole(void)
{
	struct spoolrec_iter it;
	bool cmp[NREC + 1];
	int n = scan(seg, seg_size, &it, cmp);
	bool all = n == NREC;
	for (int i = 0; i < NREC && all; i++)
		all = cmp[i];
	ok(all && it.keep == seg_size && it.corrupt == 0,
	   "a segment of %d records reads back whole, in order", NREC);

	n = scan("", 0, &it, cmp);
	ok(n == 0 && it.keep == 0 && it.corrupt == 0, "an empty segment: nothing, nothing kept");

	/* A crash can leave a file longer than what was written, the rest zeros. */
	static char zeroed[sizeof seg + 4096];
	memcpy(zeroed, seg, seg_size);
	n = scan(zeroed, seg_size + 4096, &it, cmp);
	ok(n == NREC && it.keep == seg_size && it.corrupt == 0,
	   "a tail of zeros is a torn tail: cut, not counted as corrupt");
}

/* Cut at every byte: exactly the records wholly before the cut come back, the cut one
 * reads as incomplete, and what to keep ends at the last whole record. */
static void test_truncation(void)
{
	bool pass = true;
	for (size_t cut = 0; cut <= seg_size; cut++) {
		int whole = 0;
		while (whole < NREC && ends[whole] <= cut)
			whole++;
		size_t keep = whole ? ends[whole - 1] : 0;
		struct spoolrec_iter it;
		bool cmp[NREC + 1] = {false};
		int n = scan(seg, cut, &it, cmp);
		bool good = n == whole && it.keep == keep && it.corrupt == 0;
		for (int i = 0; i < n && i < whole; i++)
			good &= cmp[i];
		if (cut > keep) {
			char *tail = copy(seg + keep, cut - keep);
			struct spool_record r;
			size_t len;
			good &= spoolrec_decode(tail, cut - keep, &r, &len) == SPOOLREC_INCOMPLETE;
			free(tail);
		}
		if (!good) {
			printf("# cut at %zu: %d records (want %d), keep %zu (want %zu), "
			       "corrupt %llu\n",
			       cut, n, whole, it.keep, keep, (unsigned long long)it.corrupt);
			pass = false;
		}
	}
	ok(pass,
	   "cut at each of %zu offsets: the whole records before the cut, the rest a torn tail",
	   seg_size + 1);
}

/* Damage record k of the segment with f (a flipped bit, or a byte inverted) at byte i
 * of it, and read. Only the header's SPOOL_MAYBE_STORED bit may change without being
 * seen (it is outside the checksum, by design: see spoolrec.h); anything else damaged
 * leaves that record unread, counted as corrupt unless it is the last (then it is a
 * torn tail), and every other record intact. */
static bool damaged_reads_right(int k, size_t i, unsigned char mask)
{
	size_t start = k ? ends[k - 1] : 0, rlen = ends[k] - start;
	char *d = copy(seg, seg_size);
	d[start + i] ^= (char)mask;
	bool flag_bit = i == 12 && mask == SPOOL_MAYBE_STORED;

	/* The record alone: a damaged length that promises more than there is reads as
	 * incomplete; anything else damaged is corrupt. */
	char *alone = copy(d + start, rlen);
	struct spool_record r;
	size_t len;
	enum spoolrec_result want = SPOOLREC_CORRUPT;
	if (i >= 4 && i < 8) {
		uint32_t plen = 0;
		for (int b = 0; b < 4; b++)
			plen |= (uint32_t)(unsigned char)alone[4 + b] << (8 * b);
		if (plen > rlen - 16)
			want = SPOOLREC_INCOMPLETE;
	}
	enum spoolrec_result got = spoolrec_decode(alone, rlen, &r, &len);
	bool pass = flag_bit ? got == SPOOLREC_OK && r.flags == (recs[k].flags ^ 1) : got == want;
	free(alone);

	/* In the segment. */
	struct spoolrec_iter it;
	char *in = copy(d, seg_size);
	int n = 0;
	spoolrec_iter_init(&it, in, seg_size);
	while (spoolrec_next(&it, &r)) {
		int idx = n < k || flag_bit ? n : n + 1; /* the damaged record is skipped */
		if (idx >= NREC) {
			pass = false;
			break;
		}
		struct spool_record w = recs[idx];
		if (flag_bit && idx == k)
			w.flags ^= SPOOL_MAYBE_STORED;
		pass &= same(&r, &w);
		n++;
	}
	bool last = k == NREC - 1;
	if (flag_bit)
		pass &= n == NREC && it.keep == seg_size && it.corrupt == 0;
	else
		pass &= n == NREC - 1 && it.keep == (last ? start : seg_size) &&
			it.corrupt == (last ? 0u : 1u);
	free(in);
	free(d);
	if (!pass)
		printf("# record %d, byte %zu, mask 0x%02x: read wrong\n", k, i, mask);
	return pass;
}

static void test_damage(void)
{
	for (int k = 0; k < NREC; k++) {
		size_t start = k ? ends[k - 1] : 0, rlen = ends[k] - start;
		bool bits = true, bytes = true;
		for (size_t i = 0; i < rlen; i++) {
			for (int b = 0; b < 8; b++)
				bits &= damaged_reads_right(k, i, (unsigned char)(1u << b));
			bytes &= damaged_reads_right(k, i, 0xFF);
		}
		ok(bits, "record %d of %d: each of its %zu bits flipped is seen (but the flag's)",
		   k + 1, NREC, rlen * 8);
		ok(bytes, "record %d of %d: each of its %zu bytes inverted is seen", k + 1, NREC,
		   rlen);
	}
}

/* What start-up counts as corrupt: bad stretches between good records, not records. The
 * segment 36-spool-flags.t writes (an unknown flag bit on the third record) and two bad
 * records in a row (one stretch). */
static void test_corrupt_count(void)
{
	char d[sizeof seg];
	struct spoolrec_iter it;
	bool cmp[NREC + 1];
	memcpy(d, seg, seg_size);
	d[ends[1] + 12] |= 6; /* record 3's flags */
	int n = scan(d, seg_size, &it, cmp);
	ok(n == NREC - 1 && it.corrupt == 1 && it.keep == seg_size && cmp[0] && cmp[1] && !cmp[2],
	   "an unknown flag bit mid-segment: that record skipped and counted, the rest read");

	memcpy(d, seg, seg_size);
	d[ends[0] + 20] ^= 1; /* record 2's payload */
	d[ends[1] + 20] ^= 1; /* record 3's */
	n = scan(d, seg_size, &it, cmp);
	ok(n == NREC - 2 && it.corrupt == 1 && it.keep == seg_size,
	   "two damaged records in a row: one bad stretch (counted once), the rest read");

	memcpy(d, seg, seg_size);
	memcpy(d, "garbage!", 8);
	n = scan(d, seg_size, &it, cmp);
	ok(n == NREC - 1 && it.corrupt == 1 && it.keep == seg_size,
	   "garbage where the segment starts: skipped to the next record, counted");
}

/* Checksummed bytes that are still no record: the fields must be exactly four. A body
 * holding a NUL (which intake never lets through) would otherwise come back cut short. */
static void test_fields(void)
{
	struct spool_record rec = {"simz", "t", "k", "a\0b", 3, 0}, got;
	char buf[64];
	size_t size = spoolrec_encode(&rec, buf), len;
	ok(spoolrec_decode(buf, size, &got, &len) == SPOOLREC_CORRUPT,
	   "five NUL-ended fields, checksum good: corrupt, not a body cut at its NUL");

	/* Three fields, checksum good: 16 bytes of header, then "a\0b\0c\0". */
	memcpy(buf, "CBS1\x06\x00\x00\x00\0\0\0\0\0\0\0\0a\0b\0c\0", 22);
	uint32_t crc = spoolrec_crc32c(buf + 16, 6);
	for (int i = 0; i < 4; i++)
		buf[8 + i] = (char)(crc >> (8 * i));
	ok(spoolrec_decode(buf, 22, &got, &len) == SPOOLREC_CORRUPT,
	   "three NUL-ended fields, checksum good: corrupt");
	buf[21] = 'd';
	crc = spoolrec_crc32c(buf + 16, 6);
	for (int i = 0; i < 4; i++)
		buf[8 + i] = (char)(crc >> (8 * i));
	ok(spoolrec_decode(buf, 22, &got, &len) == SPOOLREC_CORRUPT,
	   "a last field without its NUL, checksum good: corrupt");
}

/* One stray byte before a record (at the start, between two records, at the end): reading
 * picks up again at the very next byte, so no record is lost to it. */
static void test_stray_byte(void)
{
	bool pass = true;
	for (int k = 0; k <= NREC; k++) {
		size_t at = k ? ends[k - 1] : 0;
		for (int c = 0; c < 256; c++) {
			char d[sizeof seg + 1];
			memcpy(d, seg, at);
			d[at] = (char)c;
			memcpy(d + at + 1, seg + at, seg_size - at);
			struct spoolrec_iter it;
			bool cmp[NREC + 1];
			int n = scan(d, seg_size + 1, &it, cmp);
			bool good = n == NREC && it.corrupt == (k < NREC ? 1u : 0u) &&
				    it.keep == (k < NREC ? seg_size + 1 : seg_size);
			for (int i = 0; i < NREC && good; i++)
				good = cmp[i];
			if (!good) {
				printf("# byte 0x%02x before record %d\n", c, k + 1);
				pass = false;
			}
		}
	}
	ok(pass, "a stray byte (each of 256 values) before each record and at the end: every "
		 "record read, one bad stretch (none at the end: a torn tail)");
}

int main(void)
{
	test_pinned();
	test_round_trip();
	test_prefixes();
	build_segment();
	test_segment_whole();
	test_truncation();
	test_damage();
	test_corrupt_count();
	test_fields();
	test_stray_byte();
	return done_testing();
}
