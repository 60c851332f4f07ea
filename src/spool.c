/* spool — durable local fallback (see spool.h DESIGN). */
#include "spool.h"
#include "log.h"
#include "relay.h"
#include "spoolrec.h"
#include "ts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#define SEGMENT_MAX_BYTES (16u << 20)

/* One queued job for the writer thread: an append (buf holds header + payload) or, with
 * unlink_seq set, the deletion of a drained segment (with quarantine, its renaming to
 * quarantine-<seq>.log). */
struct job {
	struct job *next;
	struct relay_node done_node; /* a batch's first job: the batch, back to the loop */
	void (*done)(void *arg, bool ok);
	void *arg;
	bool ok;
	uint64_t unlink_seq;
	bool quarantine;
	size_t len;
	char buf[];
};

struct spool {
	char *dir;
	uint64_t max_bytes;
	bool full;             /* an append was refused for room; cleared when room is freed */
	struct spool_stats st; /* loop thread only, but for fsyncs (written under mu) */

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *q_head, *q_tail; /* for the thread */
	bool stop, seal_req;
	int fd;              /* segment being written, -1 when sealed */
	uint64_t active_seq; /* its number (0: none) */
	uint64_t next_seq;
	uint64_t active_size;
	uint64_t fsyncs;

	struct relay *done; /* finished batches, to the loop */
	int lock_fd;        /* <dir>/lock, flock'd: one daemon per spool */
	/* Segments are drained oldest first, so every one numbered below this has been
	 * released: its deletion (or renaming) is the writer thread's, queued behind appends,
	 * and until it is done the file is still listed. Never handed out again meanwhile: a
	 * second drain would count its deliveries twice. Loop thread only. */
	uint64_t released_below;
};

static char *read_file(const char *path, size_t *size, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *buf = NULL;
	if (fd < 0 || fstat(fd, &sb) < 0)
		goto fail;
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf)
		goto fail;
	size_t got = 0;
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*size = got;
	return buf;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Start-up check of one segment: counts its good records (returned) and those skipped
 * as corrupt, and cuts a torn tail off the file, as spoolrec's reading rule says. -1 with
 * err filled when the file cannot be read or cut. */
static long check_segment(const char *path, uint64_t *corrupt, uint64_t *bytes, char *err,
			  size_t errlen)
{
	size_t size;
	char *data = read_file(path, &size, err, errlen);
	if (!data)
		return -1;
	struct spoolrec_iter it;
	struct spool_record rec;
	long n = 0;
	spoolrec_iter_init(&it, data, size);
	while (spoolrec_next(&it, &rec))
		n++;
	free(data);
	*corrupt = it.corrupt;
	if (it.keep < size) {
		if (truncate(path, (off_t)it.keep) < 0) {
			snprintf(err, errlen, "%s: cannot cut the torn tail: %s", path,
				 strerror(errno));
			return -1;
		}
		char off[24];
		snprintf(off, sizeof off, "%zu", it.keep);
		log_warn("spool: cut a torn tail", "file", path, "at", off);
	}
	*bytes = it.keep;
	return n;
}

/* mkdir -p: parents as mkdir(1) makes them (0777 less the umask), the spool itself 0700,
 * so that a default var/spool does not close var/ to others (make run's var/pg). */
static int mkdir_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0777);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* ---- segments ---- */

static void segment_path(const struct spool *s, uint64_t seq, char *out, size_t len)
{
	snprintf(out, len, "%s/spool-%016" PRIx64 ".log", s->dir, seq);
}

/* Where a segment holding a record the database refused even as a dead letter is kept:
 * a name list_segments does not match, so it is never drained again by itself. */
static void quarantine_path(const struct spool *s, uint64_t seq, char *out, size_t len)
{
	snprintf(out, len, "%s/quarantine-%016" PRIx64 ".log", s->dir, seq);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Sequence numbers of the files named <prefix><16 hex digits>.log ("spool-": the
 * segments), ascending; *n of them. */
static uint64_t *list_files(const char *dir, const char *prefix, int *n)
{
	DIR *d = opendir(dir);
	uint64_t *seqs = NULL;
	int cap = 0;
	*n = 0;
	if (!d)
		return NULL;
	struct dirent *e;
	while ((e = readdir(d))) {
		uint64_t seq;
		char tail[8];
		size_t pl = strlen(prefix);
		if (strncmp(e->d_name, prefix, pl) ||
		    sscanf(e->d_name + pl, "%16" SCNx64 ".%4s", &seq, tail) != 2 ||
		    strcmp(tail, "log"))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *p = realloc(seqs, (size_t)cap * sizeof *p);
			if (!p)
				break;
			seqs = p;
		}
		seqs[(*n)++] = seq;
	}
	closedir(d);
	for (int i = 1; i < *n; i++) /* insertion sort: few files */
		for (int k = i; k > 0 && seqs[k - 1] > seqs[k]; k--) {
			uint64_t t = seqs[k];
			seqs[k] = seqs[k - 1];
			seqs[k - 1] = t;
		}
	return seqs;
}

