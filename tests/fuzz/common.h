/*
 * common.h - what every libFuzzer harness in tests/fuzz shares: the ways a
 * byte stream is cut into reads (as TCP might deliver it), a stable hash,
 * and the one way a harness reports a finding (a message, then abort(), so
 * libFuzzer saves the input as a crash-* file).
 *
 * Splits are derived from the data itself, so a corpus file replays the
 * same way everywhere and the corpus stays plain HTTP that a person can
 * read.  Every streaming harness feeds each input three ways (whole, one
 * byte at a time, and in pieces of 1 to 97 bytes) and requires the same
 * outcome from all three.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

enum split_mode { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM, SPLIT_MODES };

struct splits {
	enum split_mode mode;
	uint64_t state;
};

/* Starts cutting data (size bytes) the given way. */
void splits_init(struct splits *sp, enum split_mode mode, const uint8_t *data, size_t size);
/* The size of the next read, 1..left (left > 0). */
size_t splits_next(struct splits *sp, size_t left);
const char *split_name(enum split_mode mode);

/* A byte scanner fed in pieces (head_scan, chunk_scan): step returns 1 when
 * it found the end (*used: bytes of the piece up to it), 0 when it needs
 * more (*used: at least one byte; all of them but where chunk_scan ends a
 * run of trailer field lines), -1 with *error when it refuses. */
typedef void scan_init_fn(void *state);
typedef int scan_step_fn(void *state, const char *p, size_t n, size_t *used, const char **error);
struct scan_outcome {
	int r;                /* the last step's result; 0: still wants more      */
	size_t end;           /* r == 1: where the end is, from the data's start  */
	const char *error;    /* r == -1                                          */
};
/* Scans data cut whole, one byte at a time and in random pieces, each time
 * from a fresh state, checks that the scanner keeps its promises about
 * *used, and reports a finding unless the three outcomes are the same;
 * returns it.  what names the scanner in findings. */
struct scan_outcome scan_three_ways(scan_init_fn *init, scan_step_fn *step, void *state, const uint8_t *data,
                                    size_t size, const char *what);

/* FNV-1a, 64 bits. */
uint64_t fuzz_hash(const void *p, size_t n);

/* Prints "finding: " and the message on stderr, then aborts. */
noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define FUZZ_CHECK(cond, ...) do { if (!(cond)) fuzz_fail(__VA_ARGS__); } while (0)

/* A NUL-terminated copy of data (the caller frees it). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* What libFuzzer calls; each harness defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
