/*
 * events.h - the proxy's step events (--events FILE: JSON lines such as
 * {"t":1764158400000104000,"id":"7f3a","step":3,"event":"decide",
 *  "pool":"default","server":"b1","algorithm":"roundrobin","reason":"..."}),
 * read so the tracer can say what step 3 decided and tie a request id to
 * its client.  The file may still be growing (a live proxy): events_poll
 * reads what was appended since the last call.
 */
#ifndef TRACER_EVENTS_H
#define TRACER_EVENTS_H

#include <stddef.h>

struct events;

struct decision {
	char *pool, *server, *algorithm, *reason;
};

/* Opens and reads the file; NULL with a one-line reason in err. */
struct events *events_open(const char *path, char *err, size_t errlen);
/* Reads the lines appended since the last call (complete lines only). */
void events_poll(struct events *e);
/* The "client" ("IP:PORT") of request id, or NULL. */
const char *events_client_of(struct events *e, const char *id);
/* The step-3 decision for request id, or NULL. */
const struct decision *events_decision(struct events *e, const char *id);
/* Lines that were not JSON objects (ignored). */
size_t events_bad_lines(const struct events *e);
void events_free(struct events *e);

#endif