static uint64_t *list_segments(const char *dir, int *n)
{
	return list_files(dir, "spool-", n);
}

/* ---- writer thread ---- */

static bool write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* The segment numbers change under the lock, so that the drainer's view (which
 * segments are sealed) is never between two updates. Called with the lock held. */
static void close_segment_locked(struct spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->active_seq = 0;
}

static void close_segment(struct spool *s)
{
	pthread_mutex_lock(&s->mu);
	close_segment_locked(s);
	pthread_mutex_unlock(&s->mu);
}

static bool open_segment(struct spool *s)
{
	char path[4096];
	pthread_mutex_lock(&s->mu);
	uint64_t seq = s->next_seq++;
	s->active_seq = seq;
	pthread_mutex_unlock(&s->mu);
	segment_path(s, seq, path, sizeof path);
	s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd < 0 || fsync_dir(s->dir) < 0) {
		log_error("spool: cannot create a segment", "file", path, "error", strerror(errno));
		close_segment(s);
		return false;
	}
	s->active_size = 0;
	return true;
}

/* Writes a batch of appends and syncs once; on any failure the segment is cut back to
 * where the batch began, and every job of the batch reports failure. Returns whether it
 * synced. */
static bool write_batch(struct spool *s, struct job *batch)
{
	bool ok = true;
	for (struct job *j = batch; j && ok; j = j->next) {
		if (j->unlink_seq && j->quarantine) {
			char path[4096], to[4096];
			segment_path(s, j->unlink_seq, path, sizeof path);
			quarantine_path(s, j->unlink_seq, to, sizeof to);
			j->ok = rename(path, to) == 0;
			if (!j->ok)
				log_error("spool: cannot quarantine a segment; it is drained again "
					  "at the next start",
					  "file", path, "error", strerror(errno));
			continue;
		}
		if (j->unlink_seq) {
			char path[4096];
			segment_path(s, j->unlink_seq, path, sizeof path);
			j->ok = unlink(path) == 0 || errno == ENOENT;
			if (!j->ok)
				log_error("spool: cannot delete a drained segment; it is drained "
					  "again at the next start",
					  "file", path, "error", strerror(errno));
			continue;
		}
	}
	if (s->fd >= 0 && s->active_size >= SEGMENT_MAX_BYTES)
		close_segment(s);
	bool any = false;
	for (struct job *j = batch; j; j = j->next)
		any |= !j->unlink_seq;
	if (any && s->fd < 0)
		ok = open_segment(s);
	uint64_t start = s->active_size;
	for (struct job *j = batch; j && ok; j = j->next)
		if (!j->unlink_seq)
			ok = write_all(s->fd, j->buf, j->len);
	if (any && ok)
		ok = fdatasync(s->fd) == 0;
	if (any && !ok && s->fd >= 0) {
		log_error("spool: write failed", "error", strerror(errno));
		if (ftruncate(s->fd, (off_t)start) < 0)
			log_error("spool: cannot cut a failed write", "error", strerror(errno));
		close_segment(s);
	}
	for (struct job *j = batch; j; j = j->next) {
		if (!j->unlink_seq) {
			j->ok = ok;
			if (ok)
				s->active_size += j->len;
		}
	}
	bool unlinked = false;
	for (struct job *j = batch; j; j = j->next)
		unlinked |= j->unlink_seq != 0;
	if (unlinked)
		fsync_dir(s->dir);
	return any;
}

static void *writer_main(void *arg)
{
	struct spool *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->q_head && !s->stop && !s->seal_req)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->q_head) {
			if (s->seal_req) {
				close_segment_locked(s);
				s->seal_req = false;
				continue;
			}
			break; /* stop, and nothing left */
		}
		struct job *batch = s->q_head;
		s->q_head = s->q_tail = NULL;
		pthread_mutex_unlock(&s->mu);
		bool synced = write_batch(s, batch);
		pthread_mutex_lock(&s->mu);
		s->fsyncs += synced;
		relay_post(s->done, &batch->done_node);
	}
	close_segment_locked(s);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Loop side: reports a finished batch's jobs. */
