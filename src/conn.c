/* conn — one client connection under evhttp (see conn.h).
 *
 * DESIGN. libevent 2.1's evhttp parses leniently (a space before a field's colon, an
 * unknown transfer coding, a second Content-Length pass), and where it frames a
 * message differently from a proxy in front of it, a body can be read as a request.
 * So evhttp never reads a byte wire has not judged. The bufferevent's input buffer is
 * where evhttp reads; an evbuffer callback on it runs when a read has added bytes and
 * before evhttp's read callback is told. It moves the new bytes (always the tail of
 * the buffer) to the connection's held buffer, feeds them to wire, and puts back what
 * wire passes on: whole, checked heads in a normal form, and body bytes. A bufferevent
 * filter would do the same in principle, but 2.1's filter never restarts output that
 * evhttp queues while writing is disabled, so answers stall.
 *
 * Connections are found by descriptor (evhttp keeps no user data on a connection);
 * the slot is set on the first byte and cleared in evhttp's close callback, which runs
 * before the descriptor is closed, so a reused descriptor never finds a stale state.
 * The table is shared by every loop: a descriptor closed on one loop's thread may be
 * accepted next on another's. The kernel orders the two (the slot is cleared before
 * the close, the close comes before the accept), but a race detector cannot see that,
 * so the slots are read and written atomically, and cleared only if still ours.
 *
 * Lingering close: closing a socket with unread bytes makes the kernel send a reset,
 * and a client still sending a body (httpx, Node's fetch, Python's http.client do not
 * wait for 100-continue) loses the answer it has not read yet. After a refusal's
 * answer is written, the socket is duplicated, so evhttp's close does not close it, is
 * shut for writing (the client sees the answer, then end of stream), and is read and
 * dropped until the client closes, LINGER_QUIET_S pass without a byte, LINGER_TOTAL_S
 * pass in all, or linger_bytes have come. */
#include "conn.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#define LINGER_QUIET_S   5
#define LINGER_TOTAL_S   30
#define LINGER_MIN_BYTES (64LL * 1024 * 1024)
#define MAX_FD_SLOTS     (1 << 20)

struct conn {
	struct bufferevent *bev;
	struct evbuffer_cb_entry *cb;
	struct evbuffer *held;  /* read, not judged yet */
	struct evbuffer *spare; /* for putting back bytes evhttp has not read */
	struct wire wire;
	int fd;
	unsigned answered; /* requests evhttp has handed over */
	bool busy;         /* our own changes to the input buffer call us back: ignored */
	void (*gone)(void *);
	void *gone_arg;
};

struct lingerer {
	struct lingerer *next, *prev;
	struct event_base *base;
	struct event *ev;
	int fd;
	time_t until;
	long long left;
};

static pthread_mutex_t setup_mu = PTHREAD_MUTEX_INITIALIZER;
static struct conn **by_fd;
static int fd_slots;
static long long body_limit, linger_bytes;

static pthread_mutex_t linger_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lingerer *lingering;

int conn_setup(long long max_body, int max_fds)
{
	pthread_mutex_lock(&setup_mu);
	int rc = 0;
	if (!by_fd) {
		struct rlimit rl;
		if (max_fds <= 0)
			max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < MAX_FD_SLOTS
					  ? (int)rl.rlim_cur
					  : MAX_FD_SLOTS;
		by_fd = calloc((size_t)max_fds, sizeof *by_fd);
		fd_slots = by_fd ? max_fds : 0;
		rc = by_fd ? 0 : -1;
	}
	body_limit = max_body;
	linger_bytes = 4 * max_body > LINGER_MIN_BYTES ? 4 * max_body : LINGER_MIN_BYTES;
	pthread_mutex_unlock(&setup_mu);
	return rc;
}

/* ---- judging input ---- */

static void emit(void *arg, const char *p, size_t n)
{
	evbuffer_add(arg, p, n);
}

