/*
 * token_module.c - the settings of esp-token.conf (the user's, else the
 * system's, which the client package writes): which PKCS#11 module to load
 * when none is named (module = PATH; else OpenSC or SoftHSM2 where
 * installed) and the deployment's certificate login address (portal = URL).
 */
#include "token.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "key = value" from a configuration file; malloc'd or NULL. */
static char *config_value(const char *path, const char *key)
{
	size_t klen = strlen(key);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return NULL;
	char line[1024];
	char *found = NULL;
	while (!found && fgets(line, sizeof line, fp)) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || strncmp(p, key, klen) != 0)
			continue;
		p += klen;
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

char *tok_config_value(const char *key)
{
	char path[4096];
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *v = NULL;
	if (xdg && xdg[0]) {
		snprintf(path, sizeof path, "%s/esp-token.conf", xdg);
		v = config_value(path, key);
	}
	if (!v && home && home[0]) {
		snprintf(path, sizeof path, "%s/.config/esp-token.conf", home);
		v = config_value(path, key);
	}
	if (!v)
		v = config_value("/etc/esp-token.conf", key);
	return v;
}

char *tok_default_module(void)
{
	char *m = tok_config_value("module");
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
