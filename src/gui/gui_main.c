/*
 * gui_main.c - the main window of 证书管理工具: the inserted certificate keys
 * (rescanned every two seconds, so plugging a key in or pulling it out shows
 * without a click), the certificates of the selected key with their days
 * left, and the buttons 【修改密码】【查看证书】【导出证书】【证书更新】【密码解锁】
 * 【解锁】.
 *
 * PKCS#11 offers no portable insertion event (SoftHSM2 and many vendor
 * modules do not implement C_WaitForSlotEvent), and a module initialised
 * once may never show a token added later: each scan loads the module,
 * lists the tokens and unloads it again.
 */
#include "gui.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define GUI_VERSION "0.1.0"
#define SCAN_SECONDS 2

void gui_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "esp-token-gui: %s\n", msg);
	g_free(msg);
}

static void collect(enum tok_msg_level level, const char *msg, void *data)
{
	struct gui *g = data;
	if (g->msgs->len)
		g_string_append_c(g->msgs, '\n');
	g_string_append(g->msgs, msg);
	(void)level;
}

void gui_restore_sink(struct gui *g)
{
	tok_set_msg_sink(collect, g);
}

void gui_status(struct gui *g, bool error, const char *text)
{
	gtk_label_set_text(GTK_LABEL(g->status), text);
	GtkStyleContext *sc = gtk_widget_get_style_context(g->status);
	gtk_style_context_remove_class(sc, "success");
	if (error)
		gtk_style_context_add_class(sc, "error");
	else
		gtk_style_context_remove_class(sc, "error");
	gui_log("%s%s", error ? "错误：" : "", text);
}

int gui_open_selected(struct gui *g, struct tok_ctx *t)
{
	g_string_truncate(g->msgs, 0);
	if (!g->selected_serial) {
		tok_err("请先插入证书U盘并在列表中选择");
		memset(t, 0, sizeof *t);
		return TOK_EXIT_USAGE;
	}
	int rc = tok_load(t, g->module);
	if (rc != TOK_EXIT_OK)
		return rc;
	rc = tok_select(t, g->selected_serial);
	if (rc != TOK_EXIT_OK)
		tok_unload(t);
	return rc;
}

static const char *key_state(CK_FLAGS f)
{
	if (f & CKF_USER_PIN_LOCKED)
		return "密码已锁定";
	if (!(f & CKF_USER_PIN_INITIALIZED))
		return "未设置密码";
	if (f & CKF_USER_PIN_FINAL_TRY)
		return "只剩最后一次输入机会";
	if (f & CKF_USER_PIN_COUNT_LOW)
		return "密码输错过，剩余次数不多";
	return "正常";
}

static void clear_certs(struct gui *g)
{
	for (size_t i = 0; i < g->nx509; i++)
		X509_free(g->x509[i]);
	free(g->x509);
	g->x509 = NULL;
	g->nx509 = 0;
	gtk_list_store_clear(g->certs);
}

static void update_buttons(struct gui *g)
{
	bool key = g->selected_serial != NULL;
	bool cert = gui_selected_cert(g) != NULL;
	gtk_widget_set_sensitive(g->btn_passwd, key);
	gtk_widget_set_sensitive(g->btn_unlock, key);
	gtk_widget_set_sensitive(g->btn_view, cert);
	gtk_widget_set_sensitive(g->btn_export, cert);
	gtk_widget_set_sensitive(g->btn_renew, cert);
	gtk_widget_set_sensitive(g->btn_unlock_remote, key);
}

/* The certificates of the selected key into the lower list, the user
 * certificates first; the notice says what needs the holder's attention. */