/* Feeds what is held to wire; what it passes on goes to in, where evhttp reads. */
static void judge(struct conn *c, struct evbuffer *in)
{
	struct wire *w = &c->wire;
	size_t avail;
	while ((avail = evbuffer_get_length(c->held)) > 0) {
		if (w->st == WIRE_ST_DONE) {
			evbuffer_drain(c->held, avail);
			return;
		}
		long long body = wire_body_left(w);
		if (body > 0) {
			size_t k = (unsigned long long)body < avail ? (size_t)body : avail;
			if (wire_body_kept(w))
				evbuffer_remove_buffer(c->held, in, k);
			else
				evbuffer_drain(c->held, k);
			wire_body_passed(w, (long long)k);
			continue;
		}
		size_t look = wire_lookahead(w);
		if (look > avail)
			look = avail;
		const unsigned char *p = evbuffer_pullup(c->held, (ev_ssize_t)look);
		if (!p) { /* out of memory: this connection's input is dropped */
			w->st = WIRE_ST_DONE;
			continue;
		}
		size_t used = wire_feed(w, (const char *)p, look, emit, in);
		evbuffer_drain(c->held, used);
		if (used == 0)
			return; /* a partial line: wait for more */
	}
}

static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	if (c->busy || info->n_added == 0)
		return;
	c->busy = true;
	size_t unread = evbuffer_get_length(in) - info->n_added;
	if (unread) /* evhttp has not read these yet: they stay in front */
		evbuffer_remove_buffer(in, c->spare, unread);
	evbuffer_add_buffer(c->held, in);
	if (unread)
		evbuffer_add_buffer(in, c->spare);
	judge(c, in);
	c->busy = false;
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct conn *c = arg;
	void (*gone)(void *) = c->gone;
	c->gone = NULL;
	if (gone)
		gone(c->gone_arg);
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->cb);
	struct conn *mine = c; /* only ours: never a newer connection's */
	if (c->fd >= 0 && c->fd < fd_slots)
		__atomic_compare_exchange_n(&by_fd[c->fd], &mine, NULL, false, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED);
	evbuffer_free(c->held);
	evbuffer_free(c->spare);
	wire_free(&c->wire);
	free(c);
}

/* The first bytes on a connection: its state is made now, when evhttp has set the
 * connection up (its read callback's argument is the connection). */
static void on_first_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct bufferevent *bev = arg;
	if (info->n_added == 0)
		return;
	void *evcon = NULL;
	bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
	int fd = (int)bufferevent_getfd(bev);
	struct conn *c = NULL;
	if (evcon && fd >= 0 && fd < fd_slots)
		c = calloc(1, sizeof *c);
	if (c) {
		c->held = evbuffer_new();
		c->spare = evbuffer_new();
	}
	if (c && c->held && c->spare)
		c->cb = evbuffer_add_cb(in, on_input, c);
	if (!c || !c->cb) { /* nothing can be judged, so nothing is read */
		if (c) {
			if (c->held)
				evbuffer_free(c->held);
			if (c->spare)
				evbuffer_free(c->spare);
			free(c);
		}
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	/* the running callback list saved its next entry: removing this one is safe */
	evbuffer_remove_cb(in, on_first_input, bev);
	c->bev = bev;
	c->fd = fd;
	wire_init(&c->wire, body_limit);
	__atomic_store_n(&by_fd[fd], c, __ATOMIC_RELEASE);
	evhttp_connection_set_closecb(evcon, on_close, c);
	on_input(in, info, c);
}

struct bufferevent *conn_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev = NULL;
	if (arg) {
		SSL *ssl = SSL_new(arg);
		if (!ssl)
			return NULL;
		bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
						     BEV_OPT_CLOSE_ON_FREE);
	} else {
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (bev && !evbuffer_add_cb(bufferevent_get_input(bev), on_first_input, bev)) {
		bufferevent_free(bev);
		bev = NULL;
	}
	return bev;
}

