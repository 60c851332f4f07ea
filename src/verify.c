/* verify — signature checks (see verify.h). */
#include "verify.h"
#include "platform.h"
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MAX_SECRETS 8

struct secret {
	unsigned char *key;
	size_t len;
};

struct verify_keys {
	struct secret s[MAX_SECRETS];
	int n;
	char upper[32]; /* the slug in upper case: names its variables */
	bool override;  /* a scheme other than the platform's default is set */
	enum verify_scheme scheme;
	char header[64]; /* for hmac-hex / stripe, "" = the default */
	char *path_token, *bearer;
	int tolerance; /* seconds; 0: the global one */
};

/* The default source of each platform, from CALLBRIDGE_<SLUG>_* (verify_load). */
static struct verify_keys keys[PLATFORM_MAX];

static int tolerance = 300;

void verify_set_tolerance(int seconds)
{
	tolerance = seconds;
}

/* Whether a signature's time ts is further from now than k's tolerance. */
static bool stale(const struct verify_keys *k, int64_t ts, int64_t now_s)
{
	int t = k->tolerance ? k->tolerance : tolerance;
	return ts < now_s - t || ts > now_s + t;
}

static const char *const suffixes[] = {"_SECRET",
				       "_SECRET_FILE",
				       "_SIGNATURE",
				       "_PATH_TOKEN",
				       "_PATH_TOKEN_FILE",
				       "_BEARER_TOKEN",
				       "_BEARER_TOKEN_FILE",
				       "_PRECALL_TOKEN",
				       "_PRECALL_TOKEN_FILE",
				       "_TIMEZONE",
				       NULL};

bool verify_is_setting(const char *slug, const char *name)
{
	size_t n = strlen(slug);
	if (strncmp(name, "CALLBRIDGE_", 11) != 0 || strncasecmp(name + 11, slug, n) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[11 + i] != toupper((unsigned char)slug[i]))
			return false;
	for (int k = 0; suffixes[k]; k++)
		if (strcmp(name + 11 + n, suffixes[k]) == 0)
			return true;
	return false;
}

/* CALLBRIDGE_<SLUG><suffix> or its _FILE twin (cfg_secret). */
static char *setting(int idx, const char *suffix, char *err, size_t errlen, bool *bad)
{
	char name[96];
	snprintf(name, sizeof name, "CALLBRIDGE_%s%s", keys[idx].upper, suffix);
	return cfg_secret(name, err, errlen, bad);
}

static int parse_scheme(struct verify_keys *k, const char *what, const char *v, char *err,
			size_t errlen)
{
	static const struct {
		const char *name;
		enum verify_scheme scheme;
	} names[] = {{"simz", VERIFY_SIMZ},
		     {"hmac-hex", VERIFY_HEX_BODY},
		     {"standard", VERIFY_STANDARD},
		     {"stripe", VERIFY_STRIPE},
		     {"none", VERIFY_NONE}};
	size_t n = strcspn(v, ":");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strlen(names[i].name) != n || strncmp(v, names[i].name, n) != 0)
			continue;
		k->override = true;
		k->scheme = names[i].scheme;
		if (v[n] == ':' &&
		    (names[i].scheme == VERIFY_HEX_BODY || names[i].scheme == VERIFY_STRIPE) &&
		    v[n + 1] && strlen(v + n + 1) < sizeof k->header) {
			snprintf(k->header, sizeof k->header, "%s", v + n + 1);
			return 0;
		}
		if (v[n] == '\0')
			return 0;
		break;
	}
	snprintf(err, errlen,
		 "%s: '%s' is not one of simz, hmac-hex[:Header], standard, stripe[:Header], none",
		 what, v);
	return -1;
}

/* The value of one standard base64 digit, or -1. */
static int base64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Our own decoder rather than EVP_DecodeBlock, which wants whole padded quads and
 * skips whitespace. Bits past the last whole byte are ignored, not refused: the
 * reference libraries do the same, and their unpadded test secrets have such bits set. */
