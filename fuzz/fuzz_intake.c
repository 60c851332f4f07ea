/* fuzz_intake — libFuzzer target for everything between raw bytes and rows: strict
 * UTF-8 and JSON checks, every platform's mapper, de-duplication keys, timestamps,
 * numbers and transcripts. The first byte picks the platform (its index in platforms[]),
 * the rest is the body; header lookups answer with a fixed id so the header paths run
 * too. */
#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *header(void *ctx, const char *name)
{
	(void)ctx;
	return name[0] == 'w' || name[0] == 's' || name[0] == 'X' ? "msg_fuzz_1" : NULL;
}

/* FUZZ_INTAKE_PLATFORMS=1 prints the slugs in the table's order and exits: scripts/fuzz.sh
 * seeds the corpus from this list, so each seed's first byte picks the platform its body
 * came from in this very build, with no list of platforms kept in the script. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!getenv("FUZZ_INTAKE_PLATFORMS"))
		return 0;
	for (int i = 0; i < platform_count; i++)
		printf("%s\n", platforms[i].slug);
	exit(fflush(stdout) == 0 ? 0 : 1);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	if (size < 1)
		return 0;
	const struct platform *p = &platforms[data[0] % platform_count];
	char *body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	struct mapped m = {0};
	struct intake_error err;
	if (intake_map(p, body, size - 1, header, NULL, false, 1767225600LL * 1000000, &m, &err) ==
	    0)
		rows_dump(&m, sink);
	rows_free(&m);
	free(body);
	return 0;
}