struct conn *conn_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	int fd = bev ? (int)bufferevent_getfd(bev) : -1;
	struct conn *c =
		fd >= 0 && fd < fd_slots ? __atomic_load_n(&by_fd[fd], __ATOMIC_ACQUIRE) : NULL;
	return c && c->bev == bev ? c : NULL;
}

const struct wire_refusal_info *conn_refusal(struct evhttp_request *req)
{
	struct conn *c = conn_of(req);
	if (c && ++c->answered == c->wire.refused_at && c->wire.refusal)
		return wire_refusal_info(c->wire.refusal);
	const char *name =
		evhttp_find_header(evhttp_request_get_input_headers(req), WIRE_MARKER_FIELD);
	return name ? wire_refusal_named(name) : NULL;
}

void conn_watch(struct conn *c, void (*gone)(void *arg), void *arg)
{
	c->gone = gone;
	c->gone_arg = arg;
}

/* ---- lingering close ---- */

static void linger_end(struct lingerer *l)
{
	pthread_mutex_lock(&linger_mu);
	if (l->prev)
		l->prev->next = l->next;
	else
		lingering = l->next;
	if (l->next)
		l->next->prev = l->prev;
	pthread_mutex_unlock(&linger_mu);
	event_free(l->ev);
	close(l->fd);
	free(l);
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct lingerer *l = arg;
	char buf[16384];
	if (!(what & EV_READ) || time(NULL) >= l->until) {
		linger_end(l);
		return;
	}
	for (;;) {
		ssize_t n = read((int)fd, buf, sizeof buf);
		if (n > 0) {
			l->left -= n;
			if (l->left > 0)
				continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else if (n < 0 && errno == EINTR) {
			continue;
		}
		linger_end(l); /* end of stream, an error, or enough */
		return;
	}
}

static void linger_start(struct event_base *base, int fd)
{
	/* dup, not fcntl(F_DUPFD_CLOEXEC): ThreadSanitizer follows descriptors through dup
	 * only, and would take the copy's later close for a race on a reused number */
	int dup_fd = dup(fd);
	if (dup_fd < 0)
		return; /* evhttp's close stays a plain close */
	fcntl(dup_fd, F_SETFD, FD_CLOEXEC);
	struct lingerer *l = calloc(1, sizeof *l);
	struct timeval quiet = {LINGER_QUIET_S, 0};
	if (l)
		l->ev = event_new(base, dup_fd, EV_READ | EV_PERSIST, on_linger, l);
	if (!l || !l->ev || event_add(l->ev, &quiet) < 0) {
		if (l && l->ev)
			event_free(l->ev);
		free(l);
		close(dup_fd);
		return;
	}
	shutdown(dup_fd, SHUT_WR);
	l->base = base;
	l->fd = dup_fd;
	l->until = time(NULL) + LINGER_TOTAL_S;
	l->left = linger_bytes;
	pthread_mutex_lock(&linger_mu);
	l->next = lingering;
	if (lingering)
		lingering->prev = l;
	lingering = l;
	pthread_mutex_unlock(&linger_mu);
}

static void on_sent(struct evhttp_request *req, void *arg)
{
	(void)req;
	struct conn *c = arg;
	linger_start(bufferevent_get_base(c->bev), c->fd);
}

void conn_close_after(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_remove_header(h, "Connection");
	evhttp_add_header(h, "Connection", "close");
	struct conn *c = conn_of(req);
	if (c)
		evhttp_request_set_on_complete_cb(req, on_sent, c);
}

void conn_linger_stop(struct event_base *base)
{
	for (;;) {
		struct lingerer *l;
		pthread_mutex_lock(&linger_mu);
		for (l = lingering; l && l->base != base; l = l->next)
			;
		pthread_mutex_unlock(&linger_mu);
		if (!l)
			return;
		linger_end(l);
	}
}