int verify_base64_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
	size_t pad = 0;
	while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
		pad++;
	size_t digits = len - pad;
	if (digits == 0 || digits % 4 == 1 || (pad && len % 4 != 0))
		return -1;
	size_t need = digits / 4 * 3 + (digits % 4 ? digits % 4 - 1 : 0);
	if (need > cap || need > INT_MAX)
		return -1;
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < digits; i++) {
		int d = base64_digit(s[i]);
		if (d < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (int)n;
}

static int load_secrets(struct verify_keys *k, const char *name, const char *val,
			enum verify_scheme scheme, char *err, size_t errlen);

int verify_keys_set(struct verify_keys *k, const char *what, enum verify_scheme scheme,
		    const struct verify_settings *set, char *err, size_t errlen)
{
	char name[160];
	if (set->signature) {
		snprintf(name, sizeof name, "%s%s", what, set->sig_suffix ? set->sig_suffix : "");
		if (parse_scheme(k, name, set->signature, err, errlen) < 0)
			return -1;
	}
	if (k->override)
		scheme = k->scheme;
	k->tolerance = set->tolerance;
	if ((set->path_token && !(k->path_token = strdup(set->path_token))) ||
	    (set->bearer && !(k->bearer = strdup(set->bearer)))) {
		snprintf(err, errlen, "%s: out of memory", what);
		return -1;
	}
	if (!set->secrets)
		return 0;
	snprintf(name, sizeof name, "%s%s", what, set->secret_suffix ? set->secret_suffix : "");
	if (scheme == VERIFY_NONE) {
		snprintf(err, errlen, "%s is set but the signature scheme is none", name);
		return -1;
	}
	return load_secrets(k, name, set->secrets, scheme, err, errlen);
}

int verify_load(int idx, const char *slug, enum verify_scheme scheme, char *err, size_t errlen)
{
	size_t i;
	bool bad = false;
	if (idx < 0 || idx >= PLATFORM_MAX) {
		snprintf(err, errlen, "too many platforms");
		return -1;
	}
	for (i = 0; slug[i] && i + 1 < sizeof keys[idx].upper; i++)
		keys[idx].upper[i] = (char)toupper((unsigned char)slug[i]);
	keys[idx].upper[i] = '\0';
	char what[64];
	snprintf(what, sizeof what, "CALLBRIDGE_%s", keys[idx].upper);

	struct verify_settings set = {.sig_suffix = "_SIGNATURE", .secret_suffix = "_SECRET"};
	char *sig = setting(idx, "_SIGNATURE", err, errlen, &bad);
	char *pt = bad ? NULL : setting(idx, "_PATH_TOKEN", err, errlen, &bad);
	char *bearer = bad ? NULL : setting(idx, "_BEARER_TOKEN", err, errlen, &bad);
	char *val = bad ? NULL : setting(idx, "_SECRET", err, errlen, &bad);
	set.signature = sig;
	set.path_token = pt;
	set.bearer = bearer;
	set.secrets = val;
	int rc = bad ? -1 : verify_keys_set(&keys[idx], what, scheme, &set, err, errlen);
	free(sig);
	char *held[] = {pt, bearer, val};
	for (int j = 0; j < 3; j++)
		if (held[j]) {
			OPENSSL_cleanse(held[j], strlen(held[j]));
			free(held[j]);
		}
	return rc;
}

/* Splits the comma-separated secrets of one variable into k. */
static int load_secrets(struct verify_keys *k, const char *name, const char *val,
			enum verify_scheme scheme, char *err, size_t errlen)
{
	const char *p = val;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *start = p;
		p += n + (p[n] == ',');
		while (n && isspace((unsigned char)*start))
			start++, n--;
		while (n && isspace((unsigned char)start[n - 1]))
			n--;
		if (n == 0)
			continue;
		if (k->n == MAX_SECRETS) {
			snprintf(err, errlen, "%s: more than %d secrets", name, MAX_SECRETS);
			return -1;
		}
		struct secret *s = &k->s[k->n++];
		s->key = malloc(n);
		if (!s->key) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(s->key, start, n);
		s->len = n;
		if (scheme == VERIFY_STANDARD) {
			size_t skip = n > 6 && !memcmp(start, "whsec_", 6) ? 6 : 0;
			int got = verify_base64_decode(start + skip, n - skip, s->key, n);
			if (got <= 0) {
				snprintf(
					err, errlen,
					"%s: a Standard Webhooks secret is standard base64 (padding "
					"optional), after an optional whsec_ prefix",
					name);
				return -1;
			}
			/* The tail still holds the secret's text, and verify_free wipes len. */
			OPENSSL_cleanse(s->key + got, n - (size_t)got);
			s->len = (size_t)got;
		}
	}
	return 0;
}

