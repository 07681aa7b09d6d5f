/*
 * gui_cert.c - 【查看证书】 (the fields a holder checks: holder, subject,
 * issuer, 证书序列号, validity, days left, SHA-256 fingerprint) and
 * 【导出证书】 (PEM or DER to a file chosen in a file dialog) of the
 * certificate selected in the main window.  Certificates are public: no PIN.
 */
#include "gui.h"

#include <string.h>

#include <openssl/evp.h>

static void add_row(GtkWidget *grid, int row, const char *name, const char *value)
{
	GtkWidget *k = gtk_label_new(name);
	gtk_label_set_xalign(GTK_LABEL(k), 1);
	gtk_label_set_yalign(GTK_LABEL(k), 0);
	GtkWidget *v = gtk_label_new(value);
	gtk_label_set_xalign(GTK_LABEL(v), 0);
	gtk_label_set_selectable(GTK_LABEL(v), TRUE);
	gtk_label_set_line_wrap(GTK_LABEL(v), TRUE);
	gtk_label_set_line_wrap_mode(GTK_LABEL(v), PANGO_WRAP_WORD_CHAR);
	/* a wrapping label without a width asks for one character per line */
	gtk_label_set_width_chars(GTK_LABEL(v), 44);
	gtk_label_set_max_width_chars(GTK_LABEL(v), 52);
	gtk_grid_attach(GTK_GRID(grid), k, 0, row, 1, 1);
	gtk_grid_attach(GTK_GRID(grid), v, 1, row, 1, 1);
}

static char *fingerprint(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!X509_digest(x, EVP_sha256(), md, &n))
		return g_strdup("?");
	GString *s = g_string_new(NULL);
	for (unsigned int i = 0; i < n; i++)
		g_string_append_printf(s, "%s%02X", i ? ":" : "", md[i]);
	return g_string_free(s, FALSE);
}

void gui_view_cert(struct gui *g)
{
	X509 *x = gui_selected_cert(g);
	if (!x)
		return;
	struct tok_cert_view v;
	tok_cert_view_fill(x, &v);
	GtkWidget *dlg = gtk_dialog_new_with_buttons(
	    "查看证书", GTK_WINDOW(g->window), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
	    "关闭", GTK_RESPONSE_CLOSE, NULL);
	gtk_dialog_set_default_response(GTK_DIALOG(dlg), GTK_RESPONSE_CLOSE);
	gtk_window_set_resizable(GTK_WINDOW(dlg), FALSE);
	GtkWidget *area = gtk_dialog_get_content_area(GTK_DIALOG(dlg));
	gtk_container_set_border_width(GTK_CONTAINER(area), 16);
	GtkWidget *grid = gtk_grid_new();
	gtk_grid_set_row_spacing(GTK_GRID(grid), 8);
	gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
	char *days = v.days_left < 0 ? g_strdup("已过期")
	             : v.expiring
	                 ? g_strdup_printf("%d 天（即将过期，请及时办理证书更新）", v.days_left)
	                 : g_strdup_printf("%d 天", v.days_left);
	char *fp = fingerprint(x);
	int row = 0;
	add_row(grid, row++, "持有者", v.holder);
	add_row(grid, row++, "主题", v.subject);
	add_row(grid, row++, "颁发者", v.issuer);
	add_row(grid, row++, "证书序列号", v.serial);
	add_row(grid, row++, "有效期起", v.not_before);
	add_row(grid, row++, "有效期至", v.not_after);
	add_row(grid, row++, "剩余天数", days);
	add_row(grid, row++, "证书类型", v.ca ? "CA证书" : "用户证书");
	add_row(grid, row++, "SHA-256 指纹", fp);
	gtk_box_pack_start(GTK_BOX(area), grid, TRUE, TRUE, 0);
	gui_log("查看证书：%s，证书序列号 %s，有效期至 %s", v.holder, v.serial, v.not_after);
	g_free(days);
	g_free(fp);
	tok_cert_view_clear(&v);
	gtk_widget_show_all(dlg);
	g->busy = true;
	gtk_dialog_run(GTK_DIALOG(dlg));
	gtk_widget_destroy(dlg);
	g->busy = false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && g_ascii_strcasecmp(s + n - m, suffix) == 0;
}

void gui_export_cert(struct gui *g)
{
	X509 *x = gui_selected_cert(g);
	if (!x)
		return;
	struct tok_cert_view v;
	tok_cert_view_fill(x, &v);
	GtkWidget *dlg = gtk_file_chooser_dialog_new(
	    "导出证书", GTK_WINDOW(g->window), GTK_FILE_CHOOSER_ACTION_SAVE, "取消",
	    GTK_RESPONSE_CANCEL, "保存", GTK_RESPONSE_ACCEPT, NULL);
	GtkFileChooser *fc = GTK_FILE_CHOOSER(dlg);
	gtk_file_chooser_set_do_overwrite_confirmation(fc, TRUE);
	GtkFileFilter *pem = gtk_file_filter_new();
	gtk_file_filter_set_name(pem, "PEM 格式证书 (*.pem, *.crt)");
	gtk_file_filter_add_pattern(pem, "*.pem");
	gtk_file_filter_add_pattern(pem, "*.crt");
	GtkFileFilter *der = gtk_file_filter_new();
	gtk_file_filter_set_name(der, "DER 格式证书 (*.der, *.cer)");
	gtk_file_filter_add_pattern(der, "*.der");
	gtk_file_filter_add_pattern(der, "*.cer");
	gtk_file_chooser_add_filter(fc, pem);
	gtk_file_chooser_add_filter(fc, der);
	char *name = g_strdup_printf("证书-%s.pem", v.serial);
	gtk_file_chooser_set_current_name(fc, name);
	g_free(name);
	tok_cert_view_clear(&v);
	g->busy = true;
	gui_log("打开对话框：导出证书");
	if (gtk_dialog_run(GTK_DIALOG(dlg)) == GTK_RESPONSE_ACCEPT) {
		char *path = gtk_file_chooser_get_filename(fc);
		/* The extension decides; without one, the chosen filter does. */
		bool as_der = ends_with(path, ".der") || ends_with(path, ".cer") ||
		              (!ends_with(path, ".pem") && !ends_with(path, ".crt") &&
		               gtk_file_chooser_get_filter(fc) == der);
		g_string_truncate(g->msgs, 0);
		if (tok_write_cert(x, as_der, path) == TOK_EXIT_OK) {
			char *msg = g_strdup_printf("证书已导出到 %s（%s 格式）。", path,
			                            as_der ? "DER" : "PEM");
			gui_status(g, false, msg);
			g_free(msg);
		} else {
			gui_status(g, true, g->msgs->str);
		}
		g_free(path);
	}
	gtk_widget_destroy(dlg);
	g->busy = false;
}
