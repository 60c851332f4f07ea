/* verify — checks a delivery's signature over the raw body bytes, before any parsing.
 * Secrets come from CALLBRIDGE_<SLUG>_SECRET (comma-separated: any of them may match,
 * for rotation); they are compared in constant time and never logged. A platform with
 * no secret configured is open: every request passes, and start-up warns once. */
#ifndef CALLBRIDGE_VERIFY_H
#define CALLBRIDGE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum verify_scheme {
	VERIFY_NONE,
	/* X-Webhook-Signature: sha256=<hex HMAC-SHA256 of "<X-Webhook-Timestamp>.<body>"> */
	VERIFY_SIMZ,
	/* hex HMAC-SHA256 of the body in the platform's header (X-Signature,
	 * X-Replicer-Signature), optionally prefixed "sha256=". */
	VERIFY_HEX_BODY,
	/* Standard Webhooks: webhook-id/-timestamp/-signature (or svix-*), "v1,<base64>"
	 * entries over "<id>.<timestamp>.<body>", key = base64 of the secret after "whsec_". */
	VERIFY_STANDARD,
};

enum verify_result { VERIFY_OK, VERIFY_MISSING, VERIFY_BAD, VERIFY_STALE };

/* Timestamped schemes refuse requests further than this from our clock. */
#define VERIFY_TOLERANCE_SECONDS 300

/* Reads the secrets of platform number idx (slug for the variable name). Standard
 * Webhooks secrets are base64 after an optional "whsec_"; they are decoded here. Returns
 * -1 with a message in err when the variable is malformed. */
int verify_load(int idx, const char *slug, enum verify_scheme scheme, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* True when platform idx has at least one secret. */
bool verify_required(int idx);

/* Checks a request. header() looks a request header up by name (NULL when absent). */
enum verify_result verify_check(int idx, enum verify_scheme scheme, const char *sig_header,
				const char *body, size_t len,
				const char *(*header)(void *ctx, const char *name), void *ctx,
				int64_t now_s);

/* Decodes standard base64 (with padding) into out (capacity cap). Returns the length,
 * or -1 when s is not base64 or does not fit. */
int verify_base64_decode(const char *s, size_t len, unsigned char *out, size_t cap);

/* HMAC-SHA256 of the concatenation of n parts into out[32]; -1 on failure. */
int verify_hmac_sha256(const void *key, size_t keylen, const void *const *parts,
		       const size_t *lens, int n, unsigned char out[32])
	__attribute__((warn_unused_result));

const char *verify_result_name(enum verify_result r);

void verify_free(void);

#endif
