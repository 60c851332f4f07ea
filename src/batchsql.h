/* batchsql — the pure parts of the PostgreSQL writer (pgw): the text of its prepared
 * statements, the binary text[] parameters of its batch statements, and the key order in
 * which a batch writes its rows. No libpq, no event loop, no sockets: pgw does the I/O.
 *
 * Ownership: struct batchsql_stmts and struct batchsql_array belong to the caller, who
 * frees what they hold with batchsql_stmts_free() and batchsql_array_free(). A
 * struct batchsql_ref borrows its key strings; they must outlive the sort. */
#ifndef CALLBRIDGE_BATCHSQL_H
#define CALLBRIDGE_BATCHSQL_H

#include <stdbool.h>
#include <stddef.h>

#include "rows.h"

/* ---- statements ----
 * BATCHSQL_EVENT and BATCHSQL_ROW0 + table write one delivery's row per execution;
 * BATCHSQL_EVENTS and BATCHSQL_ROWS0 + table write a whole batch's rows, each parameter
 * a text[] holding one column of every row (see struct batchsql_array). */
enum batchsql_stmt {
	BATCHSQL_EVENT,      /* $1..$8 the event's columns, $9 the entity id, $10 the source */
	BATCHSQL_REPLAY,     /* $1 id, $2 platform, $3..$6 type, time, status, error, $7 entity,
			      * $8 received_at (the partition) */
	BATCHSQL_TRANSCRIPT, /* $1 platform, $2 call external id, $3 event time, $4 json,
			      * $5 source */
	BATCHSQL_EVENTS,     /* BATCHSQL_EVENTS_NPARAMS arrays: BATCHSQL_EVENT's $1..$8, entity,
			      * source */
	BATCHSQL_DUPLICATE,  /* $1 platform, $2 source, $3 dedupe key, $4 received_at, $5 1 or
			      * 0: count the delivery; answers the stored event's status */
	BATCHSQL_ROW0,       /* + enum row_table: $1 platform, $2 event time, then columns,
			      * then the clear mask when the table's rows may clear, then the
			      * source (see batchsql_row_nparams) */
	BATCHSQL_ROWS0 = BATCHSQL_ROW0 + TBL_COUNT /* + enum row_table: the same as arrays */
};
#define BATCHSQL_NSTMTS         (BATCHSQL_ROWS0 + TBL_COUNT)
#define BATCHSQL_EVENTS_NPARAMS 10

/* The parameters of a table's row statements (single or batch): platform, event time,
 * the columns, the clear mask when s->clears, and the source. At most ROW_MAXCOLS + 4. */
static inline int batchsql_row_nparams(const struct row_spec *s)
{
	return s->ncols + 2 + (s->clears ? 1 : 0) + 1;
}

/* Every statement's name (as prepared on each connection) and text. */
struct batchsql_stmts {
	char name[BATCHSQL_NSTMTS][16];
	char *sql[BATCHSQL_NSTMTS];
};

/* Fills s; the names are "cb<tag in hex>_<n>", so that statements of different writers
 * (or versions) never share a name where server connections are shared. -1 when out of
 * memory: then s holds nothing to free. */
int batchsql_stmts_init(struct batchsql_stmts *s, unsigned tag) __attribute__((warn_unused_result));
/* Frees the texts; s may be zeroed or partly filled. */
void batchsql_stmts_free(struct batchsql_stmts *s);

/* ---- array parameters ----
 * A one-dimensional text[] in PostgreSQL's binary format (that of array_send), to pass
 * with format 1: no quoting, no parsing of the elements on either side. Fill it with
 * begin, one add per element, end; then p and len are the parameter's bytes. The buffer
 * is kept from one array to the next; a failed allocation sets oom, and the array must
 * not be sent. */
struct batchsql_array {
	char *p; /* malloc'd */
	size_t len, cap;
	int count; /* elements added since begin */
	bool oom;
};

void batchsql_array_begin(struct batchsql_array *a);
/* Appends one element: s's bytes up to its NUL, or a NULL element for s == NULL. */
void batchsql_array_add(struct batchsql_array *a, const char *s);
/* Writes the header: one dimension of count elements, lower bound 1. */
void batchsql_array_end(struct batchsql_array *a);
/* Lets go of a buffer grown past 1 MiB by an unusually large batch, so that memory stays
 * bounded by the usual batch rather than by the largest one ever seen. */
void batchsql_array_trim(struct batchsql_array *a);
void batchsql_array_free(struct batchsql_array *a);

/* ---- lock order ----
 * A statement locks rows in the order it writes them, so the writer writes every set of
 * rows sorted by key, the same way in every transaction (see pgw.h DESIGN). strcmp's
 * order is not PostgreSQL's collation and need not be: any one total order will do. */

/* Compares one part of a key: strcmp's order, with NULL (a shorter key) first. */
int batchsql_key_cmp(const char *a, const char *b);

/* A row (or transcript) of a batch to be written, by the key it locks: platform, source
 * and up to two more strings (NULL past the key's end), then its batch position and
 * row. */
struct batchsql_ref {
	const char *k[4];
	int i, r;
};

/* Sorts refs[0..n-1] by key, equal keys in (i, r) order; true when no two share a key
 * (after the sort, two that do are neighbours). */
bool batchsql_refs_sort(struct batchsql_ref *refs, int n);

#endif
