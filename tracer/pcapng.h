/*
 * pcapng.h - writing -w OUT.pcapng: a section header, one interface, and an
 * enhanced packet block per packet whose opt_comment holds the tracer's
 * label ("step 4 proxy → b1 · request 1"), so Wireshark shows it and
 * `tshark -r OUT.pcapng -Y 'frame.comment contains "step 4"'` filters on it.
 * Timestamps are in nanoseconds (if_tsresol 9).  Blocks are written in the
 * host's byte order, as the format allows.
 */
#ifndef TRACER_PCAPNG_H
#define TRACER_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

struct pcapng;

/* Creates path and writes the section and interface blocks; NULL with a
 * one-line reason in err. */
struct pcapng *pcapng_open(const char *path, int linktype, uint32_t snaplen, char *err, size_t errlen);
/* Appends one packet; comment may be NULL or "".  0, or -1 (see pcapng_error). */
int pcapng_write(struct pcapng *w, uint64_t ts_ns, const uint8_t *data, uint32_t caplen, uint32_t wirelen, const char *comment);
const char *pcapng_error(const struct pcapng *w);
/* Flushes and closes; 0, or -1 with the reason in err. */
int pcapng_close(struct pcapng *w, char *err, size_t errlen);

#endif