static void load_certs(struct gui *g)
{
	clear_certs(g);
	GString *notice = g_string_new(NULL);
	if (g->selected_flags & CKF_USER_PIN_LOCKED)
		g_string_append(notice,
		                "该证书U盘的密码已锁定（输错次数过多），无法登录和修改密码。"
		                "请携带证书U盘联系所在省的数字证书注册机构办理密码解锁。");
	struct tok_ctx t;
	struct tok_cert *c = NULL;
	size_t n = 0;
	int rc = g->selected_serial ? gui_open_selected(g, &t) : TOK_EXIT_USAGE;
	if (rc == TOK_EXIT_OK) {
		rc = tok_find_certs(&t, &c, &n);
		tok_unload(&t);
	}
	if (g->selected_serial && rc != TOK_EXIT_OK)
		gui_status(g, true, g->msgs->str);
	g->x509 = calloc(n ? n : 1, sizeof *g->x509);
	if (!g->x509)
		abort();
	size_t users = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			struct tok_cert_view v;
			tok_cert_view_fill(c[i].x509, &v);
			bool ca = v.ca || c[i].category == 2;
			if (ca != (pass == 1)) {
				tok_cert_view_clear(&v);
				continue;
			}
			char *validity = g_strdup_printf("%s 至 %s", v.not_before, v.not_after);
			char *days = v.days_left < 0 ? g_strdup("已过期")
			             : v.expiring && !ca
			                 ? g_strdup_printf("还剩 %d 天（即将过期）", v.days_left)
			                 : g_strdup_printf("还剩 %d 天", v.days_left);
			char *holder =
			    ca ? g_strdup_printf("%s（CA证书）", v.holder) : g_strdup(v.holder);
			const char *color =
			    !ca && (v.expiring || v.days_left < 0) ? "#b00000" : NULL;
			gtk_list_store_insert_with_values(
			    g->certs, NULL, -1, CERT_HOLDER, holder, CERT_SERIAL, v.serial,
			    CERT_ISSUER, v.issuer, CERT_VALIDITY, validity, CERT_DAYS, days,
			    CERT_COLOR, color, CERT_INDEX, (gint)g->nx509, -1);
			if (!ca) {
				users++;
				if (v.days_left < 0)
					g_string_append_printf(
					    notice,
					    "%s证书“%s”已于 %s 过期，无法再用于登录。"
					    "请联系数字证书注册机构办理证书更新。",
					    notice->len ? "\n" : "", v.holder, v.not_after);
				else if (v.expiring)
					g_string_append_printf(
					    notice,
					    "%s警告：证书“%s”将在 %d 天后（%s）过期，"
					    "请及时联系数字证书注册机构办理证书更新。",
					    notice->len ? "\n" : "", v.holder, v.days_left,
					    v.not_after);
			}
			g->x509[g->nx509++] = X509_dup(c[i].x509);
			g_free(validity);
			g_free(days);
			g_free(holder);
			tok_cert_view_clear(&v);
		}
	}
	tok_certs_free(c, n);
	if (g->selected_serial && rc == TOK_EXIT_OK && users == 0)
		g_string_append_printf(notice, "%s该证书U盘上还没有用户证书。",
		                       notice->len ? "\n" : "");
	gtk_label_set_text(GTK_LABEL(g->notice), notice->str);
	gtk_widget_set_visible(g->notice, notice->len > 0);
	if (notice->len)
		gui_log("提示：%s", notice->str);
	g_string_free(notice, TRUE);
	GtkTreeIter it;
	if (gtk_tree_model_get_iter_first(GTK_TREE_MODEL(g->certs), &it))
		gtk_tree_selection_select_iter(
		    gtk_tree_view_get_selection(GTK_TREE_VIEW(g->certs_view)), &it);
	update_buttons(g);
}

X509 *gui_selected_cert(struct gui *g)
{
	GtkTreeModel *m;
	GtkTreeIter it;
	GtkTreeSelection *sel = gtk_tree_view_get_selection(GTK_TREE_VIEW(g->certs_view));
	if (!gtk_tree_selection_get_selected(sel, &m, &it))
		return NULL;
	gint idx = -1;
	gtk_tree_model_get(m, &it, CERT_INDEX, &idx, -1);
	return idx >= 0 && (size_t)idx < g->nx509 ? g->x509[idx] : NULL;
}

static void on_key_selected(GtkTreeSelection *sel, gpointer data)
{
	struct gui *g = data;
	GtkTreeModel *m;
	GtkTreeIter it;
	char *serial = NULL;
	guint64 flags = 0;
	if (gtk_tree_selection_get_selected(sel, &m, &it))
		gtk_tree_model_get(m, &it, KEY_SERIAL, &serial, KEY_FLAGS, &flags, -1);
	bool same = serial && g->selected_serial && strcmp(serial, g->selected_serial) == 0 &&
	            flags == g->selected_flags;
	free(g->selected_serial);
	g->selected_serial = serial ? strdup(serial) : NULL;
	g->selected_flags = (CK_FLAGS)flags;
	g_free(serial);
	if (!same)
		load_certs(g);
}

static void on_cert_selected(GtkTreeSelection *sel, gpointer data)
{
	update_buttons(data);
	(void)sel;
}

