/*
 * fuzz_proxy_config.c - the proxy's config file reader (config_load_file
 * and config_finish, proxy/config.c; the grammar of proxy.conf.5).  Any
 * file gets either a configuration or one printable line saying what is
 * wrong where; a configuration printed by --check loads again as itself.
 * Host names resolve offline (offline.c).
 */
#include "proxy_config.h"

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[512] = "";
	config_init(&cfg);
	int rc = config_load_file(&cfg, memfd_path(0, (const char *)data, size), err, sizeof(err));
	if (rc == 0)
		rc = config_finish(&cfg, err, sizeof(err));
	if (rc == 0)
		check_round_trip(&cfg);
	else
		check_error_line(err, "the config file");
	config_free(&cfg);
	return 0;
}
