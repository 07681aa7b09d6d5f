/* Pages anyone may see: home, the four portals, help, health, static files. */
#include "httpd.h"
#include "esp/application.h"
#include "esp/directory.h"
#include "record_json.h"
#include "application_view.h"
#include "esp/materials.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void page_home(struct request *r)
{
	/* The login listener exists for one thing: logging in with a key. */
	if (r->listener == LISTEN_LOGIN) {
		page_cert_login(r);
		return;
	}
	json_t *entries = json_array();
	for (int k = 0; k < KIND_COUNT; k++)
		json_array_append_new(entries, json_pack("{s:s, s:s, s:s}", "kind", kind_name(k),
		                                         "label", kind_portal_label(k), "apply",
		                                         kind_apply_label(k)));
	render_page(r, 200, "home", "首页",
	            json_pack("{s:o, s:s}", "entries", entries, "login_url",
	                      config_get(r->srv->cfg, "login_url")));
}

void page_portal(struct request *r)
{
	enum reg_kind k = kind_parse(r->params[0]);
	if (k == KIND_NONE) {
		reply_not_found(r);
		return;
	}
	render_page(r, 200, "portal", kind_portal_label(k),
	            json_pack("{s:s, s:s, s:s, s:s}", "kind", kind_name(k), "portal_label",
	                      kind_portal_label(k), "apply_label", kind_apply_label(k),
	                      "kind_label", kind_label(k)));
}

void page_help(struct request *r)
{
	struct fee fee = {0};
	fee_current(req_db(r), &fee);
	struct ra_directory_entry *list;
	size_t n;
	if (ra_directory_list(req_db(r), r->arena, &list, &n) != DB_OK) {
		reply_server_error(r, "RA directory could not be read");
		return;
	}
	/* Each kind's materials, from the table the forms and the RA use. */
	json_t *kinds = json_array();
	for (int k = 0; k < KIND_COUNT; k++)
		json_array_append_new(kinds, json_pack("{s:s, s:o, s:s}", "label",
		                                       kind_label((enum reg_kind)k), "items",
		                                       application_materials_json((enum reg_kind)k),
		                                       "submit_to", materials_of(k)->submit_to));
	render_page(r, 200, "help", "帮助",
	            json_pack("{s:o, s:i, s:i, s:i, s:i, s:o}", "provinces",
	                      ra_directory_to_json(list, n), "price", (int)fee.price_yuan, "medium",
	                      (int)fee.medium_yuan, "years", fee.years, "delivery_days",
	                      r->srv->limits.delivery_days, "kinds", kinds));
}

static const char *mime_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return "application/octet-stream";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".png") == 0)
		return "image/png";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (strcmp(dot, ".ico") == 0)
		return "image/x-icon";
	if (strcmp(dot, ".md") == 0 || strcmp(dot, ".txt") == 0)
		return "text/plain; charset=utf-8";
	return "application/octet-stream";
}

void page_static(struct request *r)
{
	/* One plain file name: no directories, no dot files, so no way out of
	 * the static directory. */
	const char *name = r->params[0];
	size_t n = strlen(name);
	bool ok = n > 0 && n < 100 && name[0] != '.';
	for (const char *p = name; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_';
	if (!ok) {
		reply_not_found(r);
		return;
	}
	char *path = xasprintf("%s/%s", r->srv->static_dir, name);
	size_t len = 0;
	char *data = file_read_all(path, &len);
	free(path);
	if (!data) {
		reply_not_found(r);
		return;
	}
	req_body_take(r, data, len);
	r->status = 200;
	r->content_type = mime_of(name);
	req_header(r, "Cache-Control", "public, max-age=300");
}
