/* verify — checks a delivery's signature over the raw body bytes, before any parsing.
 * Per platform (SLUG in upper case):
 *   CALLBRIDGE_<SLUG>_SECRET        secrets, comma-separated: any may match (rotation)
 *   CALLBRIDGE_<SLUG>_SIGNATURE     the scheme, when not the platform's default: simz,
 *                                   hmac-hex[:Header], standard, stripe[:Header], none
 *   CALLBRIDGE_<SLUG>_PATH_TOKEN    required last path segment (/webhooks/<slug>/<token>)
 *   CALLBRIDGE_<SLUG>_BEARER_TOKEN  required "Authorization: Bearer <token>"
 * Each may instead name a file with a _FILE suffix (Docker secrets; one trailing newline
 * is dropped). Secrets and tokens are compared in constant time and never logged. A
 * platform with none of them is open: every request passes, and start-up warns once. */
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
	/* Standard Webhooks: webhook-id/-timestamp/-signature (or svix-*), any number of
	 * space-separated "v1,<base64>" entries (other versions skipped) over
	 * "<id>.<timestamp>.<body>"; key = the secret as base64, padded or not, after an
	 * optional "whsec_". */
	VERIFY_STANDARD,
	/* Stripe style: "<Header>: t=<unix>,v1=<hex>[,v1=<hex>...]" over "<t>.<body>";
	 * the header is Stripe-Signature unless named. */
	VERIFY_STRIPE,
};

enum verify_result { VERIFY_OK, VERIFY_MISSING, VERIFY_BAD, VERIFY_STALE, VERIFY_TOKEN };

/* What one source checks: its secrets, scheme, header, tokens and tolerance. Each
 * platform's default source has one, from CALLBRIDGE_<SLUG>_* (verify_load,
 * verify_default); a source of the sources file has its own (verify_keys_new, _set). */
struct verify_keys;

/* The values a source's keys are made of; NULL: not set. */
struct verify_settings {
	const char *signature;  /* scheme override: simz, hmac-hex[:Header], ... */
	const char *secrets;    /* comma-separated */
	const char *path_token; /* /webhooks/<slug>[/<source>]/<token> */
	const char *bearer;     /* Authorization: Bearer <token> */
	int tolerance;          /* seconds; 0: CALLBRIDGE_SIGNATURE_TOLERANCE_SECONDS */
	/* appended to the name given to verify_keys_set in messages ("_SECRET", ...) */
	const char *sig_suffix, *secret_suffix;
};

struct verify_keys *verify_keys_new(void);
/* Fills empty keys k; scheme is the platform's default. Messages name what (and the
 * suffixes). -1 with err filled on a malformed value. */
int verify_keys_set(struct verify_keys *k, const char *what, enum verify_scheme scheme,
		    const struct verify_settings *set, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void verify_keys_free(struct verify_keys **k);
/* Platform idx's default source (after verify_load). */
const struct verify_keys *verify_default(int idx);
bool verify_keys_required(const struct verify_keys *k);
bool verify_keys_have_path_token(const struct verify_keys *k);
/* verify_request and verify_check (below) with a source's keys. */
enum verify_result verify_keys_request(const struct verify_keys *k,
				       enum verify_scheme default_scheme,
				       const char *default_header, const char *path_token,
				       const char *body, size_t len,
				       const char *(*header)(void *ctx, const char *name),
				       void *ctx, int64_t now_s);
enum verify_result verify_keys_check(const struct verify_keys *k, enum verify_scheme scheme,
				     const char *sig_header, const char *body, size_t len,
				     const char *(*header)(void *ctx, const char *name), void *ctx,
				     int64_t now_s);

/* Timestamped schemes refuse requests further than this from our clock (default 300). */
void verify_set_tolerance(int seconds);

/* Reads every setting of platform idx listed above; scheme is its default. Returns -1
 * with a message naming the variable when one is malformed. */
int verify_load(int idx, const char *slug, enum verify_scheme scheme, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* True when platform idx checks something (a secret or a token). */
bool verify_required(int idx);

/* True when platform idx requires a path token. */
bool verify_has_path_token(int idx);

/* True when name is one of the per-platform variables above for the platform slug. */
bool verify_is_setting(const char *slug, const char *name);

/* Checks a request against everything platform idx requires: tokens, then the signature
 * in the configured scheme (default_scheme and default_header unless overridden).
 * path_token is the request's token segment, or NULL. */
enum verify_result verify_request(int idx, enum verify_scheme default_scheme,
				  const char *default_header, const char *path_token,
				  const char *body, size_t len,
				  const char *(*header)(void *ctx, const char *name), void *ctx,
				  int64_t now_s);

/* Checks a signature in the given scheme with platform idx's secrets (OK when it has
 * none). header() looks a request header up by name (NULL when absent). */
enum verify_result verify_check(int idx, enum verify_scheme scheme, const char *sig_header,
				const char *body, size_t len,
				const char *(*header)(void *ctx, const char *name), void *ctx,
				int64_t now_s);

/* Decodes standard base64 (A-Z a-z 0-9 + /), with or without '=' padding, into out
 * (capacity cap). Returns the length, or -1 when s is empty, not base64 (base64url's - and
 * _ included) or does not fit. */
int verify_base64_decode(const char *s, size_t len, unsigned char *out, size_t cap);

/* HMAC-SHA256 of the concatenation of n parts into out[32]; -1 on failure. */
int verify_hmac_sha256(const void *key, size_t keylen, const void *const *parts, const size_t *lens,
		       int n, unsigned char out[32]) __attribute__((warn_unused_result));

const char *verify_result_name(enum verify_result r);

void verify_free(void);

#endif