static void on_done(struct relay_node *n, void *arg)
{
	struct spool *s = arg;
	struct job *j = (struct job *)((char *)n - offsetof(struct job, done_node));
	pthread_mutex_lock(&s->mu);
	s->st.fsyncs = s->fsyncs;
	pthread_mutex_unlock(&s->mu);
	while (j) {
		struct job *next = j->next;
		if (!j->unlink_seq && !j->ok) {
			s->st.bytes -= j->len;
			s->st.records--;
			s->full = false;
			if (!s->st.records)
				s->st.backlog_since_us = 0;
		}
		if (j->done)
			j->done(j->arg, j->ok);
		free(j);
		j = next;
	}
}

static void enqueue(struct spool *s, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->q_tail)
		s->q_tail->next = j;
	else
		s->q_head = j;
	s->q_tail = j;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- public ---- */

int spool_append(struct spool *s, const struct spool_record *rec, void (*done)(void *arg, bool ok),
		 void *arg)
{
	size_t size = spoolrec_size(rec);
	if (size == 0 || s->st.bytes + size > s->max_bytes) {
		s->full = true;
		return -1;
	}
	struct job *j = calloc(1, sizeof *j + size);
	if (!j)
		return -1;
	j->len = spoolrec_encode(rec, j->buf);
	j->done = done;
	j->arg = arg;
	s->st.bytes += j->len;
	if (!s->st.records++)
		s->st.backlog_since_us = ts_now_us();
	s->st.appended++;
	enqueue(s, j);
	return 0;
}

