/*
 * tracer_setup.h - a trace set up as `tracer --proxy 127.0.0.2:8080
 * --backends 127.0.0.11:9001,9002` would set it up, printing to /dev/null
 * in the output mode an input's hash picks, for the two tracer harnesses.
 * Written against the tracer's public functions (tracer.h, output.h,
 * capture.h), which its rewrite is meant to keep.
 */
#ifndef FUZZ_TRACER_SETUP_H
#define FUZZ_TRACER_SETUP_H

#include <stdint.h>

#include "../../tracer/tracer.h"

/* Sets t up; choice picks the output mode, -w to /dev/null or not. */
void tracer_begin(struct trace *t, uint64_t choice);
/* Prints the rest (output_end) and frees everything. */
void tracer_end(struct trace *t);

#endif