void gui_rescan(struct gui *g, bool force)
{
	struct tok_ctx t;
	struct tok_info *v = NULL;
	size_t n = 0;
	g_string_truncate(g->msgs, 0);
	if (tok_load(&t, g->module) == TOK_EXIT_OK) {
		tok_list_tokens(&t, &v, &n);
		tok_unload(&t);
	} else if (!g->signature || strcmp(g->signature, "!") != 0) {
		gui_status(g, true, g->msgs->str);
		free(g->signature);
		g->signature = strdup("!");
		return;
	} else {
		return;
	}
	GString *sig = g_string_new(NULL);
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(sig, "%s|%s|%lx\n", v[i].serial, v[i].label,
		                       (unsigned long)v[i].flags);
	if (!force && g->signature && strcmp(sig->str, g->signature) == 0) {
		g_string_free(sig, TRUE);
		tok_infos_free(v, n);
		return;
	}
	free(g->signature);
	g->signature = strdup(sig->str);
	g_string_free(sig, TRUE);

	char *keep = g->selected_serial ? strdup(g->selected_serial) : NULL;
	GtkTreeSelection *sel = gtk_tree_view_get_selection(GTK_TREE_VIEW(g->keys_view));
	g_signal_handlers_block_by_func(sel, on_key_selected, g);
	gtk_list_store_clear(g->keys);
	GtkTreeIter pick, it;
	bool picked = false;
	for (size_t i = 0; i < n; i++) {
		gtk_list_store_insert_with_values(
		    g->keys, &it, -1, KEY_LABEL, v[i].label, KEY_SERIAL, v[i].serial,
		    KEY_MANUFACTURER, v[i].manufacturer, KEY_STATE, key_state(v[i].flags),
		    KEY_FLAGS, (guint64)v[i].flags, -1);
		if (!picked || (keep && strcmp(keep, v[i].serial) == 0)) {
			pick = it;
			picked = true;
		}
	}
	g_signal_handlers_unblock_by_func(sel, on_key_selected, g);
	GString *names = g_string_new(NULL);
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(names, "%s%s（序列号 %s）", i ? "、" : "", v[i].label,
		                       v[i].serial);
	gui_log("已插入的证书U盘：%zu 个%s%s", n, n ? "：" : "", names->str);
	g_string_free(names, TRUE);
	tok_infos_free(v, n);
	free(keep);
	/* force a reload of the certificates: flags or objects may have changed */
	free(g->selected_serial);
	g->selected_serial = NULL;
	if (picked)
		gtk_tree_selection_select_iter(sel, &pick);
	else {
		on_key_selected(sel, g);
		gui_status(g, false, "请插入证书U盘。");
	}
}

static gboolean on_scan(gpointer data)
{
	struct gui *g = data;
	if (!g->busy)
		gui_rescan(g, false);
	return G_SOURCE_CONTINUE;
}

static void on_passwd(GtkButton *b, gpointer data)
{
	gui_passwd(data);
	(void)b;
}

static void on_unlock(GtkButton *b, gpointer data)
{
	gui_unlock(data);
	(void)b;
}

static void on_unlock_remote(GtkButton *b, gpointer data)
{
	gui_unlock_remote(data);
	(void)b;
}

static void on_renew(GtkButton *b, gpointer data)
{
	gui_renew(data);
	(void)b;
}

static void on_view(GtkButton *b, gpointer data)
{
	gui_view_cert(data);
	(void)b;
}

static void on_export(GtkButton *b, gpointer data)
{
	gui_export_cert(data);
	(void)b;
}

/* A column: its title, and the width it gets at most (0: as wide as its
 * text); long serial numbers and names are shortened with "…" rather than
 * pushing 有效期 and 剩余天数 out of the window. */
struct column {
	const char *title;
	int max_width;
	PangoEllipsizeMode ellipsize;
};

