/*
 * fuzz_tracer_pcap.c - the tracer reading a capture file (tracer -r): the
 * input is the file, pcap or pcapng, read by libpcap from a memfd, every
 * frame decoded (decode_frame), reassembled, tied and labelled
 * (trace_packet), printed in the output mode and with the options the
 * input's hash picks (tracer_setup.h), as a file or as if live.  Any file
 * gets a trace or an error, never a crash, a leak, undefined behaviour, a
 * packet left unprinted or a request left unfreed.  The loop is main.c's
 * read_file and on_frame, through the public functions only.
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
	struct fuzz_trace f;
	tracer_begin(&f, fuzz_hash(data, size));
	struct pcap_pkthdr *h;
	const u_char *frame;
	int rc;
	while ((rc = pcap_next_ex(cap.p, &h, &frame)) == 1) {
		struct pkt p;
		enum decode_result d = decode_frame(cap.linktype, frame, h->caplen, &p);
		if (d == DECODE_TCP)
			FUZZ_CHECK(p.caplen <= p.len && (p.caplen == 0 || (p.payload >= frame && p.payload + p.caplen <= frame + h->caplen)),
			           "decode_frame: a payload outside the frame");
		tracer_frame(&f, d, &p, capture_ts_ns(&cap, h), frame, h->caplen, h->len);
	}
	tracer_end(&f, rc == PCAP_ERROR_BREAK);
	capture_close(&cap);
	return 0;
}
