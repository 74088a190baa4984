/*
 * tracer_setup.h - a trace for the two tracer harnesses, set up as
 * `tracer --proxy 127.0.0.2:8080 --backends b1=127.0.0.11:9001,127.0.0.12:9001,9002`
 * would set it up, printing to /dev/null, and fed frames the way main.c's
 * on_frame feeds them.  An input's hash picks the rest, as flags would:
 * the output mode (timeline, --json, --summary, --mermaid [--fenced],
 * --html), --color, -w, --requests, a terminal's width, -l, names
 * (--name, ADDR=NAME), --events, and whether the capture is live (frames
 * stamped with a wall clock that may run fast, so packets and gaps wait
 * "too long", and the live loop's ticks, trace_trim included) or read
 * from a file.
 * Written against the tracer's public functions (tracer.h, output.h,
 * capture.h, events.h, pcapng.h).
 */
#ifndef FUZZ_TRACER_SETUP_H
#define FUZZ_TRACER_SETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "../../tracer/decode.h"
#include "../../tracer/tracer.h"

struct fuzz_trace {
	struct trace t;
	bool live;              /* frames get wall-clock stamps; ticks as the live loop's */
	uint64_t warp;          /* live: wall-clock nanoseconds per capture nanosecond */
	uint64_t wall0, last_tick, last_trim;
	uint64_t frames;
};

/* Sets f up; choice (an input's hash) picks the options. */
void tracer_begin(struct fuzz_trace *f, uint64_t choice);
/* One frame, decoded as d into p (its payload inside raw), at capture time
 * ts_ns: numbered and counted as on_frame does, then traced. */
void tracer_frame(struct fuzz_trace *f, enum decode_result d, struct pkt *p, uint64_t ts_ns, const uint8_t *raw,
                  uint32_t rawlen, uint32_t wirelen);
/* The end of the capture: read whole (ok) or cut short by a read error,
 * the two ways main.c ends.  Then checks that every packet was printed
 * and every request freed as it finished, and frees the rest. */
void tracer_end(struct fuzz_trace *f, bool ok);

#endif