static GtkWidget *list_view(GtkListStore *store, const struct column *cols, int ncols,
                            int color_col, const char *accessible)
{
	GtkWidget *view = gtk_tree_view_new_with_model(GTK_TREE_MODEL(store));
	for (int i = 0; i < ncols; i++) {
		GtkCellRenderer *r = gtk_cell_renderer_text_new();
		GtkTreeViewColumn *col =
		    gtk_tree_view_column_new_with_attributes(cols[i].title, r, "text", i, NULL);
		if (color_col >= 0)
			gtk_tree_view_column_add_attribute(col, r, "foreground", color_col);
		if (cols[i].max_width > 0) {
			g_object_set(r, "ellipsize", cols[i].ellipsize, NULL);
			gtk_tree_view_column_set_sizing(col, GTK_TREE_VIEW_COLUMN_FIXED);
			gtk_tree_view_column_set_fixed_width(col, cols[i].max_width);
		}
		gtk_tree_view_column_set_resizable(col, TRUE);
		gtk_tree_view_append_column(GTK_TREE_VIEW(view), col);
	}
	atk_object_set_name(gtk_widget_get_accessible(view), accessible);
	GtkWidget *sw = gtk_scrolled_window_new(NULL, NULL);
	gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(sw), GTK_POLICY_AUTOMATIC,
	                               GTK_POLICY_AUTOMATIC);
	gtk_scrolled_window_set_shadow_type(GTK_SCROLLED_WINDOW(sw), GTK_SHADOW_IN);
	gtk_container_add(GTK_CONTAINER(sw), view);
	g_object_set_data(G_OBJECT(sw), "view", view);
	return sw;
}

static GtkWidget *section(const char *title, GtkWidget *child)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
	GtkWidget *l = gtk_label_new(NULL);
	char *markup = g_markup_printf_escaped("<b>%s</b>", title);
	gtk_label_set_markup(GTK_LABEL(l), markup);
	g_free(markup);
	gtk_label_set_xalign(GTK_LABEL(l), 0);
	gtk_box_pack_start(GTK_BOX(box), l, FALSE, FALSE, 0);
	gtk_box_pack_start(GTK_BOX(box), child, TRUE, TRUE, 0);
	return box;
}

static GtkWidget *button(struct gui *g, GtkAccelGroup *acc, const char *text, guint key,
                         const char *tip, GCallback cb)
{
	GtkWidget *b = gtk_button_new_with_label(text);
	gtk_widget_set_tooltip_text(b, tip);
	gtk_widget_add_accelerator(b, "clicked", acc, key, GDK_MOD1_MASK, GTK_ACCEL_VISIBLE);
	g_signal_connect(b, "clicked", cb, g);
	return b;
}