bool verify_keys_required(const struct verify_keys *k)
{
	return k->n > 0 || k->path_token || k->bearer;
}

bool verify_keys_have_path_token(const struct verify_keys *k)
{
	return k->path_token != NULL;
}

bool verify_required(int idx)
{
	return verify_keys_required(&keys[idx]);
}

bool verify_has_path_token(int idx)
{
	return verify_keys_have_path_token(&keys[idx]);
}

const struct verify_keys *verify_default(int idx)
{
	return &keys[idx];
}

int verify_hmac_sha256(const void *key, size_t keylen, const void *const *parts, const size_t *lens,
		       int n, unsigned char out[32])
{
	int rc = -1;
	size_t outlen = 0;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!ctx || !EVP_MAC_init(ctx, key, keylen, params))
		goto done;
	for (int i = 0; i < n; i++)
		if (!EVP_MAC_update(ctx, parts[i], lens[i]))
			goto done;
	if (!EVP_MAC_final(ctx, out, &outlen, 32) || outlen != 32)
		goto done;
	rc = 0;
done:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

/* Decodes exactly 64 hex digits (either case) into out[32]. */
static bool unhex32(const char *s, size_t len, unsigned char out[32])
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + (size_t)k];
			int d = isdigit((unsigned char)c) ? c - '0'
				: (c >= 'a' && c <= 'f')  ? c - 'a' + 10
				: (c >= 'A' && c <= 'F')  ? c - 'A' + 10
							  : -1;
			if (d < 0)
				return false;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	return true;
}

/* Parses a unix-seconds header value. */
static bool parse_unix(const char *s, int64_t *out)
{
	char *end = NULL;
	if (!s || !isdigit((unsigned char)*s))
		return false;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || v <= 0)
		return false;
	*out = v;
	return true;
}

static enum verify_result match_any(const struct verify_keys *k, const void *const *parts,
				    const size_t *lens, int n,
				    const unsigned char *const *candidates, int ncand);

static enum verify_result check_simz(const struct verify_keys *k, const char *body, size_t len,
				     const char *(*header)(void *, const char *), void *ctx,
				     int64_t now_s)
{
	const char *sig = header(ctx, "X-Webhook-Signature");
	const char *tss = header(ctx, "X-Webhook-Timestamp");
	int64_t ts;
	unsigned char got[32];
	if (!sig || !tss)
		return VERIFY_MISSING;
	if (strncmp(sig, "sha256=", 7) == 0)
		sig += 7;
	if (!parse_unix(tss, &ts) || !unhex32(sig, strlen(sig), got))
		return VERIFY_BAD;
	if (stale(k, ts, now_s))
		return VERIFY_STALE;
	const void *parts[] = {tss, ".", body};
	const size_t lens[] = {strlen(tss), 1, len};
	const unsigned char *cand[] = {got};
	return match_any(k, parts, lens, 3, cand, 1);
}

/* Tries every secret of platform idx: OK when one produces expected[32]. */
static enum verify_result match_any(const struct verify_keys *k, const void *const *parts,
				    const size_t *lens, int n,
				    const unsigned char *const *candidates, int ncand)
{
	unsigned char want[32];
	for (int i = 0; i < k->n; i++) {
		if (verify_hmac_sha256(k->s[i].key, k->s[i].len, parts, lens, n, want) < 0)
			return VERIFY_BAD;
		for (int c = 0; c < ncand; c++)
			if (CRYPTO_memcmp(want, candidates[c], 32) == 0)
				return VERIFY_OK;
	}
	return VERIFY_BAD;
}

