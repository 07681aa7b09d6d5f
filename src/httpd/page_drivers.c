/*
 * 证书U盘驱动: first the client package 证书应用环境 this deployment built
 * (page_client.c), then the driver packages the admin uploads (name, version,
 * operating system; size and SHA-256 shown), their download, the installation steps of
 * the manual, 证书密码修改 with esp-token, and esp-token's documentation.
 */
#include "httpd.h"
#include "esp/validate.h"

#include <stdlib.h>
#include <string.h>

static json_t *driver_list(struct request *r)
{
	db_result *res = NULL;
	json_t *arr = json_array();
	if (DB_EXEC0(req_db(r), "SELECT id, name, version, os, filename, size, sha256, created_at "
	                        "FROM drivers ORDER BY created_at DESC, id DESC",
	             &res) == DB_OK)
		for (int i = 0; i < res->nrows; i++) {
			int64_t size = db_get_int(res, i, 5, 0);
			const char *human = size >= 1024 * 1024
			                        ? arena_printf(r->arena, "%.1f MB", (double)size / (1024 * 1024))
			                        : arena_printf(r->arena, "%.1f KB", (double)size / 1024);
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
			                                     "id", db_get(res, i, 0), "name", db_get(res, i, 1),
			                                     "version", db_get(res, i, 2), "os",
			                                     db_get(res, i, 3), "filename", db_get(res, i, 4),
			                                     "size", human, "sha256", db_get(res, i, 6), "bytes",
			                                     (json_int_t)size, "date",
			                                     time_date(r->arena, db_get_int(res, i, 7, 0))));
		}
	db_result_free(res);
	return arr;
}

void page_drivers(struct request *r)
{
	json_t *client = client_packages(r);
	json_t *ctx = json_pack("{s:o, s:o, s:b, s:s}", "drivers", driver_list(r), "client", client,
	                        "has_client", json_array_size(client) > 0, "login_url",
	                        config_get(r->srv->cfg, "login_url"));
	if (r->logged_in)
		json_object_set_new(ctx, "menu", mgmt_menu(r, "/drivers"));
	render_page(r, 200, "drivers", "证书U盘驱动", ctx);
}

void page_driver_download(struct request *r)
{
	int64_t id = req_param_int(r, 0);
	db_result *res = NULL;
	if (!id || DB_EXEC(req_db(r), "SELECT filename, data FROM drivers WHERE id = $1", &res,
	                   P_INT(id)) != DB_OK || res->nrows == 0) {
		db_result_free(res);
		reply_not_found(r);
		return;
	}
	size_t len = db_get_len(res, 0, 1);
	buf_free(&r->body);
	buf_put(&r->body, db_get(res, 0, 1), len);
	r->status = 200;
	r->content_type = "application/octet-stream";
	/* The stored name was cleaned at upload: safe inside the header. */
	req_header(r, "Content-Disposition",
	           arena_printf(r->arena, "attachment; filename=\"%s\"", db_get(res, 0, 0)));
	db_result_free(res);
}

void page_doc_token(struct request *r)
{
	char *path = xasprintf("%s/docs/esp-token.md", ESP_SOURCE_DIR);
	size_t len = 0;
	char *text = file_read_all(path, &len);
	free(path);
	if (!text) {
		reply_not_found(r);
		return;
	}
	json_t *ctx = json_pack("{s:s%}", "text", text, len);
	free(text);
	render_page(r, 200, "doc_token", "esp-token 证书管理工具使用说明", ctx);
}

static void show_admin(struct request *r, int status, const char *error, const char *notice)
{
	json_t *ctx = json_pack("{s:o, s:o}", "drivers", driver_list(r), "menu", mgmt_menu(r, "/admin/drivers"));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	if (notice)
		json_object_set_new(ctx, "notice", json_string(notice));
	render_page(r, status, "admin_drivers", "证书U盘驱动管理", ctx);
}

void page_admin_drivers(struct request *r)
{
	if (!policy_allows(&r->actor, ACT_ADMIN, NULL)) {
		reply_forbidden(r);
		return;
	}
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
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-' || *p == '_')
			out[j++] = *p;
	out[j] = '\0';
	while (out[0] == '.')
		memmove(out, out + 1, strlen(out));
	return *out ? out : arena_strdup(a, "driver.bin");
}

void page_admin_drivers_upload(struct request *r)
{
	if (!policy_allows(&r->actor, ACT_ADMIN, NULL)) {
		reply_forbidden(r);
		return;
	}
	const char *fields[][2] = {{"name", "驱动名称"}, {"version", "版本"}, {"os", "适用操作系统"}};
	const char *v[3];
	for (int i = 0; i < 3; i++) {
		char *s = arena_strdup(r->arena, req_form(r, fields[i][0]) ? req_form(r, fields[i][0]) : "");
		str_trim(s);
		long n = utf8_length(s);
		if (n <= 0 || n > 60) {
			show_admin(r, 422, arena_printf(r->arena, "请填写%s（不超过60字）", fields[i][1]), NULL);
			return;
		}
		v[i] = s;
	}
	const struct form_field *f = req_file(r, "file");
	if (!f || f->value.len == 0) {
		show_admin(r, 422, "请选择要上传的驱动程序文件", NULL);
		return;
	}
	char hash[65];
	sha256_hex(f->value.data, f->value.len, hash);
	const char *filename = clean_filename(r->arena, f->filename);
	const struct db_param params[] = {
		P_TEXT(v[0]), P_TEXT(v[1]), P_TEXT(v[2]), P_TEXT(filename), P_INT(f->value.len),
		P_TEXT(hash), P_BLOB(f->value.data, f->value.len), P_INT(r->actor.account_id),
		P_INT(time_now()),
	};
	enum db_status st = db_exec_audited(req_db(r),
	    "INSERT INTO drivers (name, version, os, filename, size, sha256, data, uploaded_by, created_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	    params, 9, NULL, &r->actor, "driver.upload", filename, "", hash);
	if (st != DB_OK) {
		reply_server_error(r, "driver upload failed");
		return;
	}
	show_admin(r, 200, NULL, arena_printf(r->arena, "已上传 %s（SHA-256 %s）", filename, hash));
}
