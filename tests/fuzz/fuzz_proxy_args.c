/*
 * fuzz_proxy_args.c - the proxy's command line (config_parse_args,
 * proxy/config.c): the input, cut at NUL bytes, is argv after "proxy".
 * Any flags get a configuration or one printable line; a configuration
 * printed by --check loads again as itself.  Left out: -h, --help and
 * --version (they print and exit, by design) and -c/--config (they open
 * the named file: fuzz_proxy_config covers the reading).
 */
#include <stdlib.h>
#include <string.h>

#include "proxy_config.h"

#include "common.h"

#define MAX_ARGS 64

static bool left_out(const char *a)
{
	size_t name = strcspn(a, "=");
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "--version") == 0 ||
	       (name == 2 && strncmp(a, "-c", 2) == 0) || (name == 8 && strncmp(a, "--config", 8) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *argv[MAX_ARGS + 2] = { "proxy" };
	int argc = 1;
	for (char *a = text; argc <= MAX_ARGS && a <= text + size; a += strlen(a) + 1) {
		if (left_out(a)) {
			free(text);
			return 0;
		}
		argv[argc++] = a;
	}
	argv[argc] = NULL;

	struct config cfg;
	char err[512] = "";
	int rc = config_parse_args(&cfg, argc, argv, err, sizeof(err));
	if (rc == 0)
		check_round_trip(&cfg);
	else
		check_error_line(err, "the command line");
	config_free(&cfg);
	free(text);
	return 0;
}
