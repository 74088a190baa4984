/*
 * stats.h - what one worker thread counts: responses by status, latency,
 * errors by kind, the distribution by the --by-header value (which backend
 * answered: steps 3 and 6 seen from the client), per --source address
 * (step 1: who connected), per second for --timeline, and the fate of the
 * --slow connections.  Workers count alone; main() merges at the end.
 *
 * Nothing here allocates per request: histograms and tables are allocated
 * when a value is first seen (at most STATS_MAX_VALUES of them), timeline
 * rows once per second.
 */
#ifndef LG_STATS_H
#define LG_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

enum err_kind {
	ERR_CONNECT_REFUSED,   /* connect(): ECONNREFUSED                        */
	ERR_CONNECT_TIMEOUT,   /* no connection within --timeout                  */
	ERR_CONNECT,           /* any other connect() failure                     */
	ERR_RESET,             /* ECONNRESET (or another error) reading/writing  */
	ERR_CLOSED,            /* the server closed before the response ended    */
	ERR_TIMEOUT,           /* no complete response within --timeout          */
	ERR_MALFORMED,         /* the response is not HTTP/1.x                    */
	ERR__COUNT
};

/* "connect_refused", ... (JSON keys) and "connect refused", ... (text). */
extern const char *const err_key[ERR__COUNT];
extern const char *const err_label[ERR__COUNT];

#define STATS_MAX_VALUES 64    /* distinct --by-header values tracked         */
#define STATS_STATUS_MAX 1000  /* status codes 0..999                          */
#define SRC_STATUS_SLOTS 8     /* distinct status codes kept per source        */
#define TL_STATUS_COLS   24    /* distinct status codes in the timeline        */
#define TL_FIXED         3     /* requests, errors, proxy_5xx                  */
#define TL_COLS          (TL_FIXED + TL_STATUS_COLS + STATS_MAX_VALUES + 1)

struct value_stat {            /* one value of the --by-header header */
	char *name;
	uint64_t count;
	struct hist lat;
};

struct status_count {
	int code;
	uint64_t count;
};

struct source_stat {           /* one --source address */
	uint64_t requests, errors;
	struct status_count status[SRC_STATUS_SLOTS];
	uint64_t status_other;
	struct hist lat;
};

/* How the --slow connections ended. */
enum slow_outcome {
	SLOW_ANSWERED,         /* the server answered before the request was sent */
	SLOW_CLOSED,           /* the server closed, without a response           */
	SLOW_RESET,            /* the server reset the connection                 */
	SLOW_COMPLETED,        /* the whole request went out and was answered     */
	SLOW_TIMEOUT,          /* sent, but no response within --timeout          */
	SLOW_CONNECT_FAILED,   /* could not connect                               */
	SLOW_OPEN,             /* still sending when the run ended                */
	SLOW__COUNT
};
extern const char *const slow_key[SLOW__COUNT];

struct slow_stats {
	uint64_t count[SLOW__COUNT];
	double seconds[SLOW__COUNT];   /* total lifetime of those connections */
	struct status_count status[2][SRC_STATUS_SLOTS];  /* [0] answered, [1] completed */
};

struct stats {
	uint64_t requests;             /* complete responses                  */
	uint64_t bytes;                /* bytes read, responses and all       */
	uint64_t errors[ERR__COUNT];
	uint64_t proxy_5xx;            /* >= 500 without the by-header header */
	uint64_t backend_5xx;          /* >= 500 with it                      */
	uint64_t conns_opened;
	uint64_t unanswered;           /* counted requests dropped at the end */
	uint64_t status[STATS_STATUS_MAX];
	struct hist lat;

	struct value_stat values[STATS_MAX_VALUES];
	size_t nvalues;
	uint64_t values_other;         /* values beyond STATS_MAX_VALUES      */
	uint64_t values_missing;       /* responses without the header        */

	struct source_stat *sources;
	size_t nsources;

	struct slow_stats slow;

	/* --timeline: rows[s][col] counts what ended in second s. */
	bool timeline;
	uint32_t (*rows)[TL_COLS];
	size_t nrows, rows_cap;
	int16_t tl_status[TL_STATUS_COLS];  /* status code of each status column */
	size_t ntl_status;
	uint64_t tl_overflow;               /* status codes beyond TL_STATUS_COLS */
};

/* 0, or -1 on ENOMEM (then stats_free is still safe). */
int stats_init(struct stats *s, size_t nsources, bool timeline);
void stats_free(struct stats *s);

/* A complete response: status, the by-header value (NULL if absent), the
 * source index, latency, and the second of the run it ended in. */
void stats_response(struct stats *s, int status, const char *value, size_t source, uint64_t lat_us,
                    uint64_t second);
void stats_error(struct stats *s, enum err_kind kind, size_t source, uint64_t second);
void stats_slow(struct stats *s, enum slow_outcome o, int status, double seconds);

/* Adds src into dst (values and timeline columns matched by name).
 * 0, or -1 on ENOMEM. */
int stats_merge(struct stats *dst, const struct stats *src);

uint64_t stats_errors(const struct stats *s);
/* Index of the timeline column of a value, or -1 if not a value column. */
static inline size_t tl_value_col(size_t v) { return TL_FIXED + TL_STATUS_COLS + v; }
#define TL_COL_OTHER (TL_COLS - 1)          /* missing header and overflow */

#endif
