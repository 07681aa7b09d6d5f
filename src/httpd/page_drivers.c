/*
 * 证书U盘驱动: first the client package 证书应用环境 this deployment built
 * (page_client.c), then the driver packages the admin uploads (name, version,
 * operating system; size and SHA-256 shown), their download, the installation steps of
 * the manual, 证书密码修改 with esp-token, and esp-token's documentation.
 */
#include "httpd.h"
#include "esp/driver.h"
#include "esp/validate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The packages for the template; NULL when answered (the store failed). */
static json_t *drivers_to_json(struct request *r)
{
	struct driver *list;
	size_t n;
	if (driver_list(req_db(r), r->arena, &list, &n) != DB_OK) {
		reply_server_error(r, "driver packages could not be read");
		return NULL;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct driver *d = &list[i];
		const char *human =
		    d->size >= 1024 * 1024
		        ? arena_printf(r->arena, "%.1f MB", (double)d->size / (1024 * 1024))
		        : arena_printf(r->arena, "%.1f KB", (double)d->size / 1024);
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "id",
		              arena_printf(r->arena, "%lld", (long long)d->id), "name", d->name,
		              "version", d->version, "os", d->os, "filename", d->filename, "size",
		              human, "sha256", d->sha256, "bytes", (json_int_t)d->size, "date",
		              time_date(r->arena, d->created_at)));
	}
	return arr;
}

void page_drivers(struct request *r)
{
	json_t *drivers = drivers_to_json(r);
	if (!drivers)
		return;
	json_t *client = client_packages(r);
	json_t *ctx = json_pack("{s:o, s:o, s:b, s:s}", "drivers", drivers, "client", client,
	                        "has_client", json_array_size(client) > 0, "login_url",
	                        config_get(r->srv->cfg, "login_url"));
	if (r->logged_in)
		json_object_set_new(ctx, "menu", mgmt_menu(r, "/drivers"));
	render_page(r, 200, "drivers", "证书U盘驱动", ctx);
}

/* Driver packages are large (several MB) and never change once uploaded.
 * Each download used to copy the whole package out of the store and keep
 * the copy until the client had read it: a few clients that start
 * downloads and never read held that much memory each.  Now the bytes are
 * kept once, shared by reference by every response that sends them, and
 * freed when the last of those ends after the cache let go of them. */
struct driver_blob {
	int refs; /* atomic */
	int64_t id;
	char sha256[65];
	size_t len;
	unsigned char data[];
};

#define DRIVER_CACHE 4
static struct driver_blob *driver_cache[DRIVER_CACHE];
static pthread_mutex_t driver_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void driver_blob_release(void *cls)
{
	struct driver_blob *b = cls;
	if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(b);
}

/* A new reference to the cached blob for (id, sha256), or NULL. */
static struct driver_blob *driver_cache_get(int64_t id, const char *sha256)
{
	struct driver_blob *found = NULL;
	pthread_mutex_lock(&driver_cache_lock);
	for (int i = 0; i < DRIVER_CACHE && !found; i++) {
		struct driver_blob *b = driver_cache[i];
		if (b && b->id == id && strcmp(b->sha256, sha256) == 0) {
			__atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
			found = b;
			/* Most recently used first. */
			memmove(&driver_cache[1], &driver_cache[0],
			        (size_t)i * sizeof(driver_cache[0]));
			driver_cache[0] = b;
		}
	}
	pthread_mutex_unlock(&driver_cache_lock);
	return found;
}

static void driver_cache_put(struct driver_blob *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&driver_cache_lock);
	struct driver_blob *evicted = driver_cache[DRIVER_CACHE - 1];
	memmove(&driver_cache[1], &driver_cache[0], (DRIVER_CACHE - 1) * sizeof(driver_cache[0]));
	driver_cache[0] = b;
	pthread_mutex_unlock(&driver_cache_lock);
	if (evicted)
		driver_blob_release(evicted);
}

