/*
 * capture.c - opening captures (see capture.h).  Serves every step: this is
 * where the packets come from.
 */
#include "capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "log.h"

static int check_linktype(struct capture *c, char *err, size_t errlen)
{
	c->linktype = pcap_datalink(c->p);
	if (decode_linktype_ok(c->linktype))
		return 0;
	const char *name = pcap_datalink_val_to_name(c->linktype);
	snprintf(err, errlen, "%s: link type %d (%s) is not handled (EN10MB, NULL, LOOP, RAW, LINUX_SLL and LINUX_SLL2 are)",
	         c->name, c->linktype, name ? name : "unknown");
	return -1;
}

int capture_open_file(struct capture *c, const char *path, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	memset(c, 0, sizeof(*c));
	c->name = path;
	c->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (c->p == NULL) {
		/* libpcap's own words, after the file's name when it lacks it. */
		if (strstr(perr, path))
			snprintf(err, errlen, "%s", perr);
		else
			snprintf(err, errlen, "%s: %s", path, perr[0] ? perr : "cannot read it as pcap or pcapng");
		return -1;
	}
	c->nano = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
	c->snaplen = (uint32_t)pcap_snapshot(c->p);
	if (check_linktype(c, err, errlen) < 0) {
		capture_close(c);
		return -1;
	}
	return 0;
}

/* Is dev a loopback interface (as libpcap lists it)? */
static bool is_loopback(const char *dev)
{
	pcap_if_t *all;
	char perr[PCAP_ERRBUF_SIZE];
	bool lo = false;
	if (pcap_findalldevs(&all, perr) < 0)
		return false;
	for (pcap_if_t *d = all; d; d = d->next)
		if (strcmp(d->name, dev) == 0)
			lo = (d->flags & PCAP_IF_LOOPBACK) != 0;
	pcap_freealldevs(all);
	return lo;
}

/* On a loopback interface every packet is seen going out and coming in;
 * libpcap throws the outgoing copy away, but only after the kernel has
 * queued it in the ring: at full load, half the ring is wasted and the
 * kernel drops.  So the kernel gets the filter with "inbound" too.  It is
 * attached behind libpcap's back: libpcap also runs its filter in user
 * space on the first ring block after a change, and its user-space BPF
 * cannot read the packet type "inbound" needs (it would reject that
 * block's packets).  Best effort: without it, the plain filter stays. */
static void inbound_only(struct capture *c, const char *filter)
{
	struct bpf_program prog;
	char *in = NULL;
	if (asprintf(&in, "inbound and (%s)", filter) < 0)
		return;
	if (pcap_compile(c->p, &prog, in, 1, PCAP_NETMASK_UNKNOWN) == 0) {
		/* struct bpf_insn and the kernel's struct sock_filter agree */
		struct sock_fprog fp = { .len = (unsigned short)prog.bf_len, .filter = (struct sock_filter *)prog.bf_insns };
		if (setsockopt(pcap_fileno(c->p), SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0)
			log_debug("capture on %s: kernel filter with inbound: %s", c->name, strerror(errno));
		pcap_freecode(&prog);
	}
	free(in);
}

int capture_open_live(struct capture *c, const char *dev, uint32_t snaplen, uint32_t bufsize,
                      int timeout_ms, const char *filter, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	memset(c, 0, sizeof(*c));
	c->name = dev;
	c->live = true;
	c->snaplen = snaplen;
	c->p = pcap_create(dev, perr);
	if (c->p == NULL) {
		snprintf(err, errlen, "pcap_create %s: %s", dev, perr);
		return -1;
	}
	pcap_set_snaplen(c->p, (int)snaplen);
	pcap_set_promisc(c->p, 0);
	if (timeout_ms == 0)
		pcap_set_immediate_mode(c->p, 1);   /* a packet is delivered as it arrives */
	else
		pcap_set_timeout(c->p, timeout_ms); /* blocks of packets, at most this late */
	pcap_set_buffer_size(c->p, (int)bufsize);
	pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_NANO);   /* best effort */
	int rc = pcap_activate(c->p);
	if (rc < 0) {
		switch (rc) {
		case PCAP_ERROR_NO_SUCH_DEVICE:
			snprintf(err, errlen, "%s: no such interface", dev);
			break;
		case PCAP_ERROR_PERM_DENIED:
			snprintf(err, errlen, "capture on %s: permission denied (live capture needs root or CAP_NET_RAW)", dev);
			break;
		default:
			snprintf(err, errlen, "capture on %s: %s", dev, pcap_geterr(c->p));
			break;
		}
		goto fail;
	}
	c->nano = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
	/* On "any", prefer cooked v2: it says which interface, v1 does not. */
	if (pcap_datalink(c->p) == DLT_LINUX_SLL)
		(void)pcap_set_datalink(c->p, DLT_LINUX_SLL2);
	if (check_linktype(c, err, errlen) < 0)
		goto fail;
	if (pcap_compile(c->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "filter \"%s\": %s", filter, pcap_geterr(c->p));
		goto fail;
	}
	rc = pcap_setfilter(c->p, &prog);
	pcap_freecode(&prog);
	if (rc < 0) {
		snprintf(err, errlen, "setfilter on %s: %s", dev, pcap_geterr(c->p));
		goto fail;
	}
	if (is_loopback(dev))
		inbound_only(c, filter);
	/* Until the filter was set, the socket took every packet on the
	 * interface, and the kernel may have dropped some of those: they were
	 * never ours to count. */
	struct pcap_stat st;
	if (pcap_stats(c->p, &st) == 0)
		c->drops0 = st.ps_drop;
	if (pcap_setnonblock(c->p, 1, perr) < 0) {
		snprintf(err, errlen, "setnonblock on %s: %s", dev, perr);
		goto fail;
	}
	return 0;
fail:
	capture_close(c);
	return -1;
}

static void role_term(struct buf *b, const struct role_addr *r)
{
	char ip[64];
	if (!r->any_ip)
		inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->ip, ip, sizeof(ip));
	int rc = r->any_ip ? buf_printf(b, "port %u", r->port)
	                   : buf_printf(b, "(host %s and port %u)", ip, r->port);
	if (rc < 0)
		oom();
}

char *capture_filter(const struct trace *t)
{
	struct buf b = BUF_INIT;
	if (buf_puts(&b, "tcp and (") < 0)
		oom();
	role_term(&b, &t->proxy);
	for (size_t i = 0; i < t->nbcfg; i++) {
		if (buf_puts(&b, " or ") < 0)
			oom();
		role_term(&b, &t->bcfg[i]);
	}
	if (buf_append(&b, ")", 2) < 0)   /* with the NUL */
		oom();
	char *s = xstrndup(buf_begin(&b), buf_len(&b));
	buf_free(&b);
	return s;
}

long long capture_drops(struct capture *c)
{
	struct pcap_stat st;
	if (!c->live || c->p == NULL || pcap_stats(c->p, &st) < 0)
		return -1;
	/* ps_ifdrop is the interface's count, other programs' drops included. */
	return st.ps_drop >= c->drops0 ? (long long)(st.ps_drop - c->drops0) : 0;
}

void capture_close(struct capture *c)
{
	if (c->p)
		pcap_close(c->p);
	c->p = NULL;
}
