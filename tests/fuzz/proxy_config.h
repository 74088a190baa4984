/*
 * proxy_config.h - what the two harnesses of the proxy's configuration
 * (fuzz_proxy_config.c for files, fuzz_proxy_args.c for flags) share: a
 * config file held in a memfd, so config_load_file reads it by path without
 * touching the disk, and the round-trip check of --check's output.
 */
#ifndef FUZZ_PROXY_CONFIG_H
#define FUZZ_PROXY_CONFIG_H

#include <stddef.h>

#include "../../proxy/config.h"

/* Puts text in memfd number slot (0 or 1) and returns a path that reads it. */
const char *memfd_path(int slot, const char *text, size_t len);

/* An error message from the parser must be one printable line. */
void check_error_line(const char *err, const char *what);

/* cfg parsed cleanly: config_print's output (the --check output, "in
 * config-file syntax") must load again and print the same. */
void check_round_trip(const struct config *cfg);

#endif
