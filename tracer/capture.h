/*
 * capture.h - libpcap, live (pcap_create, blocks or immediate mode, nanosecond
 * timestamps when the kernel gives them, a BPF filter made from the ports)
 * or from a pcap / pcapng file.
 */
#ifndef TRACER_CAPTURE_H
#define TRACER_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcap/pcap.h>

#include "tracer.h"

struct capture {
	pcap_t *p;
	int linktype;
	bool live;
	bool nano;              /* timestamps' fraction is nanoseconds */
	uint32_t snaplen;
	const char *name;       /* interface or file */
	unsigned long drops0;   /* drops counted before the filter was in place */
};

/* Opens a capture file (pcap or pcapng).  0, or -1 with a reason in err. */
int capture_open_file(struct capture *c, const char *path, char *err, size_t errlen);
/* Opens an interface for live capture with the filter.  timeout_ms 0:
 * each packet is handed over as it arrives (--step); otherwise the kernel
 * hands them over in blocks, at least every timeout_ms (10 for people
 * watching with -l: late by no more than that, and fast enough not to drop
 * at full load).  0, or -1 with a reason in err (no such interface, no
 * permission, a bad filter). */
int capture_open_live(struct capture *c, const char *dev, uint32_t snaplen, uint32_t bufsize,
                      int timeout_ms, const char *filter, char *err, size_t errlen);
/* The BPF filter for the roles: "tcp and (port 8080 or (host A and port P) ...)".
 * The caller frees it. */
char *capture_filter(const struct trace *t);
/* Packets the kernel dropped (live), or -1 if unknown. */
long long capture_drops(struct capture *c);
void capture_close(struct capture *c);

static inline uint64_t capture_ts_ns(const struct capture *c, const struct pcap_pkthdr *h)
{
	return (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec * (c->nano ? 1u : 1000u);
}

#endif
