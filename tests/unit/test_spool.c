/* spool — the drainer's view of the segments, with the real writer thread and event
 * loop: a segment released (drained) or quarantined is never handed out again, not even
 * in the moment before the writer thread has deleted or renamed its file (a second drain
 * would count its deliveries twice), while segments written after it still are. */
#include "harness.h"
#include "spool.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define ROUNDS 100

static struct event_base *base;
static struct spool *sp;
static char dir[] = "/tmp/callbridge-spool.XXXXXX";
static int appended;

static void on_appended(void *arg, bool ok)
{
	(void)arg;
	appended += ok;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Runs the loop (which hears from the writer thread) until done() holds, 5 s at most. */
static bool poll_loop(bool (*done)(void))
{
	int64_t end = now_ms() + 5000;
	while (!done()) {
		if (now_ms() > end)
			return false;
		event_base_loop(base, EVLOOP_NONBLOCK);
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	return true;
}

static int want_appended;
static bool all_appended(void)
{
	return appended == want_appended;
}

/* Appends n records to the segment being written and waits until they are on disk. */
static bool append(int n, int round)
{
	char key[64];
	snprintf(key, sizeof key, "call.completed:c%d", round);
	struct spool_record rec = {"simz", "2026-11-30T00:00:00Z", key, "{}", 2, 0};
	want_appended = appended + n;
	for (int i = 0; i < n; i++)
		if (spool_append(sp, &rec, on_appended, NULL) != 0)
			return false;
	return poll_loop(all_appended);
}

static struct spool_segment seg;
static bool loaded(void)
{
	char err[256];
	return spool_load_segment(sp, &seg, err, sizeof err) == 1;
}

/* Seals what was appended and loads the oldest sealed segment (sealing is the writer
 * thread's: polled). */
static bool seal_and_load(void)
{
	spool_seal(sp);
	return poll_loop(loaded);
}

static int files(const char *prefix)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

static bool no_segment_file(void)
{
	return files("spool-") == 0;
}

static bool one_quarantined(void)
{
	return files("quarantine-") == 1 && files("spool-") == 0;
}

static bool remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	return rmdir(dir) == 0;
}

int main(void)
{
	char err[256];
	base = event_base_new();
	ok(base && mkdtemp(dir), "an event loop and a directory");
	sp = spool_open(base, dir, 64u << 20, err, sizeof err);
	ok(sp != NULL, "the spool opens");
	if (!sp)
		printf("#   %s\n", err);
	if (!base || !sp)
		return done_testing();

	int handed_again = 0, released = 0;
	uint64_t last_seq = 0;
	for (int r = 0; r < ROUNDS; r++) {
		struct spool_segment again;
		if (!append(3, r) || !seal_and_load() || seg.n != 3 || seg.seq <= last_seq)
			break;
		last_seq = seg.seq;
		spool_release(sp, &seg);
		released++;
		/* At once, as the drainer's next tick may: the deletion is still queued. */
		if (spool_load_segment(sp, &again, err, sizeof err) != 0) {
			handed_again++;
			spool_segment_free(&again);
		}
		poll_loop(no_segment_file);
	}
	ok(released == ROUNDS, "%d segments written, sealed, loaded with their 3 records, released",
	   ROUNDS);
	ok(handed_again == 0, "a released segment is never handed out again (%d of %d were)",
	   handed_again, ROUNDS);
	ok(poll_loop(no_segment_file), "the writer thread deleted every released segment");
	struct spool_stats st;
	spool_get_stats(sp, &st);
	ok(st.records == 0 && st.bytes == 0, "the figures count nothing left (%llu records)",
	   (unsigned long long)st.records);

	/* A quarantined segment likewise; the one written after it is handed out. */
	char path[4096];
	struct spool_segment again;
	ok(append(2, 1000) && seal_and_load(), "a segment to quarantine");
	spool_quarantine(sp, &seg, path, sizeof path);
	ok(spool_load_segment(sp, &again, err, sizeof err) == 0,
	   "a quarantined segment is not handed out while it is being renamed");
	ok(poll_loop(one_quarantined), "it is renamed to quarantine-*.log");
	ok(append(4, 1001) && seal_and_load() && seg.n == 4 && seg.seq > last_seq,
	   "a segment written afterwards is handed out, with its 4 records");
	spool_release(sp, &seg);
	ok(poll_loop(no_segment_file), "and deleted once released");

	spool_close(&sp);
	event_base_free(base);
	ok(remove_dir(), "the directory is removed");
	return done_testing();
}