static struct driver_blob *driver_load(struct request *r, int64_t id, const char *sha256)
{
	struct driver_blob *b = driver_cache_get(id, sha256);
	if (b)
		return b;
	unsigned char *data = NULL;
	size_t len = 0;
	if (driver_data(req_db(r), id, &data, &len) != DB_OK)
		return NULL;
	b = xmalloc(sizeof(*b) + len);
	b->refs = 1;
	b->id = id;
	snprintf(b->sha256, sizeof b->sha256, "%s", sha256);
	b->len = len;
	memcpy(b->data, data, len);
	free(data);
	driver_cache_put(b);
	return b;
}

void page_driver_download(struct request *r)
{
	int64_t id = req_param_int(r, 0);
	struct driver d;
	enum db_status st = id ? driver_meta(req_db(r), r->arena, id, &d) : DB_NOT_FOUND;
	if (st == DB_NOT_FOUND) {
		reply_not_found(r);
		return;
	}
	struct driver_blob *b = st == DB_OK ? driver_load(r, id, d.sha256) : NULL;
	if (!b) {
		reply_server_error(r, "driver package could not be read");
		return;
	}
	req_body_shared(r, b->data, b->len, driver_blob_release, b);
	r->status = 200;
	r->content_type = "application/octet-stream";
	/* The stored name was cleaned at upload: safe inside the header. */
	req_header(r, "Content-Disposition",
	           arena_printf(r->arena, "attachment; filename=\"%s\"", d.filename));
}

void page_doc_token(struct request *r)
{
	/* A user's guide, written for holders; the developer's reference
	 * (docs/esp-token.md) is not served. */
	render_page(r, 200, "doc_token", "证书管理工具使用说明", json_object());
}

static void show_admin(struct request *r, int status, const char *error, const char *notice)
{
	json_t *drivers = drivers_to_json(r);
	if (!drivers)
		return;
	json_t *ctx =
	    json_pack("{s:o, s:o}", "drivers", drivers, "menu", mgmt_menu(r, "/admin/drivers"));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	if (notice)
		json_object_set_new(ctx, "notice", json_string(notice));
	render_page(r, status, "admin_drivers", "证书U盘驱动管理", ctx);
}

void page_admin_drivers(struct request *r)
{
	show_admin(r, 200, NULL, NULL);
}

/* Keeps letters, digits, '.', '-' and '_' of the client's file name: it is
 * only ever shown and sent back in a header, never used as a path. */
static char *clean_filename(struct arena *a, const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *bs = strrchr(base, '\\');
	base = bs ? bs + 1 : base;
	char *out = arena_alloc(a, strlen(base) + 1);
	size_t j = 0;
	for (const char *p = base; *p && j < 100; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_')
			out[j++] = *p;
	out[j] = '\0';
	while (out[0] == '.')
		memmove(out, out + 1, strlen(out));
	return *out ? out : arena_strdup(a, "driver.bin");
}

void page_admin_drivers_upload(struct request *r)
{
	const char *fields[][2] = {
	    {"name", "驱动名称"}, {"version", "版本"}, {"os", "适用操作系统"}};
	const char *v[3];
	for (int i = 0; i < 3; i++) {
		char *s = arena_strdup(r->arena,
		                       req_form(r, fields[i][0]) ? req_form(r, fields[i][0]) : "");
		str_trim(s);
		long n = utf8_length(s);
		if (n <= 0 || n > 60) {
			show_admin(r, 422,
			           arena_printf(r->arena, "请填写%s（不超过60字）", fields[i][1]),
			           NULL);
			return;
		}
		v[i] = s;
	}
	const struct form_field *f = req_file(r, "file");
	if (!f || f->value.len == 0) {
		show_admin(r, 422, "请选择要上传的驱动程序文件", NULL);
		return;
	}
	struct driver d = {.name = v[0],
	                   .version = v[1],
	                   .os = v[2],
	                   .filename = clean_filename(r->arena, f->filename)};
	enum db_status st =
	    driver_insert(req_db(r), r->arena, &r->actor, &d, f->value.data, f->value.len);
	if (st != DB_OK) {
		reply_server_error(r, "driver upload failed");
		return;
	}
	show_admin(r, 200, NULL,
	           arena_printf(r->arena, "已上传 %s（SHA-256 %s）", d.filename, d.sha256));
}
