/* Signature schemes against known vectors: SimZ, hex body, Standard Webhooks (the
 * specification's own vectors), and the base64 decoder. */
#include "harness.h"
#include "verify.h"

#include <openssl/evp.h>

#include <stdlib.h>
#include <strings.h>

struct hdrs {
	const char *names[4];
	const char *values[4];
};

static const char *get(void *ctx, const char *name)
{
	struct hdrs *h = ctx;
	for (int i = 0; i < 4 && h->names[i]; i++)
		if (!strcasecmp(h->names[i], name))
			return h->values[i];
	return NULL;
}

static void hex(const unsigned char *in, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

static int b64(const char *s, unsigned char *out, size_t cap)
{
	return verify_base64_decode(s, strlen(s), out, cap);
}

/* The decoder takes what the reference libraries take: standard base64, padded or not. */
static void test_base64(void)
{
	unsigned char out[64];
	ok(b64("Zm9v", out, sizeof out) == 3 && !memcmp(out, "foo", 3), "base64: one quad");
	ok(b64("Zm9vYg==", out, sizeof out) == 4 && !memcmp(out, "foob", 4),
	   "base64: two '=' of padding");
	ok(b64("Zm9vYg", out, sizeof out) == 4 && !memcmp(out, "foob", 4),
	   "base64: the same unpadded");
	ok(b64("Zm9vYmE=", out, sizeof out) == 5 && !memcmp(out, "fooba", 5),
	   "base64: one '=' of padding");
	ok(b64("Zm9vYmE", out, sizeof out) == 5 && !memcmp(out, "fooba", 5),
	   "base64: the same unpadded");
	ok(b64("+/+/", out, sizeof out) == 3 && out[0] == 0xfb && out[1] == 0xff && out[2] == 0xbf,
	   "base64: + and / are digits 62 and 63");
	ok(b64("", out, sizeof out) < 0, "base64: empty is refused");
	ok(b64("Zm9vY", out, sizeof out) < 0, "base64: a lone sixth digit is refused");
	ok(b64("Zm9vYg=", out, sizeof out) < 0, "base64: partial padding is refused");
	ok(b64("Zm9v====", out, sizeof out) < 0, "base64: padding alone is refused");
	ok(b64("Zm=v", out, sizeof out) < 0, "base64: '=' inside is refused");
	ok(b64("-_-_", out, sizeof out) < 0, "base64: base64url digits are refused");
	ok(b64("Zm9v\n", out, sizeof out) < 0, "base64: whitespace is refused");
	ok(b64("Zm9vYmFy", out, 5) < 0, "base64: output over cap is refused");
	ok(b64("Zm9vYmE", out, 5) == 5, "base64: output exactly at cap fits");
}

/* The Standard Webhooks specification's vectors (standard-webhooks/standard-webhooks,
 * libraries/python/tests/test_webhooks.py and libraries/javascript/src/webhook.test.ts). */
#define SW_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS     "1614265330"
#define SW_NOW    1614265330
#define SW_BODY   "{\"test\": 2432232314}"
#define SW_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define SW_OTHER  "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
#define SW_BADSIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
/* The same message under the Python suite's unpadded secrets, signed by its reference. */
#define SW_SIG_PAD1 "v1,LVOXivKoo4FWasi/IaHvzhE/u+7/cu2AME+zS/nXqzk="
#define SW_SIG_PAD2 "v1,yK2tMbA6BHPrMEJ1lLv7UlJJbgFoqGenJkiajZ29evg="

static enum verify_result sw_check(int idx, const char *sigs)
{
	struct hdrs h = {{"webhook-id", "webhook-timestamp", "webhook-signature"},
			 {SW_ID, SW_TS, sigs}};
	return verify_check(idx, VERIFY_STANDARD, NULL, SW_BODY, strlen(SW_BODY), get, &h, SW_NOW);
}

static void test_standard_vectors(char *err, size_t errlen)
{
	setenv("CALLBRIDGE_SPEC_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	ok(verify_load(5, "spec", VERIFY_STANDARD, err, errlen) == 0, "spec secret loads");
	ok(sw_check(5, SW_SIG) == VERIFY_OK, "spec vector: the published signature matches");
	ok(sw_check(5, SW_BADSIG) == VERIFY_BAD, "spec vector: one changed bit fails");
	ok(sw_check(5, "v1,dawfeoifkpqwoekfpqoekf") == VERIFY_BAD,
	   "spec vector: a short signature fails");
	ok(sw_check(5, SW_OTHER " v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " SW_SIG
				" " SW_OTHER) == VERIFY_OK,
	   "spec vector: the multi-signature header passes");
	ok(sw_check(5, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") == VERIFY_BAD,
	   "spec vector: a valid MAC under another version is skipped");
	ok(sw_check(5, "garbage v1, v1,!!!notbase64!!! v1 ,x v2,abc " SW_SIG) == VERIFY_OK,
	   "garbage entries are skipped, the valid one still matches");
	ok(sw_check(5, "garbage v1, v1,!!!notbase64!!! " SW_OTHER) == VERIFY_BAD,
	   "garbage entries alone fail");

	/* Twenty entries with the valid one last: over the eight we used to keep. */
	char twenty[20 * 48 + 1] = "";
	for (int i = 0; i < 19; i++)
		strcat(twenty, SW_OTHER " ");
	strcat(twenty, SW_SIG);
	ok(sw_check(5, twenty) == VERIFY_OK, "20 signatures, only the last valid: passes");
	twenty[strlen(twenty) - 2] = 'A';
	ok(sw_check(5, twenty) == VERIFY_BAD, "20 signatures, none valid: fails");

	/* As many as fit in the 64 KiB header limit: still no cap on the count. */
	size_t each = strlen(SW_OTHER " "), many = (64 * 1024 - 64) / each;
	char *big = malloc(many * each + sizeof SW_SIG);
	if (big) {
		for (size_t i = 0; i < many; i++)
			memcpy(big + i * each, SW_OTHER " ", each);
		memcpy(big + many * each, SW_SIG, sizeof SW_SIG);
	}
	ok(big && strlen(big) < 64 * 1024 && sw_check(5, big) == VERIFY_OK,
	   "%zu signatures in a 64 KiB header, only the last valid: passes", many + 1);
	free(big);

	setenv("CALLBRIDGE_SPEC2_SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	ok(verify_load(6, "spec2", VERIFY_STANDARD, err, errlen) == 0 &&
		   sw_check(6, SW_SIG) == VERIFY_OK,
	   "a secret without whsec_ matches the spec vector");
	setenv("CALLBRIDGE_SPEC3_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", 1);
	ok(verify_load(7, "spec3", VERIFY_STANDARD, err, errlen) == 0 &&
		   sw_check(7, SW_SIG_PAD1) == VERIFY_OK,
	   "an unpadded secret (one '=' short) with whsec_ loads and matches");
	setenv("CALLBRIDGE_SPEC4_SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", 1);
	ok(verify_load(8, "spec4", VERIFY_STANDARD, err, errlen) == 0 &&
		   sw_check(8, SW_SIG_PAD2) == VERIFY_OK,
	   "an unpadded secret (two '=' short) without whsec_ loads and matches");
	ok(sw_check(8, SW_SIG) == VERIFY_BAD, "another secret's signature fails");
	setenv("CALLBRIDGE_SPEC5_SECRET",
	       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr==, MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", 1);
	ok(verify_load(9, "spec5", VERIFY_STANDARD, err, errlen) == 0 &&
		   sw_check(9, SW_OTHER " " SW_SIG_PAD1) == VERIFY_OK &&
		   sw_check(9, SW_SIG_PAD2) == VERIFY_OK,
	   "padded and unpadded secrets rotate side by side");
	setenv("CALLBRIDGE_SPEC6_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La-_Sw", 1);
	ok(verify_load(10, "spec6", VERIFY_STANDARD, err, errlen) < 0 &&
		   strstr(err, "CALLBRIDGE_SPEC6_SECRET") && strstr(err, "base64"),
	   "a base64url secret fails start-up, naming the variable");
	setenv("CALLBRIDGE_SPEC7_SECRET", "whsec_", 1);
	ok(verify_load(11, "spec7", VERIFY_STANDARD, err, errlen) < 0,
	   "a bare whsec_ fails start-up");
}

int main(void)
{
	char err[256];
	const char *body = "{\"event\":\"call.completed\"}";
	size_t len = strlen(body);
	unsigned char mac[32];
	char sig[80], hexbuf[65];

	/* RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?"). */
	const void *parts[] = {"what do ya want ", "for nothing?"};
	const size_t lens[] = {16, 12};
	ok(verify_hmac_sha256("Jefe", 4, parts, lens, 2, mac) == 0, "HMAC computes");
	hex(mac, hexbuf);
	is_str(hexbuf, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	       "HMAC-SHA256 matches RFC 4231 over split input");

	setenv("CALLBRIDGE_SIMZ_SECRET", "old-secret, s3cret", 1);
	ok(verify_load(0, "simz", VERIFY_SIMZ, err, sizeof err) == 0, "SimZ secrets load");
	ok(verify_required(0), "SimZ now requires signatures");
	const void *sp[] = {"1779202000", ".", body};
	const size_t sl[] = {10, 1, len};
	ok(verify_hmac_sha256("s3cret", 6, sp, sl, 3, mac) == 0, "sign");
	hex(mac, hexbuf);
	snprintf(sig, sizeof sig, "sha256=%s", hexbuf);
	struct hdrs h = {{"X-Webhook-Signature", "X-Webhook-Timestamp"}, {sig, "1779202000"}};
	ok(verify_check(0, VERIFY_SIMZ, NULL, body, len, get, &h, 1779202010) == VERIFY_OK,
	   "SimZ: second secret (rotation) matches");
	ok(verify_check(0, VERIFY_SIMZ, NULL, body, len - 1, get, &h, 1779202010) == VERIFY_BAD,
	   "SimZ: changed body fails");
	ok(verify_check(0, VERIFY_SIMZ, NULL, body, len, get, &h, 1779202000 + 301) == VERIFY_STALE,
	   "SimZ: old timestamp is stale");
	h.values[1] = "1779202001";
	ok(verify_check(0, VERIFY_SIMZ, NULL, body, len, get, &h, 1779202010) == VERIFY_BAD,
	   "SimZ: timestamp is signed");
	h.names[0] = NULL;
	ok(verify_check(0, VERIFY_SIMZ, NULL, body, len, get, &h, 1779202010) == VERIFY_MISSING,
	   "SimZ: unsigned request");

	setenv("CALLBRIDGE_ATOMS_SECRET", "atoms-key", 1);
	ok(verify_load(2, "atoms", VERIFY_HEX_BODY, err, sizeof err) == 0, "Atoms secret loads");
	const void *ap[] = {body};
	ok(verify_hmac_sha256("atoms-key", 9, ap, &len, 1, mac) == 0, "sign body");
	hex(mac, hexbuf);
	struct hdrs a = {{"X-Signature"}, {hexbuf}};
	ok(verify_check(2, VERIFY_HEX_BODY, "X-Signature", body, len, get, &a, 0) == VERIFY_OK,
	   "hex body: matches");
	hexbuf[0] = hexbuf[0] == '0' ? '1' : '0';
	ok(verify_check(2, VERIFY_HEX_BODY, "X-Signature", body, len, get, &a, 0) == VERIFY_BAD,
	   "hex body: one flipped digit fails");

	/* Standard Webhooks: the example secret of the specification's test suite. */
	setenv("CALLBRIDGE_ALLO_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	ok(verify_load(4, "allo", VERIFY_STANDARD, err, sizeof err) == 0, "whsec_ secret loads");
	unsigned char key[64];
	int klen = verify_base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 32, key, sizeof key);
	ok(klen == 24, "base64 decodes to 24 bytes");
	const char *id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
	const void *wp[] = {id, ".", "1614265330", ".", body};
	const size_t wl[] = {strlen(id), 1, 10, 1, len};
	ok(verify_hmac_sha256(key, (size_t)klen, wp, wl, 5, mac) == 0, "sign");
	unsigned char b64[64];
	EVP_EncodeBlock(b64, mac, 32);
	char list[200];
	snprintf(list, sizeof list, "v1,Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE= v1,%s", b64);
	struct hdrs s = {{"webhook-id", "webhook-timestamp", "webhook-signature"},
			 {id, "1614265330", list}};
	ok(verify_check(4, VERIFY_STANDARD, NULL, body, len, get, &s, 1614265330) == VERIFY_OK,
	   "Standard Webhooks: the second v1 entry matches");
	ok(verify_check(4, VERIFY_STANDARD, NULL, body, len, get, &s, 1614265330 + 600) ==
		   VERIFY_STALE,
	   "Standard Webhooks: 10 minutes late is stale");
	s.values[0] = "msg_other";
	ok(verify_check(4, VERIFY_STANDARD, NULL, body, len, get, &s, 1614265330) == VERIFY_BAD,
	   "Standard Webhooks: the id is signed");
	struct hdrs svix = {{"svix-id", "svix-timestamp", "svix-signature"},
			    {id, "1614265330", list}};
	ok(verify_check(4, VERIFY_STANDARD, NULL, body, len, get, &svix, 1614265330) == VERIFY_OK,
	   "Svix headers accepted");
	setenv("CALLBRIDGE_SIMPLEAI_SECRET", "whsec_not base64!", 1);
	ok(verify_load(1, "simpleai", VERIFY_STANDARD, err, sizeof err) < 0,
	   "a non-base64 secret fails start-up");
	ok(strstr(err, "CALLBRIDGE_SIMPLEAI_SECRET") != NULL, "naming the variable");
	ok(!verify_required(3), "a platform without a secret is open");

	test_base64();
	test_standard_vectors(err, sizeof err);
	verify_free();
	return done_testing();
}
