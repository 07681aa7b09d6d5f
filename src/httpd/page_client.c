/*
 * 证书应用环境: the client package this deployment builds for itself
 * (packaging/deb/build-deb.sh, run by scripts/run.sh: esp-token, the desktop
 * window 证书管理工具 and this deployment's CA chain), offered on the driver
 * page by default with version, size and SHA-256, and downloaded from
 * /drivers/client/<file>.  The files live in client_dir; only names of the
 * form esp-client_<version>_<arch>.deb are listed or served.
 */
#include "httpd.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static const char PREFIX[] = "esp-client_";
static const char SUFFIX[] = ".deb";

/* esp-client_<version>_<arch>.deb, the version and arch of Debian's
 * characters: the name never becomes more than a file in client_dir. */
static bool package_name(const char *name)
{
	size_t n = strlen(name), p = sizeof PREFIX - 1, s = sizeof SUFFIX - 1;
	if (n <= p + s + 2 || n > 120 || strncmp(name, PREFIX, p) != 0 ||
	    strcmp(name + n - s, SUFFIX) != 0)
		return false;
	int underscores = 0;
	for (size_t i = p; i < n - s; i++) {
		char c = name[i];
		if (c == '_')
			underscores++;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '~' || c == '-'))
			return false;
	}
	return underscores == 1 && name[p] != '_' && name[n - s - 1] != '_';
}

static char *client_dir(struct request *r)
{
	const char *dir = config_get(r->srv->cfg, "client_dir");
	if (dir && dir[0])
		return arena_strdup(r->arena, dir);
	return arena_printf(r->arena, "%s/client", config_get(r->srv->cfg, "data_dir"));
}

static int by_name_desc(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

json_t *client_packages(struct request *r)
{
	json_t *arr = json_array();
	const char *dir = client_dir(r);
	DIR *d = opendir(dir);
	if (!d)
		return arr;
	char *names[32];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < sizeof names / sizeof names[0])
		if (package_name(e->d_name))
			names[n++] = arena_strdup(r->arena, e->d_name);
	closedir(d);
	qsort(names, n, sizeof names[0], by_name_desc);
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		char *data = file_read_all(arena_printf(r->arena, "%s/%s", dir, names[i]), &len);
		if (!data)
			continue;
		char hash[65];
		sha256_hex(data, len, hash);
		free(data);
		const char *version = names[i] + sizeof PREFIX - 1;
		const char *us = strchr(version, '_');
		const char *arch = us + 1;
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s%, s:s%, s:s, s:s, s:I, s:s}", "filename", names[i],
		              "version", version, (size_t)(us - version), "arch", arch,
		              strlen(arch) - (sizeof SUFFIX - 1), "size",
		              len >= 1024 * 1024
		                  ? arena_printf(r->arena, "%.1f MB", (double)len / (1024 * 1024))
		                  : arena_printf(r->arena, "%.1f KB", (double)len / 1024),
		              "sha256", hash, "bytes", (json_int_t)len, "href",
		              arena_printf(r->arena, "/drivers/client/%s", names[i])));
	}
	return arr;
}

void page_client_download(struct request *r)
{
	const char *name = r->params[0];
	size_t len = 0;
	char *data = name && package_name(name)
	                 ? file_read_all(arena_printf(r->arena, "%s/%s", client_dir(r), name), &len)
	                 : NULL;
	if (!data) {
		reply_not_found(r);
		return;
	}
	buf_free(&r->body);
	buf_put(&r->body, data, len);
	free(data);
	r->status = 200;
	r->content_type = "application/vnd.debian.binary-package";
	req_header(r, "Content-Disposition",
	           arena_printf(r->arena, "attachment; filename=\"%s\"", name));
}