static void build_window(struct gui *g, GtkApplication *app)
{
	gtk_icon_theme_add_resource_path(gtk_icon_theme_get_default(),
	                                 "/cn/esp/TokenManager/icons");
	gtk_window_set_default_icon_name("esp-token-gui");
	g->window = gtk_application_window_new(app);
	gtk_window_set_title(GTK_WINDOW(g->window), "证书管理工具");
	gtk_window_set_default_size(GTK_WINDOW(g->window), 900, 560);
	gtk_window_set_icon_name(GTK_WINDOW(g->window), "esp-token-gui");
	GtkAccelGroup *acc = gtk_accel_group_new();
	gtk_window_add_accel_group(GTK_WINDOW(g->window), acc);

	GtkWidget *outer = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
	gtk_container_set_border_width(GTK_CONTAINER(outer), 16);
	gtk_container_add(GTK_CONTAINER(g->window), outer);

	GtkWidget *intro =
	    gtk_label_new("插入证书U盘后，这里会列出证书U盘和其上的证书。"
	                  "选中证书U盘后可以修改密码、查看和导出证书、更新证书和密码解锁。");
	gtk_label_set_xalign(GTK_LABEL(intro), 0);
	gtk_label_set_line_wrap(GTK_LABEL(intro), TRUE);
	gtk_box_pack_start(GTK_BOX(outer), intro, FALSE, FALSE, 0);

	/* The certificate login address the client package wrote (portal = URL):
	 * "插入证书U盘，打开证书U盘登录地址登录系统". */
	char *portal = tok_config_value("portal");
	if (portal && (strncmp(portal, "https://", 8) == 0)) {
		GtkWidget *l = gtk_label_new(NULL);
		char *markup = g_markup_printf_escaped("证书U盘登录地址：<a href=\"%s\">%s</a>",
		                                       portal, portal);
		gtk_label_set_markup(GTK_LABEL(l), markup);
		gtk_label_set_xalign(GTK_LABEL(l), 0);
		/* a link in a label takes the window's first focus: keep it for the list */
		gtk_widget_set_can_focus(l, FALSE);
		g_free(markup);
		gtk_box_pack_start(GTK_BOX(outer), l, FALSE, FALSE, 0);
	}
	free(portal);

	g->keys = gtk_list_store_new(KEY_NCOLS, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
	                             G_TYPE_STRING, G_TYPE_UINT64);
	static const struct column key_cols[] = {
	    {"证书U盘名称", 220, PANGO_ELLIPSIZE_END},
	    {"序列号", 200, PANGO_ELLIPSIZE_MIDDLE},
	    {"制造商", 200, PANGO_ELLIPSIZE_END},
	    {"状态", 0, PANGO_ELLIPSIZE_NONE},
	};
	GtkWidget *keys_sw = list_view(g->keys, key_cols, 4, -1, "证书U盘列表");
	g->keys_view = g_object_get_data(G_OBJECT(keys_sw), "view");
	gtk_widget_set_size_request(keys_sw, -1, 120);
	gtk_box_pack_start(GTK_BOX(outer), section("证书U盘", keys_sw), FALSE, FALSE, 0);

	g->certs = gtk_list_store_new(CERT_NCOLS, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
	                              G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT);
	static const struct column cert_cols[] = {
	    {"持有者", 230, PANGO_ELLIPSIZE_END},  {"证书序列号", 130, PANGO_ELLIPSIZE_MIDDLE},
	    {"颁发者", 140, PANGO_ELLIPSIZE_END},  {"有效期", 0, PANGO_ELLIPSIZE_NONE},
	    {"剩余天数", 0, PANGO_ELLIPSIZE_NONE},
	};
	GtkWidget *certs_sw = list_view(g->certs, cert_cols, 5, CERT_COLOR, "证书列表");
	g->certs_view = g_object_get_data(G_OBJECT(certs_sw), "view");
	gtk_widget_set_size_request(certs_sw, -1, 150);
	gtk_box_pack_start(GTK_BOX(outer), section("证书", certs_sw), TRUE, TRUE, 0);

	g->notice = gtk_label_new(NULL);
	gtk_label_set_xalign(GTK_LABEL(g->notice), 0);
	gtk_label_set_line_wrap(GTK_LABEL(g->notice), TRUE);
	gtk_label_set_selectable(GTK_LABEL(g->notice), TRUE);
	gtk_style_context_add_class(gtk_widget_get_style_context(g->notice), "warning");
	gtk_box_pack_start(GTK_BOX(outer), g->notice, FALSE, FALSE, 0);

	GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	g->btn_passwd = button(g, acc, "修改密码", GDK_KEY_m, "修改证书U盘的密码（Alt+M）",
	                       G_CALLBACK(on_passwd));
	g->btn_view = button(g, acc, "查看证书", GDK_KEY_v, "查看所选证书的详细信息（Alt+V）",
	                     G_CALLBACK(on_view));
	g->btn_export =
	    button(g, acc, "导出证书", GDK_KEY_e, "把所选证书保存为文件（PEM 或 DER 格式，Alt+E）",
	           G_CALLBACK(on_export));
	g->btn_renew =
	    button(g, acc, "证书更新", GDK_KEY_r,
	           "在同一证书U盘上更新即将到期的证书（需先在管理系统申请并缴费，Alt+R）",
	           G_CALLBACK(on_renew));
	g->btn_unlock_remote =
	    button(g, acc, "密码解锁", GDK_KEY_l,
	           "密码被锁定或遗忘时，用数字证书注册机构批准的一次性授权码设置新密码（Alt+L）",
	           G_CALLBACK(on_unlock_remote));
	g->btn_unlock =
	    button(g, acc, "解锁", GDK_KEY_u,
	           "数字证书注册机构使用：用管理员PIN码为锁定的证书U盘设置新密码（Alt+U）",
	           G_CALLBACK(on_unlock));
	gtk_box_pack_start(GTK_BOX(row), g->btn_passwd, FALSE, FALSE, 0);
	gtk_box_pack_start(GTK_BOX(row), g->btn_view, FALSE, FALSE, 0);
	gtk_box_pack_start(GTK_BOX(row), g->btn_export, FALSE, FALSE, 0);
	gtk_box_pack_start(GTK_BOX(row), g->btn_renew, FALSE, FALSE, 0);
	gtk_box_pack_start(GTK_BOX(row), g->btn_unlock_remote, FALSE, FALSE, 0);
	gtk_box_pack_end(GTK_BOX(row), g->btn_unlock, FALSE, FALSE, 0);
	gtk_box_pack_start(GTK_BOX(outer), row, FALSE, FALSE, 0);

	g->status = gtk_label_new(NULL);
	gtk_label_set_xalign(GTK_LABEL(g->status), 0);
	gtk_label_set_line_wrap(GTK_LABEL(g->status), TRUE);
	gtk_label_set_selectable(GTK_LABEL(g->status), TRUE);
	gtk_box_pack_start(GTK_BOX(outer), g->status, FALSE, FALSE, 0);

	GtkCssProvider *css = gtk_css_provider_new();
	gtk_css_provider_load_from_data(css,
	                                "label.error { color: #b00000; }"
	                                "label.warning { color: #8a4b00; }"
	                                "label.success { color: #1a6b1a; }",
	                                -1, NULL);
	gtk_style_context_add_provider_for_screen(gdk_screen_get_default(), GTK_STYLE_PROVIDER(css),
	                                          GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
	g_object_unref(css);

	g_signal_connect(gtk_tree_view_get_selection(GTK_TREE_VIEW(g->keys_view)), "changed",
	                 G_CALLBACK(on_key_selected), g);
	g_signal_connect(gtk_tree_view_get_selection(GTK_TREE_VIEW(g->certs_view)), "changed",
	                 G_CALLBACK(on_cert_selected), g);
	gtk_widget_show_all(g->window);
	gtk_widget_set_visible(g->notice, FALSE);
	/* Tab starts at the list of keys, not at the address link above it */
	gtk_widget_grab_focus(g->keys_view);
	update_buttons(g);
}

static void on_activate(GtkApplication *app, gpointer data)
{
	struct gui *g = data;
	if (g->window) {
		gtk_window_present(GTK_WINDOW(g->window));
		return;
	}
	build_window(g, app);
	gui_rescan(g, true);
	g_timeout_add_seconds(SCAN_SECONDS, on_scan, g);
}

static void usage(FILE *fp)
{
	fputs("用法 (usage)：esp-token-gui [--module PATH] [--server URL] [--ca-file FILE]\n\n"
	      "证书管理工具：列出插入的证书U盘和其上的证书，修改密码，查看和导出证书，\n"
	      "证书更新，密码解锁，数字证书注册机构用管理员PIN码解锁。\n"
	      "命令行版本见 esp-token --help。\n\n"
	      "  --module PATH   PKCS#11 模块（默认取 ~/.config/esp-token.conf 或\n"
	      "                  /etc/esp-token.conf 中的 module = ...，否则 OpenSC 或 SoftHSM2）\n"
	      "  --server URL    证书更新和密码解锁使用的管理系统地址\n"
	      "                  （默认取 esp-token.conf 中的 server = ...）\n"
	      "  --ca-file FILE  用此CA证书验证服务器（默认取 esp-token.conf 中的 ca-file = ...，\n"
	      "                  否则系统信任库）\n"
	      "  -h, --help      显示帮助\n"
	      "  --version       显示版本\n",
	      fp);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"module", required_argument, NULL, 'm'},  {"server", required_argument, NULL, 'S'},
	    {"ca-file", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	struct gui g = {0};
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			g.module = strdup(optarg);
			break;
		case 'S':
			g.server = strdup(optarg);
			break;
		case 'c':
			g.ca_file = strdup(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("esp-token-gui %s\n", GUI_VERSION);
			return 0;
		default:
			fprintf(stderr, "esp-token-gui: 选项 %s 无效或缺少参数\n",
			        argv[optind - 1]);
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "esp-token-gui: 多余的参数：%s\n", argv[optind]);
		return 1;
	}
	if (!g.module)
		g.module = tok_default_module();
	if (!g.server)
		g.server = tok_config_value("server");
	if (!g.ca_file)
		g.ca_file = tok_config_value("ca-file");
	g.msgs = g_string_new(NULL);
	tok_set_msg_sink(collect, &g);
	/* NON_UNIQUE: tests and RA workstations may run one window per module. */
	GtkApplication *app = gtk_application_new("cn.esp.TokenManager", G_APPLICATION_NON_UNIQUE);
	g_signal_connect(app, "activate", G_CALLBACK(on_activate), &g);
	char *args[] = {argv[0], NULL};
	int rc = g_application_run(G_APPLICATION(app), 1, args);
	g_object_unref(app);
	clear_certs(&g);
	free(g.module);
	free(g.server);
	free(g.ca_file);
	free(g.signature);
	free(g.selected_serial);
	g_string_free(g.msgs, TRUE);
	return rc;
}
