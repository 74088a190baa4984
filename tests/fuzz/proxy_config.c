/*
 * proxy_config.c - memfd-backed config files and the --check round trip
 * for the configuration harnesses (see proxy_config.h).
 */
#include "proxy_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

const char *memfd_path(int slot, const char *text, size_t len)
{
	static int fd[2] = { -1, -1 };
	static char path[2][64];
	if (fd[slot] < 0) {
		fd[slot] = memfd_create(slot ? "round-trip.conf" : "fuzz.conf", MFD_CLOEXEC);
		if (fd[slot] < 0)
			fuzz_fail("memfd_create failed");
		snprintf(path[slot], sizeof(path[slot]), "/proc/self/fd/%d", fd[slot]);
	}
	if (ftruncate(fd[slot], 0) < 0 || pwrite(fd[slot], text, len, 0) != (ssize_t)len)
		fuzz_fail("cannot write the memfd");
	return path[slot];
}

void check_error_line(const char *err, const char *what)
{
	FUZZ_CHECK(err[0] != '\0', "%s failed without a message", what);
	for (const char *c = err; *c; c++)
		FUZZ_CHECK((unsigned char)*c >= ' ' || *c == '\t' ? *c != 0x7f : false,
		           "%s: the error message holds control byte %#x (it goes to a terminal): %s", what,
		           (unsigned char)*c, err);
}

/* config_print into a malloc'ed string. */
static char *print(const struct config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (f == NULL)
		fuzz_fail("open_memstream failed");
	config_print(cfg, f);
	if (fclose(f) != 0)
		fuzz_fail("config_print: cannot write");
	return text;
}

void check_round_trip(const struct config *cfg)
{
	size_t len, len2;
	char *text = print(cfg, &len), err[512] = "";
	struct config again;
	config_init(&again);
	int rc = config_load_file(&again, memfd_path(1, text, len), err, sizeof(err));
	if (rc == 0)
		rc = config_finish(&again, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "--check prints a configuration that does not load again: %s\n--- printed:\n%s", err, text);
	char *text2 = print(&again, &len2);
	FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0,
	           "--check's output loads as another configuration\n--- first:\n%s--- then:\n%s", text, text2);
	config_free(&again);
	free(text);
	free(text2);
}