static enum verify_result check_hex_body(const struct verify_keys *k, const char *sig_header,
					 const char *body, size_t len,
					 const char *(*header)(void *, const char *), void *ctx)
{
	const char *sig = sig_header ? header(ctx, sig_header) : NULL;
	unsigned char got[32];
	if (!sig)
		return VERIFY_MISSING;
	if (strncmp(sig, "sha256=", 7) == 0)
		sig += 7;
	if (!unhex32(sig, strlen(sig), got))
		return VERIFY_BAD;
	const void *parts[] = {body};
	const size_t lens[] = {len};
	const unsigned char *cand[] = {got};
	return match_any(k, parts, lens, 1, cand, 1);
}

/* Standard Webhooks (and Svix, its origin): the signature header lists space-separated
 * "<version>,<base64>" entries; any v1 entry matching any secret passes, other versions
 * and undecodable entries are skipped. The header is walked once, comparing each entry
 * with one MAC per secret made before the walk, so the number of entries is bounded only
 * by the header size (http.c caps headers at 64 KiB) and the work stays linear in it. */
static enum verify_result check_standard(const struct verify_keys *k, const char *body, size_t len,
					 const char *(*header)(void *, const char *), void *ctx,
					 int64_t now_s)
{
	const char *id = header(ctx, "webhook-id");
	const char *tss = header(ctx, "webhook-timestamp");
	const char *sig = header(ctx, "webhook-signature");
	if (!id && !tss && !sig) {
		id = header(ctx, "svix-id");
		tss = header(ctx, "svix-timestamp");
		sig = header(ctx, "svix-signature");
	}
	int64_t ts;
	if (!id || !tss || !sig)
		return VERIFY_MISSING;
	if (!parse_unix(tss, &ts))
		return VERIFY_BAD;
	if (stale(k, ts, now_s))
		return VERIFY_STALE;

	unsigned char want[MAX_SECRETS][32];
	const void *parts[] = {id, ".", tss, ".", body};
	const size_t lens[] = {strlen(id), 1, strlen(tss), 1, len};
	for (int i = 0; i < k->n; i++)
		if (verify_hmac_sha256(k->s[i].key, k->s[i].len, parts, lens, 5, want[i]) < 0)
			return VERIFY_BAD;
	enum verify_result rc = VERIFY_BAD;
	for (const char *p = sig; *p && rc != VERIFY_OK;) {
		size_t n = strcspn(p, " ");
		unsigned char got[32];
		if (n > 3 && !strncmp(p, "v1,", 3) &&
		    verify_base64_decode(p + 3, n - 3, got, sizeof got) == 32)
			for (int i = 0; i < k->n; i++)
				if (CRYPTO_memcmp(want[i], got, 32) == 0)
					rc = VERIFY_OK;
		p += n;
		while (*p == ' ')
			p++;
	}
	/* A valid MAC for this message is as good as a forged delivery: wipe it. */
	OPENSSL_cleanse(want, sizeof want);
	return rc;
}

/* Stripe style: t=<unix>,v1=<hex>[,v1=<hex>]; signed content "<t>.<body>". */
static enum verify_result check_stripe(const struct verify_keys *k, const char *sig_header,
				       const char *body, size_t len,
				       const char *(*header)(void *, const char *), void *ctx,
				       int64_t now_s)
{
	const char *sig = header(ctx, sig_header);
	unsigned char got[MAX_SECRETS][32];
	const unsigned char *cand[MAX_SECRETS];
	int ncand = 0;
	char ts[24] = "";
	if (!sig)
		return VERIFY_MISSING;
	for (const char *p = sig; *p;) {
		size_t n = strcspn(p, ",");
		if (n > 2 && !strncmp(p, "t=", 2) && n - 2 < sizeof ts)
			snprintf(ts, sizeof ts, "%.*s", (int)(n - 2), p + 2);
		else if (n > 3 && !strncmp(p, "v1=", 3) && ncand < MAX_SECRETS &&
			 unhex32(p + 3, n - 3, got[ncand]))
			cand[ncand] = got[ncand], ncand++;
		p += n + (p[n] == ',');
	}
	int64_t t;
	if (!ts[0] || ncand == 0 || !parse_unix(ts, &t))
		return VERIFY_BAD;
	if (stale(k, t, now_s))
		return VERIFY_STALE;
	const void *parts[] = {ts, ".", body};
	const size_t lens[] = {strlen(ts), 1, len};
	return match_any(k, parts, lens, 3, cand, ncand);
}

