/* fuzz_ts — libFuzzer target for ISO 8601 parsing: whatever parses must format (never
 * refused, never cut short) and parse back to the same instant (to the microsecond). */
#include "ts.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t us, again;
	if (ts_parse_iso(s, &us)) {
		char out[TS_LEN];
		if (!ts_format(us, out) || !ts_parse_iso(out, &again) || again != us)
			abort();
	}
	free(s);
	return 0;
}
