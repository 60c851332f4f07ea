/* spoolrec — the spool's record format on bytes in memory (see spoolrec.h FORMAT). */
#include "spoolrec.h"

#include <pthread.h>
#include <string.h>

static const char magic[4] = {'C', 'B', 'S', '1'};

/* ---- CRC-32C ---- */

/* A table makes the checksum fast enough for the loop thread, which checks whole
 * segments (up to 16 MiB) when it drains; it is built once, by the first thread to
 * need it. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t spoolrec_crc32c(const void *data, size_t len)
{
	pthread_once(&crc_once, crc_init);
	const unsigned char *p = data;
	uint32_t c = 0xFFFFFFFFu;
	while (len--)
		c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* Little-endian whatever the host, so that a segment reads the same on any machine. */
static void put32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

static uint32_t get32(const char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)(unsigned char)p[i] << (8 * i);
	return v;
}

/* ---- encoding ---- */

static size_t payload_size(const struct spool_record *rec)
{
	return strlen(rec->platform) + 1 + strlen(rec->received_at) + 1 + strlen(rec->dedupe_key) +
	       1 + rec->body_len + 1;
}

size_t spoolrec_size(const struct spool_record *rec)
{
	size_t len = payload_size(rec);
	return len > UINT32_MAX ? 0 : SPOOLREC_HDR + len;
}

size_t spoolrec_encode(const struct spool_record *rec, char *out)
{
	size_t pl = strlen(rec->platform) + 1, rl = strlen(rec->received_at) + 1,
	       kl = strlen(rec->dedupe_key) + 1, len = pl + rl + kl + rec->body_len + 1;
	char *p = out + SPOOLREC_HDR;
	memcpy(p, rec->platform, pl);
	memcpy(p + pl, rec->received_at, rl);
	memcpy(p + pl + rl, rec->dedupe_key, kl);
	memcpy(p + pl + rl + kl, rec->body, rec->body_len);
	p[len - 1] = '\0';
	memcpy(out, magic, 4);
	put32(out + 4, (uint32_t)len);
	put32(out + 8, spoolrec_crc32c(p, len));
	put32(out + 12, rec->flags);
	return SPOOLREC_HDR + len;
}

/* ---- decoding ---- */

enum spoolrec_result spoolrec_decode(const char *data, size_t size, struct spool_record *rec,
				     size_t *len)
{
	*len = 0;
	/* What the header alone can refuse first: bytes that can never become a record are
	 * corrupt however many follow them. */
	if (memcmp(data, magic, size < 4 ? size : 4) != 0)
		return SPOOLREC_CORRUPT;
	if (size < SPOOLREC_HDR)
		return SPOOLREC_INCOMPLETE;
	uint32_t plen = get32(data + 4), crc = get32(data + 8), flags = get32(data + 12);
	if (flags & ~(uint32_t)SPOOL_MAYBE_STORED)
		return SPOOLREC_CORRUPT;
	if (plen > size - SPOOLREC_HDR)
		return SPOOLREC_INCOMPLETE;
	const char *p = data + SPOOLREC_HDR, *end = p + plen;
	if (spoolrec_crc32c(p, plen) != crc)
		return SPOOLREC_CORRUPT;
	/* Checksummed, yet not a record without its four NUL-ended fields (a writer's bug,
	 * or a body holding a NUL): a field without its NUL would run past the record. */
	const char *f[4];
	for (int i = 0; i < 4; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		if (!nul)
			return SPOOLREC_CORRUPT;
		f[i] = p;
		p = nul + 1;
	}
	if (p != end)
		return SPOOLREC_CORRUPT;
	rec->platform = f[0];
	rec->received_at = f[1];
	rec->dedupe_key = f[2];
	rec->body = f[3];
	rec->body_len = (size_t)(end - 1 - f[3]);
	rec->flags = flags;
	*len = SPOOLREC_HDR + plen;
	return SPOOLREC_OK;
}

/* ---- segments ---- */

void spoolrec_iter_init(struct spoolrec_iter *it, const char *data, size_t size)
{
	memset(it, 0, sizeof *it);
	it->data = data;
	it->size = size;
}

bool spoolrec_next(struct spoolrec_iter *it, struct spool_record *rec)
{
	while (it->pos < it->size) {
		size_t len;
		/* An incomplete record is as bad as a corrupt one here: this is all the
		 * segment has, and it is a torn tail only if no good record follows. */
		if (spoolrec_decode(it->data + it->pos, it->size - it->pos, rec, &len) ==
		    SPOOLREC_OK) {
			if (it->bad)
				it->corrupt++;
			it->bad = false;
			it->pos += len;
			it->keep = it->pos;
			return true;
		}
		it->bad = true;
		/* Resume at the next magic: a damaged length cannot be trusted to say where
		 * the next record starts. */
		const char *m =
			memmem(it->data + it->pos + 1, it->size - it->pos - 1, magic, sizeof magic);
		it->pos = m ? (size_t)(m - it->data) : it->size;
	}
	return false;
}
