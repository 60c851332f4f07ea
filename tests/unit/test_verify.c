/* Signature schemes against known vectors: SimZ, hex body, Standard Webhooks. */
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
	verify_free();
	return done_testing();
}
