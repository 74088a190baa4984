/*
 * pcapng.c - the pcapng writer (see pcapng.h), blocks laid out by hand
 * after the pcapng specification (draft-ietf-opsawg-pcapng).
 */
#include "pcapng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define OPT_END 0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4
#define IF_TSRESOL 9

struct pcapng {
	FILE *f;
	char *path;
	char error[256];
};

static uint32_t pad4(size_t n) { return (uint32_t)((4 - n % 4) % 4); }

static int put(struct pcapng *w, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, w->f) != n) {
		snprintf(w->error, sizeof(w->error), "write %s: %s", w->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int put32(struct pcapng *w, uint32_t v) { return put(w, &v, 4); }
static int put16(struct pcapng *w, uint16_t v) { return put(w, &v, 2); }

static int put_opt(struct pcapng *w, uint16_t code, const void *v, size_t len)
{
	static const uint8_t zero[4];
	if (put16(w, code) < 0 || put16(w, (uint16_t)len) < 0 || put(w, v, len) < 0)
		return -1;
	return put(w, zero, pad4(len));
}

static size_t opt_size(size_t len) { return 4 + len + pad4(len); }

struct pcapng *pcapng_open(const char *path, int linktype, uint32_t snaplen, char *err, size_t errlen)
{
	struct pcapng *w = calloc(1, sizeof(*w));
	char *p = strdup(path);
	if (w == NULL || p == NULL) {
		snprintf(err, errlen, "out of memory");
		free(w);
		free(p);
		return NULL;
	}
	w->path = p;
	w->f = fopen(path, "wb");
	if (w->f == NULL) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		free(w->path);
		free(w);
		return NULL;
	}
	static const char app[] = "l7lab tracer";
	uint8_t tsresol = 9;
	uint64_t section_len = UINT64_MAX;   /* not given */
	uint32_t shb_len = 28 + (uint32_t)opt_size(sizeof(app) - 1) + 4;
	uint32_t idb_len = 20 + (uint32_t)opt_size(1) + 4;
	int rc = 0;
	rc |= put32(w, BT_SHB) | put32(w, shb_len) | put32(w, 0x1A2B3C4Du);
	rc |= put16(w, 1) | put16(w, 0) | put(w, &section_len, 8);
	rc |= put_opt(w, SHB_USERAPPL, app, sizeof(app) - 1) | put32(w, OPT_END) | put32(w, shb_len);
	rc |= put32(w, BT_IDB) | put32(w, idb_len) | put16(w, (uint16_t)linktype) | put16(w, 0) | put32(w, snaplen);
	rc |= put_opt(w, IF_TSRESOL, &tsresol, 1) | put32(w, OPT_END) | put32(w, idb_len);
	if (rc != 0) {
		snprintf(err, errlen, "%s", w->error);
		fclose(w->f);
		free(w->path);
		free(w);
		return NULL;
	}
	return w;
}

int pcapng_write(struct pcapng *w, uint64_t ts_ns, const uint8_t *data, uint32_t caplen, uint32_t wirelen, const char *comment)
{
	static const uint8_t zero[4];
	size_t clen = comment ? strlen(comment) : 0;
	if (clen > 65535)
		clen = 65535;   /* an option's length field is 16 bits */
	size_t len = 28 + (size_t)caplen + pad4(caplen) + (clen ? opt_size(clen) + 4 : 0) + 4;
	if (len > UINT32_MAX) {
		snprintf(w->error, sizeof(w->error), "write %s: packet too large for pcapng", w->path);
		return -1;
	}
	int rc = 0;
	rc |= put32(w, BT_EPB) | put32(w, (uint32_t)len) | put32(w, 0);
	rc |= put32(w, (uint32_t)(ts_ns >> 32)) | put32(w, (uint32_t)ts_ns);
	rc |= put32(w, caplen) | put32(w, wirelen) | put(w, data, caplen) | put(w, zero, pad4(caplen));
	if (clen)
		rc |= put_opt(w, OPT_COMMENT, comment, clen) | put32(w, OPT_END);
	rc |= put32(w, (uint32_t)len);
	return rc ? -1 : 0;
}

const char *pcapng_error(const struct pcapng *w)
{
	return w->error;
}

int pcapng_close(struct pcapng *w, char *err, size_t errlen)
{
	int rc = 0;
	if (fclose(w->f) != 0) {
		snprintf(err, errlen, "close %s: %s", w->path, strerror(errno));
		rc = -1;
	}
	free(w->path);
	free(w);
	return rc;
}
