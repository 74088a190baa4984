/*
 * transcript.h - feeds a byte stream through lib/http (the llhttp glue) and
 * writes down everything the glue told its hooks: each head (start line,
 * headers, framing flags), the body's length and hash, chunk sizes, message
 * ends, whether an error stopped it.  Two feeds of the same bytes, cut into
 * different reads, must write the same transcript.
 *
 * On the way it checks the glue's promises (http.h): every name, value and
 * target lies inside msg->raw, is NUL-terminated where its length says, and
 * holds no NUL of its own.
 */
#ifndef FUZZ_TRANSCRIPT_H
#define FUZZ_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"

#include "common.h"

/* head_mask: for responses, bit i (i < 64) set means message i answers a
 * HEAD request (on_headers returns 1: no body).  max_head/max_target: the
 * glue's limits (0: its defaults). */
void http_transcript(llhttp_type_t type, const uint8_t *data, size_t size, enum split_mode mode,
                     uint64_t head_mask, size_t max_head, size_t max_target, struct buf *out);

/* Transcribes data fed whole, one byte at a time and in random pieces, and
 * reports a finding if the three differ. */
void http_transcripts_agree(llhttp_type_t type, const uint8_t *data, size_t size, uint64_t head_mask,
                            size_t max_head, size_t max_target);

#endif