void spool_seal(struct spool *s)
{
	pthread_mutex_lock(&s->mu);
	if (s->active_seq) {
		s->seal_req = true;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
}

int spool_load_segment(struct spool *s, struct spool_segment *seg, char *err, size_t errlen)
{
	int n = 0, rc = 0;
	/* Every segment numbered below the bound is sealed: the one being written is the
	 * bound itself, and any the writer opens later is numbered above it. Taken before
	 * listing, so a segment created meanwhile is never mistaken for a sealed one. */
	pthread_mutex_lock(&s->mu);
	uint64_t bound = s->active_seq ? s->active_seq : s->next_seq;
	pthread_mutex_unlock(&s->mu);
	uint64_t *seqs = list_segments(s->dir, &n);
	memset(seg, 0, sizeof *seg);
	for (int i = 0; i < n && rc == 0; i++) {
		if (seqs[i] >= bound || seqs[i] < s->released_below)
			continue;
		char path[4096];
		struct spoolrec_iter it;
		struct spool_record rec;
		size_t count = 0;
		segment_path(s, seqs[i], path, sizeof path);
		seg->data = read_file(path, &seg->size, err, errlen);
		if (!seg->data) {
			rc = -1;
			break;
		}
		/* Twice over the bytes: once to size the array, once to fill it. */
		spoolrec_iter_init(&it, seg->data, seg->size);
		while (spoolrec_next(&it, &rec))
			count++;
		seg->rec = calloc(count + 1, sizeof *seg->rec);
		if (!seg->rec) {
			snprintf(err, errlen, "out of memory");
			spool_segment_free(seg);
			rc = -1;
			break;
		}
		spoolrec_iter_init(&it, seg->data, seg->size);
		while ((size_t)seg->n < count && spoolrec_next(&it, &rec))
			seg->rec[seg->n++] = rec;
		seg->seq = seqs[i];
		rc = 1;
	}
	free(seqs);
	return rc;
}

void spool_segment_free(struct spool_segment *seg)
{
	free(seg->rec);
	free(seg->data);
	memset(seg, 0, sizeof *seg);
}

static void release(struct spool *s, struct spool_segment *seg, bool quarantine)
{
	struct job *j = calloc(1, sizeof *j);
	if (seg->seq >= s->released_below)
		s->released_below = seg->seq + 1;
	s->st.bytes = s->st.bytes > seg->size ? s->st.bytes - seg->size : 0;
	s->st.records = s->st.records > (uint64_t)seg->n ? s->st.records - (uint64_t)seg->n : 0;
	s->st.quarantined += quarantine;
	if (!s->st.records)
		s->st.backlog_since_us = 0;
	s->full = false;
	if (j) {
		j->unlink_seq = seg->seq;
		j->quarantine = quarantine;
		enqueue(s, j);
	} else {
		char seq[24];
		snprintf(seq, sizeof seq, "%" PRIu64, seg->seq);
		log_error("spool: out of memory; a drained segment is drained again at the next "
			  "start",
			  "segment", seq);
	}
	spool_segment_free(seg);
}

void spool_release(struct spool *s, struct spool_segment *seg)
{
	release(s, seg, false);
}

void spool_quarantine(struct spool *s, struct spool_segment *seg, char *path, size_t pathlen)
{
	quarantine_path(s, seg->seq, path, pathlen);
	release(s, seg, true);
}

void spool_get_stats(struct spool *s, struct spool_stats *out)
{
	*out = s->st;
}

bool spool_is_full(struct spool *s)
{
	return s->full || s->st.bytes + 4096 > s->max_bytes;
}

struct spool *spool_open(struct event_base *base, const char *dir, uint64_t max_bytes, char *err,
			 size_t errlen)
{
	struct spool *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->fd = -1;
	s->lock_fd = -1;
	s->max_bytes = max_bytes;
	s->dir = strdup(dir);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (!s->dir || mkdir_parents(s->dir) < 0) {
		snprintf(err, errlen, "CALLBRIDGE_SPOOL_DIR: cannot create %s: %s", dir,
			 strerror(errno));
		goto fail;
	}
	/* Two daemons appending to and draining one spool would corrupt it: the second to
	 * start refuses (with CALLBRIDGE_WORKERS > 1 the port alone would not stop it). */
	char lock_path[4096];
	snprintf(lock_path, sizeof lock_path, "%s/lock", s->dir);
	s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "CALLBRIDGE_SPOOL_DIR: %s %s", dir,
			 s->lock_fd >= 0 && errno == EWOULDBLOCK
				 ? "is in use by another callbridge process"
				 : "cannot be locked");
		goto fail;
	}
	int n = 0;
	uint64_t *seqs = list_segments(dir, &n);
	for (int i = 0; i < n; i++) {
		char path[4096];
		uint64_t bytes = 0, corrupt = 0;
		segment_path(s, seqs[i], path, sizeof path);
		long count = check_segment(path, &corrupt, &bytes, err, errlen);
		if (count < 0) {
			free(seqs);
			goto fail;
		}
		if (corrupt) {
			char c[24];
			snprintf(c, sizeof c, "%" PRIu64, corrupt);
			log_error("spool: skipping records whose checksum fails", "file", path,
				  "records", c);
		}
		s->st.records += (uint64_t)count;
		if (s->st.records && !s->st.backlog_since_us)
			s->st.backlog_since_us = ts_now_us();
		s->st.bytes += bytes;
		s->st.corrupt += corrupt;
		s->next_seq = seqs[i] + 1;
	}
	free(seqs);
	/* New segments are numbered past quarantined ones too, so that renaming one back
	 * to its segment name never meets a segment of that number. */
	seqs = list_files(dir, "quarantine-", &n);
	if (n > 0 && seqs[n - 1] >= s->next_seq)
		s->next_seq = seqs[n - 1] + 1;
	free(seqs);
	if (n > 0) {
		char q[16];
		snprintf(q, sizeof q, "%d", n);
		log_error("spool: quarantined segments hold deliveries the database refused even "
			  "as failed events; see docs/operations.md",
			  "dir", dir, "segments", q);
	}
	if (s->next_seq == 0)
		s->next_seq = 1;
	s->done = relay_new(base, on_done, s);
	if (!s->done) {
		snprintf(err, errlen, "spool: cannot set up its event");
		goto fail;
	}
	if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
		snprintf(err, errlen, "spool: cannot start its thread");
		goto fail;
	}
	s->thread_started = true;
	if (s->st.records) {
		char r[24];
		snprintf(r, sizeof r, "%" PRIu64, s->st.records);
		log_notice("spool: records waiting to be drained", "records", r);
	}
	return s;
fail:
	spool_close(&s);
	return NULL;
}

void spool_close(struct spool **sp)
{
	struct spool *s = *sp;
	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	/* Report what the thread finished after the loop stopped (deliveries spooled at a
	 * shutdown timeout), so that their owners can let go of them. */
	if (s->done)
		relay_run(s->done);
	relay_free(&s->done);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->dir);
	free(s);
	*sp = NULL;
}
