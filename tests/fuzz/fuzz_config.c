/*
 * libFuzzer target for the configuration file parser (config_load_file in
 * src/util/config.c).  The input is the file: it is written to an in-memory
 * file (memfd) and loaded through its /proc/self/fd path, so the parser is
 * exercised exactly as espd and espctl run it.  A file either loads (and
 * then the values read back as espd reads them) or is refused with a
 * message that names the file and the line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "esp/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {
    "data_dir",   "database",      "http_listen", "https_listen",   "login_listen",
    "public_url", "templates_dir", "static_dir",  "migrations_dir", "password_hash",
};
static const char *const long_keys[] = {
    "threads",          "db_connections", "max_body_bytes", "max_url_bytes",
    "max_header_bytes", "session_hours",  "crl_hours",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("esp-fuzz-config", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();

	struct esp_config *c = config_new();
	const char *err = NULL;
	int rc = config_load_file(c, path, true, &err);
	if (rc == 0) {
		if (err)
			abort();
		config_finish(c);
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
			if (!config_get(c, keys[i]))
				abort();
		for (size_t i = 0; i < sizeof long_keys / sizeof long_keys[0]; i++)
			(void)config_get_long(c, long_keys[i]);
		(void)config_get_bool(c, "staff_password_login");
		(void)config_get_bool(c, "log_requests");
	} else {
		/* "<path>:<line>: why" */
		size_t n = strlen(path);
		if (rc != -1 || !err || strncmp(err, path, n) != 0 || err[n] != ':')
			abort();
	}
	config_free(c);
	return 0;
}
