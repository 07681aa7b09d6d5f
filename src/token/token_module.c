/*
 * token_module.c - which PKCS#11 module to load when none is named: the
 * user's or the system's esp-token.conf (module = PATH; the client package
 * writes /etc/esp-token.conf), else OpenSC or SoftHSM2 where installed.
 */
#include "token.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "module = PATH" from a configuration file; malloc'd or NULL. */
static char *config_module(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return NULL;
	char line[1024];
	char *found = NULL;
	while (!found && fgets(line, sizeof line, fp)) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || strncmp(p, "module", 6) != 0)
			continue;
		p += 6;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, "\r\n");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0) {
			p[n] = '\0';
			found = tok_xstrdup(p);
		}
	}
	fclose(fp);
	return found;
}

char *tok_default_module(void)
{
	char path[4096];
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *m = NULL;
	if (xdg && xdg[0]) {
		snprintf(path, sizeof path, "%s/esp-token.conf", xdg);
		m = config_module(path);
	}
	if (!m && home && home[0]) {
		snprintf(path, sizeof path, "%s/.config/esp-token.conf", home);
		m = config_module(path);
	}
	if (!m)
		m = config_module("/etc/esp-token.conf");
	if (m)
		return m;
	static const char *const builtin[] = {
	    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
	    "/usr/lib/softhsm/libsofthsm2.so",
	};
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		if (access(builtin[i], R_OK) == 0)
			return tok_xstrdup(builtin[i]);
	return NULL;
}
