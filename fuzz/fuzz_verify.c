/* fuzz_verify — libFuzzer target for the signature header parsers of every scheme
 * (SimZ, hex HMAC, Standard Webhooks, Stripe style) and the base64 decoder. The input is
 * split at newlines into three header values and a body. */
#include "verify.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *values[3];

static const char *header(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcasecmp(name, "webhook-id") || !strcasecmp(name, "svix-id"))
		return values[0];
	if (!strcasecmp(name, "webhook-timestamp") || !strcasecmp(name, "svix-timestamp") ||
	    !strcasecmp(name, "X-Webhook-Timestamp"))
		return values[1];
	return values[2];
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	char err[256];
	if (!ready) {
		setenv("CALLBRIDGE_SIMZ_SECRET", "s3cret,other", 1);
		setenv("CALLBRIDGE_ATOMS_SECRET", "atoms-key", 1);
		setenv("CALLBRIDGE_ALLO_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
		if (verify_load(0, "simz", VERIFY_SIMZ, err, sizeof err) < 0 ||
		    verify_load(1, "atoms", VERIFY_HEX_BODY, err, sizeof err) < 0 ||
		    verify_load(2, "allo", VERIFY_STANDARD, err, sizeof err) < 0)
			abort();
		ready = 1;
	}
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *p = buf;
	for (int i = 0; i < 3; i++) {
		values[i] = p;
		char *nl = strchr(p, '\n');
		if (!nl) {
			p += strlen(p);
			continue;
		}
		*nl = '\0';
		p = nl + 1;
	}
	size_t len = strlen(p);
	int64_t now = 1614265330;
	verify_check(0, VERIFY_SIMZ, NULL, p, len, header, NULL, now);
	verify_check(1, VERIFY_HEX_BODY, "X-Signature", p, len, header, NULL, now);
	verify_check(2, VERIFY_STANDARD, NULL, p, len, header, NULL, now);
	verify_check(0, VERIFY_STRIPE, "Stripe-Signature", p, len, header, NULL, now);
	unsigned char out[96];
	verify_base64_decode(values[2], strlen(values[2]), out, sizeof out);
	free(buf);
	return 0;
}