static bool same_token(const char *want, const char *got)
{
	size_t n = strlen(want);
	return got && strlen(got) == n && CRYPTO_memcmp(want, got, n) == 0;
}

enum verify_result verify_keys_request(const struct verify_keys *k,
				       enum verify_scheme default_scheme,
				       const char *default_header, const char *path_token,
				       const char *body, size_t len,
				       const char *(*header)(void *ctx, const char *name),
				       void *ctx, int64_t now_s)
{
	if (k->path_token && !same_token(k->path_token, path_token))
		return VERIFY_TOKEN;
	if (k->bearer) {
		const char *auth = header(ctx, "Authorization");
		if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 ||
		    !same_token(k->bearer, auth + 7))
			return VERIFY_TOKEN;
	}
	enum verify_scheme scheme = k->override ? k->scheme : default_scheme;
	const char *h = k->header[0] ? k->header : default_header;
	if (scheme == VERIFY_HEX_BODY && !h)
		h = "X-Signature";
	return verify_keys_check(k, scheme, h, body, len, header, ctx, now_s);
}

enum verify_result verify_keys_check(const struct verify_keys *k, enum verify_scheme scheme,
				     const char *sig_header, const char *body, size_t len,
				     const char *(*header)(void *ctx, const char *name), void *ctx,
				     int64_t now_s)
{
	if (k->n == 0)
		return VERIFY_OK;
	switch (scheme) {
	case VERIFY_SIMZ:
		return check_simz(k, body, len, header, ctx, now_s);
	case VERIFY_HEX_BODY:
		return check_hex_body(k, sig_header, body, len, header, ctx);
	case VERIFY_STANDARD:
		return check_standard(k, body, len, header, ctx, now_s);
	case VERIFY_STRIPE:
		return check_stripe(k, sig_header ? sig_header : "Stripe-Signature", body, len,
				    header, ctx, now_s);
	case VERIFY_NONE:
		break;
	}
	return VERIFY_BAD; /* a secret is configured but nothing can check it: refuse */
}

enum verify_result verify_request(int idx, enum verify_scheme default_scheme,
				  const char *default_header, const char *path_token,
				  const char *body, size_t len,
				  const char *(*header)(void *ctx, const char *name), void *ctx,
				  int64_t now_s)
{
	return verify_keys_request(&keys[idx], default_scheme, default_header, path_token, body,
				   len, header, ctx, now_s);
}

enum verify_result verify_check(int idx, enum verify_scheme scheme, const char *sig_header,
				const char *body, size_t len,
				const char *(*header)(void *ctx, const char *name), void *ctx,
				int64_t now_s)
{
	return verify_keys_check(&keys[idx], scheme, sig_header, body, len, header, ctx, now_s);
}

const char *verify_result_name(enum verify_result r)
{
	switch (r) {
	case VERIFY_OK:
		return "ok";
	case VERIFY_MISSING:
		return "signature_missing";
	case VERIFY_BAD:
		return "signature_invalid";
	case VERIFY_STALE:
		return "signature_stale";
	case VERIFY_TOKEN:
		return "token_invalid";
	}
	return "signature_invalid";
}

/* Wipes and frees what k holds; k is left empty, as new. */
static void keys_clear(struct verify_keys *k)
{
	for (int i = 0; i < k->n; i++) {
		OPENSSL_cleanse(k->s[i].key, k->s[i].len);
		free(k->s[i].key);
	}
	if (k->path_token)
		OPENSSL_cleanse(k->path_token, strlen(k->path_token));
	if (k->bearer)
		OPENSSL_cleanse(k->bearer, strlen(k->bearer));
	free(k->path_token);
	free(k->bearer);
	*k = (struct verify_keys){0};
}

struct verify_keys *verify_keys_new(void)
{
	return calloc(1, sizeof(struct verify_keys));
}

void verify_keys_free(struct verify_keys **kp)
{
	if (!*kp)
		return;
	keys_clear(*kp);
	free(*kp);
	*kp = NULL;
}

void verify_free(void)
{
	for (int i = 0; i < PLATFORM_MAX; i++)
		keys_clear(&keys[i]);
}
