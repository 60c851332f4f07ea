/* fuzz_transcript — libFuzzer target for the "Speaker: text" splitter: any text, any
 * names; every segment must have a role and content. */
#include "transcript.h"

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
	struct mapped m = {0};
	if (transcript_split(&m, "c", s, "Maya", "John Doe") == 0)
		for (int i = 0; i < m.transcript.n; i++)
			if (!m.transcript.seg[i].role || !m.transcript.seg[i].content)
				abort();
	rows_free(&m);
	free(s);
	return 0;
}
