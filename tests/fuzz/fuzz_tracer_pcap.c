/*
 * fuzz_tracer_pcap.c - the tracer reading a capture file (tracer -r): the
 * input is the file, pcap or pcapng, read by libpcap from a memfd, every
 * frame decoded (decode_frame), reassembled and labelled (trace_packet),
 * printed in the mode the input's hash picks.  Any file gets a trace or an
 * error, never a crash, a leak or undefined behaviour.  The loop is
 * main.c's read_file and on_frame, through the public functions only.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "tracer_setup.h"
#include "../../tracer/capture.h"

static const char *memfd_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		if ((fd = memfd_create("fuzz.pcap", MFD_CLOEXEC)) < 0)
			fuzz_fail("memfd_create failed");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		fuzz_fail("cannot write the memfd");
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capture cap;
	char err[512] = "";
	if (capture_open_file(&cap, memfd_file(data, size), err, sizeof(err)) < 0) {
		FUZZ_CHECK(err[0] != '\0', "capture_open_file failed without a reason");
		return 0;
	}
	struct trace t;
	tracer_begin(&t, fuzz_hash(data, size));
	struct pcap_pkthdr *h;
	const u_char *frame;
	uint64_t frames = 0;
	while (pcap_next_ex(cap.p, &h, &frame) == 1) {
		struct pkt p;
		enum decode_result d = decode_frame(cap.linktype, frame, h->caplen, &p);
		uint64_t ts = capture_ts_ns(&cap, h);
		p.frame = ++frames;
		p.ts_ns = ts;
		if (!t.have_first) {
			t.have_first = true;
			t.first_ts = ts;
		}
		if (ts > t.last_ts)
			t.last_ts = ts;
		t.packets++;
		if (d == DECODE_TCP) {
			FUZZ_CHECK(p.caplen <= p.len && (p.caplen == 0 || (p.payload >= frame && p.payload + p.caplen <= frame + h->caplen)),
			           "decode_frame: a payload outside the frame");
			trace_packet(&t, &p, frame, h->caplen, h->len);
		} else {
			if (d == DECODE_BAD)
				t.undecoded++;
			trace_other(&t, p.frame, ts, frame, h->caplen, h->len);
		}
	}
	tracer_end(&t);
	capture_close(&cap);
	return 0;
}
