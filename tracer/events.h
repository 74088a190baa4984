/*
 * events.h - the proxy's step events (--events FILE: JSON lines such as
 * {"t":1764158400.000104,"id":"7f3a","step":3,"event":"decide",
 *  "pool":"default","server":"127.0.0.11:9001","server_name":"b1",
 *  "algorithm":"roundrobin","reason":"..."}), read with libjansson so the
 * tracer can say what step 3 decided, tie a request id to its client, and
 * tell a denied connection.  "t" is read in both forms the proxy has
 * written: Unix seconds with a fraction, and integer nanoseconds.
 *
 * The file may still be growing (a live proxy): events_poll reads what was
 * appended since the last call.  Bounded: a line longer than EV_LINE_MAX is
 * skipped, reading stops after EV_TOTAL_MAX bytes, and the events kept are
 * the EV_MAX_ENTRIES newest ids (a request's are dropped when the tracer is
 * done with it).
 */
#ifndef TRACER_EVENTS_H
#define TRACER_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EV_LINE_MAX (64u * 1024)
#define EV_TOTAL_MAX (1ull << 30)
#define EV_MAX_ENTRIES 65536

struct events;

struct decision {
	char *pool, *server, *server_name, *algorithm, *reason;
};

/* Opens and reads the file; NULL with a one-line reason in err. */
struct events *events_open(const char *path, char *err, size_t errlen);
/* Reads the lines appended since the last call (complete lines only). */
void events_poll(struct events *e);
/* The "client" ("IP:PORT") of request id, or NULL. */
const char *events_client_of(struct events *e, const char *id);
/* The step-3 decision for request id, or NULL. */
const struct decision *events_decision(struct events *e, const char *id);
/* Did the proxy deny this client ("IP:PORT") at step 1? */
bool events_denied(struct events *e, const char *client);
/* The tracer is done with request id. */
void events_forget(struct events *e, const char *id);
/* Lines that were not JSON objects (skipped), lines over EV_LINE_MAX. */
size_t events_bad_lines(const struct events *e);
size_t events_long_lines(const struct events *e);
/* True if reading stopped at EV_TOTAL_MAX. */
bool events_capped(const struct events *e);
/* The first and last "t" read, in nanoseconds since the epoch; false if
 * no event had one. */
bool events_span(const struct events *e, uint64_t *lo, uint64_t *hi);
void events_free(struct events *e);

#endif
