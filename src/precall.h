/* precall — the pre-call lookups' database side (docs/precall.md): one libpq connection
 * per event loop, of its own (a lookup never waits behind a write batch), a prepared
 * read (callbridge.caller_facts), a hard budget per lookup, and the record of every
 * lookup written afterwards in batches. The request and answer shapes are lookup.c's.
 *
 * DESIGN
 * - Lookups are pipelined on the connection in arrival order, each in its own implicit
 *   transaction (a sync after each), so one that fails fails alone.
 * - Every lookup is answered exactly once (its done callback, on the loop): with the
 *   facts when they come within the budget; unknown when the budget runs out first
 *   (its result, when it comes, is dropped), or at once when no connection is ready
 *   or too many lookups wait. The query bounds its own lock waits by the budget
 *   (lock_timeout), so a lock held on a table it reads does not hold the connection.
 * - The record of a lookup (callbridge.precall_lookups) is queued once it is answered
 *   and written in batches with synchronous_commit off: never before an answer, never
 *   waiting for the disk. Records that cannot be written (no database) are counted. */
#ifndef CALLBRIDGE_PRECALL_H
#define CALLBRIDGE_PRECALL_H

#include "config.h"
#include "lookup.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct event;
struct precall;

enum precall_outcome {
	PRECALL_KNOWN,
	PRECALL_UNKNOWN,
	PRECALL_BUDGET,      /* the budget ran out: answered unknown */
	PRECALL_UNAVAILABLE, /* no database (or it refused the lookup): answered unknown */
	PRECALL_DROPPED,     /* the service is being freed: free the query, send nothing */
	PRECALL_NOUTCOMES
};

const char *precall_outcome_name(enum precall_outcome o);

/* One lookup, owned by the caller; precall borrows it from precall_lookup() until its
 * done() (called exactly once). facts are valid during the call only. */
struct precall_query {
	void (*done)(struct precall_query *q, enum precall_outcome out,
		     const struct lookup_facts *facts);
	/* precall's: */
	struct precall *pc;
	struct event *budget;
	int64_t start_us;
	int adapter; /* index into lookup_adapters; lookup_adapter_count: GET /v1/callers */
	char phone[64], called[64], agent[128];
	/* "": the lookup sees every source; else only this source's rows, on any platform */
	char scope[65];
};

/* Reads CALLBRIDGE_<SLUG>_PRECALL_TOKEN (or its _FILE twin) of every adapter. -1 with
 * err filled on a bad setting. */
int precall_load_tokens(char *err, size_t errlen) __attribute__((warn_unused_result));
/* Whether any adapter has a token: otherwise the daemon opens no lookup connection. */
bool precall_enabled(void);
/* Whether token (len bytes) is adapter's (NULL: any adapter's), compared in constant
 * time. false when the adapter has none. */
bool precall_token_ok(const struct lookup_adapter *adapter, const char *token, size_t len);
/* CALLBRIDGE_<SLUG>_PRECALL_TOKEN[_FILE] of an adapter that is not a platform. */
bool precall_is_setting(const char *name);

/* A service on base (connecting at once); NULL when out of memory. */
struct precall *precall_new(struct event_base *base, const struct config *cfg);

/* Starts the lookup of q's phone (NUL-terminated, as sent; "" when none), with
 * q->adapter, called, agent and start_us (0: now) set. Its done() may run before this
 * returns (no connection, too many waiting). */
void precall_lookup(struct precall *pc, struct precall_query *q);

/* Every lookup still waiting is done() with PRECALL_DROPPED; the connection closes. */
void precall_free(struct precall **pc);

#endif
