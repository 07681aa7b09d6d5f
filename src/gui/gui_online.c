/*
 * gui_online.c - the two operations of 证书管理工具 that talk to ESP's
 * server: 【证书更新】, the online renewal 更新 of the selected key's
 * certificate (tok_renew, src/cli/token_renew.c, as `esp-token renew`), and
 * 【密码解锁】, the holder's remote unlock with the RA's one-time
 * authorisation (tok_unlock_remote, as `esp-token unlock --remote`).
 *
 * The holder fills a dialog like 【修改密码】's; the operation (key generation
 * on the token, round trips to the server) then runs on a worker thread so
 * the window keeps drawing, and its progress comes back to the status line
 * through the main loop.  While it runs the window is busy: no rescans and
 * no buttons, so nothing else touches the token or the library's message
 * sink, which the worker has for itself until it is done.
 */
#include "gui.h"

#include <stdio.h>
#include <string.h>

#include "token_client.h"

enum job_kind { JOB_RENEW, JOB_UNLOCK };

struct renew_job {
	struct gui *g;
	enum job_kind kind;
	char *module, *token, *server, *ca_file;
	char pin[TOK_PIN_BUF];           /* renewal: the user PIN; unlock: the new one */
	char application[64], code[256]; /* unlock */
	GString *msgs;                   /* the token library's messages during the renewal */
	CK_FLAGS flags;                  /* the token's PIN flags after a refused PIN */
	int rc;
};

struct progress_line {
	struct gui *g;
	char *text;
};

static gboolean show_progress(gpointer data)
{
	struct progress_line *p = data;
	gui_status(p->g, false, p->text);
	g_free(p->text);
	g_free(p);
	return G_SOURCE_REMOVE;
}

/* On the worker: hand the line to the main loop. */
static void on_progress(const char *text, X509 *cert, void *data)
{
	struct renew_job *j = data;
	struct progress_line *p = g_new(struct progress_line, 1);
	p->g = j->g;
	p->text = g_strdup(text);
	g_idle_add(show_progress, p);
	(void)cert;
}

static void collect(enum tok_msg_level level, const char *msg, void *data)
{
	struct renew_job *j = data;
	if (j->msgs->len)
		g_string_append_c(j->msgs, '\n');
	g_string_append(j->msgs, msg);
	(void)level;
}

static const char LOCKED_TEXT[] =
    "证书U盘已锁定：密码输错次数过多，证书没有更新。\n"
    "请在管理系统申请密码解锁，或携带证书U盘联系所在省的数字证书注册机构。";

static void job_free(struct renew_job *j)
{
	tok_wipe(j->pin, sizeof j->pin);
	tok_wipe(j->code, sizeof j->code);
	g_free(j->module);
	g_free(j->token);
	g_free(j->server);
	g_free(j->ca_file);
	g_string_free(j->msgs, TRUE);
	g_free(j);
}

static char *renew_outcome(struct renew_job *j)
{
	switch (j->rc) {
	case TOK_EXIT_OK:
		return g_strdup("证书更新完成：新证书已写入证书U盘，原证书已作废（已被替代）。"
		                "以后登录请继续使用该证书U盘和原密码。");
	case TOK_EXIT_PIN_WRONG:
		return g_strdup_printf("密码错误，证书没有更新。%s",
		                       tok_pin_flags_hint(j->flags, false));
	case TOK_EXIT_PIN_LOCKED:
		return g_strdup(LOCKED_TEXT);
	case TOK_EXIT_NETWORK:
		return g_strdup_printf("证书没有更新：无法连接服务器或服务器出错。%s\n"
		                       "原证书仍然有效；请检查网络后再点【证书更新】，"
		                       "将从中断处继续。",
		                       j->msgs->str);
	case TOK_EXIT_REFUSED:
		return g_strdup_printf("服务器拒绝了证书更新：%s\n"
		                       "请先在管理系统“当前用户信息”中申请证书更新并完成缴费。",
		                       j->msgs->str);
	default:
		return g_strdup_printf("证书没有更新：%s",
		                       j->msgs->str[0] ? j->msgs->str : "证书U盘操作失败。");
	}
}

static char *unlock_outcome(struct renew_job *j)
{
	switch (j->rc) {
	case TOK_EXIT_OK:
		return g_strdup("密码解锁完成：已设置新密码，授权码已作废。"
		                "以后使用证书U盘时请输入新密码。");
	case TOK_EXIT_NETWORK:
		return g_strdup_printf("密码解锁没有完成：无法连接服务器或服务器出错。%s\n"
		                       "请检查网络后用同一授权码再点【密码解锁】，将从中断处继续。",
		                       j->msgs->str);
	case TOK_EXIT_REFUSED:
		return g_strdup_printf(
		    "服务器拒绝了密码解锁：%s\n"
		    "请核对申请编号和授权码（见管理系统中该密码解锁申请的页面）；"
		    "申请须经数字证书注册机构批准。",
		    j->msgs->str);
	default:
		return g_strdup_printf("密码解锁没有完成：%s",
		                       j->msgs->str[0] ? j->msgs->str : "证书U盘操作失败。");
	}
}

static gboolean renew_done(gpointer data)
{
	struct renew_job *j = data;
	struct gui *g = j->g;
	gui_restore_sink(g);
	g->busy = false;
	char *text = j->kind == JOB_RENEW ? renew_outcome(j) : unlock_outcome(j);
	gui_status(g, j->rc != TOK_EXIT_OK, text);
	if (j->rc == TOK_EXIT_OK)
		gtk_style_context_add_class(gtk_widget_get_style_context(g->status), "success");
	g_free(text);
	job_free(j);
	gui_rescan(g, true);
	return G_SOURCE_REMOVE;
}

static gpointer renew_thread(gpointer data)
{
	struct renew_job *j = data;
	if (j->kind == JOB_RENEW) {
		struct tok_renew_req r = {.module = j->module,
		                          .token = j->token,
		                          .pin = j->pin,
		                          .server = j->server,
		                          .ca_file = j->ca_file,
		                          .progress = on_progress,
		                          .data = j};
		j->rc = tok_renew(&r);
	} else {
		struct tok_unlock_req r = {.module = j->module,
		                           .token = j->token,
		                           .server = j->server,
		                           .ca_file = j->ca_file,
		                           .application = j->application,
		                           .code = j->code,
		                           .new_pin = j->pin,
		                           .progress = on_progress,
		                           .data = j};
		j->rc = tok_unlock_remote(&r);
	}
	tok_wipe(j->pin, sizeof j->pin);
	tok_wipe(j->code, sizeof j->code);
	if (j->rc == TOK_EXIT_PIN_WRONG) {
		/* the retries left, as 【修改密码】 says them */
		struct tok_ctx t;
		if (tok_load(&t, j->module) == TOK_EXIT_OK) {
			CK_TOKEN_INFO info;
			if (tok_select(&t, j->token) == TOK_EXIT_OK &&
			    t.f->C_GetTokenInfo(t.slot_id, &info) == CKR_OK)
				j->flags = info.flags;
			tok_unload(&t);
		}
	}
	g_idle_add(renew_done, j);
	return NULL;
}

/* A modal 确定/取消 dialog opening with a wrapped explanation; its content
 * area (for the fields) in *area. */
static GtkWidget *intro_dialog(struct gui *g, const char *title, const char *text, int max_chars,
                               GtkWidget **area)
{
	GtkWidget *dlg = gtk_dialog_new_with_buttons(
	    title, GTK_WINDOW(g->window), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT, "确定",
	    GTK_RESPONSE_OK, "取消", GTK_RESPONSE_CANCEL, NULL);
	gtk_dialog_set_default_response(GTK_DIALOG(dlg), GTK_RESPONSE_OK);
	gtk_window_set_resizable(GTK_WINDOW(dlg), FALSE);
	*area = gtk_dialog_get_content_area(GTK_DIALOG(dlg));
	gtk_container_set_border_width(GTK_CONTAINER(*area), 16);
	gtk_box_set_spacing(GTK_BOX(*area), 12);
	GtkWidget *intro = gtk_label_new(text);
	gtk_label_set_xalign(GTK_LABEL(intro), 0);
	gtk_label_set_line_wrap(GTK_LABEL(intro), TRUE);
	gtk_label_set_width_chars(GTK_LABEL(intro), 34);
	gtk_label_set_max_width_chars(GTK_LABEL(intro), max_chars);
	gtk_box_pack_start(GTK_BOX(*area), intro, FALSE, FALSE, 0);
	return dlg;
}

/* The 密码 dialog; the PIN into pin (wiped by the caller). false: cancelled. */
static bool ask_pin(struct gui *g, char *pin, size_t size)
{
	GtkWidget *area;
	GtkWidget *dlg = intro_dialog(
	    g, "证书更新",
	    "证书更新在同一证书U盘上生成新密钥对，由服务器签发新证书并写入证书U盘，"
	    "确认后原证书作废。需要先在管理系统“当前用户信息”中申请证书更新并完成缴费。\n"
	    "更新期间请不要拔出证书U盘；如被中断，再次点【证书更新】会从中断处继续。",
	    40, &area);
	GtkWidget *grid = gtk_grid_new();
	gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
	GtkWidget *lab = gtk_label_new("密码");
	gtk_label_set_xalign(GTK_LABEL(lab), 1);
	GtkWidget *entry = gtk_entry_new();
	gtk_entry_set_visibility(GTK_ENTRY(entry), FALSE);
	gtk_entry_set_input_purpose(GTK_ENTRY(entry), GTK_INPUT_PURPOSE_PIN);
	gtk_entry_set_activates_default(GTK_ENTRY(entry), TRUE);
	gtk_entry_set_width_chars(GTK_ENTRY(entry), 22);
	gtk_label_set_mnemonic_widget(GTK_LABEL(lab), entry);
	atk_object_set_name(gtk_widget_get_accessible(entry), "密码");
	gtk_grid_attach(GTK_GRID(grid), lab, 0, 0, 1, 1);
	gtk_grid_attach(GTK_GRID(grid), entry, 1, 0, 1, 1);
	gtk_box_pack_start(GTK_BOX(area), grid, FALSE, FALSE, 0);
	GtkWidget *err = gtk_label_new("请输入证书U盘的密码。");
	gtk_label_set_xalign(GTK_LABEL(err), 0);
	gtk_style_context_add_class(gtk_widget_get_style_context(err), "error");
	gtk_box_pack_start(GTK_BOX(area), err, FALSE, FALSE, 0);
	gtk_widget_show_all(dlg);
	gtk_widget_set_visible(err, FALSE);
	gtk_widget_grab_focus(entry);
	bool ok = false;
	while (!ok && gtk_dialog_run(GTK_DIALOG(dlg)) == GTK_RESPONSE_OK) {
		g_strlcpy(pin, gtk_entry_get_text(GTK_ENTRY(entry)), size);
		ok = pin[0] != '\0';
		if (!ok) {
			gtk_widget_set_visible(err, TRUE);
			gtk_widget_grab_focus(entry);
			gui_log("对话框提示：请输入证书U盘的密码。");
		}
	}
	gtk_entry_set_text(GTK_ENTRY(entry), "");
	gtk_widget_destroy(dlg);
	return ok;
}

/* The job on its worker thread; the buttons wait (the window still draws). */
static void start_job(struct gui *g, struct renew_job *j, const char *first)
{
	j->g = g;
	j->module = g_strdup(g->module);
	j->token = g_strdup(g->selected_serial);
	j->server = g_strdup(g->server);
	j->ca_file = g_strdup(g->ca_file);
	j->msgs = g_string_new(NULL);
	tok_set_msg_sink(collect, j);
	GtkWidget *const buttons[] = {g->btn_passwd, g->btn_view,  g->btn_export,
	                              g->btn_unlock, g->btn_renew, g->btn_unlock_remote};
	for (size_t i = 0; i < G_N_ELEMENTS(buttons); i++)
		gtk_widget_set_sensitive(buttons[i], FALSE);
	gui_status(g, false, first);
	g_thread_unref(g_thread_new("esp-online", renew_thread, j));
}

static bool no_server(struct gui *g, const char *what)
{
	if (g->server)
		return false;
	char *msg = g_strdup_printf("无法%s：没有设置服务器地址。请用 --server 启动证书管理工具，"
	                            "或在 esp-token.conf 中写入 server = 服务器地址。",
	                            what);
	gui_status(g, true, msg);
	g_free(msg);
	return true;
}

void gui_renew(struct gui *g)
{
	if (!g->selected_serial || g->busy)
		return;
	if (no_server(g, "更新证书"))
		return;
	if (g->selected_flags & CKF_USER_PIN_LOCKED) {
		gui_status(g, true, LOCKED_TEXT);
		return;
	}
	g->busy = true;
	gui_log("打开对话框：证书更新");
	struct renew_job *j = g_new0(struct renew_job, 1);
	j->kind = JOB_RENEW;
	if (!ask_pin(g, j->pin, sizeof j->pin)) {
		gui_log("对话框已取消：证书更新");
		tok_wipe(j->pin, sizeof j->pin);
		g_free(j);
		g->busy = false;
		return;
	}
	start_job(g, j, "正在更新证书，请不要拔出证书U盘……");
}

/* The 密码解锁 dialog: 申请编号, 授权码 (both shown on the application's page
 * once the RA approved), 新密码 and 确认新密码. Fills j; false: cancelled. */
static bool ask_unlock(struct gui *g, struct renew_job *j)
{
	static const char *const labels[] = {"申请编号", "授权码", "新密码", "确认新密码"};
	GtkWidget *area;
	GtkWidget *dlg = intro_dialog(
	    g, "密码解锁",
	    "证书U盘密码被锁定或遗忘时使用：先用用户名和密码登录管理系统，在【查看初审状态】—"
	    "【密码解锁】中申请；数字证书注册机构批准后，申请页面显示申请编号和一次性授权码。\n"
	    "插入该证书U盘，填写申请编号、授权码和新密码（6–16个字符）。",
	    44, &area);
	GtkWidget *grid = gtk_grid_new(), *entry[4];
	gtk_grid_set_row_spacing(GTK_GRID(grid), 10);
	gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
	for (int i = 0; i < 4; i++) {
		GtkWidget *lab = gtk_label_new(labels[i]);
		gtk_label_set_xalign(GTK_LABEL(lab), 1);
		entry[i] = gtk_entry_new();
		if (i >= 2) {
			gtk_entry_set_visibility(GTK_ENTRY(entry[i]), FALSE);
			gtk_entry_set_input_purpose(GTK_ENTRY(entry[i]), GTK_INPUT_PURPOSE_PIN);
		}
		gtk_entry_set_activates_default(GTK_ENTRY(entry[i]), TRUE);
		gtk_entry_set_width_chars(GTK_ENTRY(entry[i]), 26);
		gtk_label_set_mnemonic_widget(GTK_LABEL(lab), entry[i]);
		atk_object_set_name(gtk_widget_get_accessible(entry[i]), labels[i]);
		gtk_grid_attach(GTK_GRID(grid), lab, 0, i, 1, 1);
		gtk_grid_attach(GTK_GRID(grid), entry[i], 1, i, 1, 1);
	}
	gtk_box_pack_start(GTK_BOX(area), grid, FALSE, FALSE, 0);
	GtkWidget *err = gtk_label_new(NULL);
	gtk_label_set_xalign(GTK_LABEL(err), 0);
	gtk_label_set_line_wrap(GTK_LABEL(err), TRUE);
	gtk_label_set_max_width_chars(GTK_LABEL(err), 44);
	gtk_style_context_add_class(gtk_widget_get_style_context(err), "error");
	gtk_box_pack_start(GTK_BOX(area), err, FALSE, FALSE, 0);
	gtk_widget_show_all(dlg);
	gtk_widget_set_visible(err, FALSE);
	gtk_widget_grab_focus(entry[0]);
	bool ok = false;
	while (!ok && gtk_dialog_run(GTK_DIALOG(dlg)) == GTK_RESPONSE_OK) {
		char again[TOK_PIN_BUF], msg[256] = "";
		int focus = -1;
		g_strlcpy(j->application, gtk_entry_get_text(GTK_ENTRY(entry[0])),
		          sizeof j->application);
		g_strstrip(j->application);
		g_strlcpy(j->code, gtk_entry_get_text(GTK_ENTRY(entry[1])), sizeof j->code);
		g_strlcpy(j->pin, gtk_entry_get_text(GTK_ENTRY(entry[2])), sizeof j->pin);
		g_strlcpy(again, gtk_entry_get_text(GTK_ENTRY(entry[3])), sizeof again);
		g_strstrip(j->code);
		if (!tok_valid_application(j->application)) {
			snprintf(msg, sizeof msg, "%s",
			         "请输入申请编号（如 ESP-2026-000123，见该密码解锁申请的页面）。");
			focus = 0;
		} else if (!j->code[0]) {
			snprintf(msg, sizeof msg, "%s",
			         "请输入一次性授权码（见该密码解锁申请的页面）。");
			focus = 1;
		} else if (gui_new_pin_problem(j->pin, again, msg, sizeof msg)) {
			gtk_entry_set_text(GTK_ENTRY(entry[2]), "");
			gtk_entry_set_text(GTK_ENTRY(entry[3]), "");
			focus = 2;
		}
		tok_wipe(again, sizeof again);
		ok = focus < 0;
		if (!ok) {
			gtk_label_set_text(GTK_LABEL(err), msg);
			gtk_widget_set_visible(err, TRUE);
			gtk_widget_grab_focus(entry[focus]);
			gui_log("对话框提示：%s", msg);
		}
	}
	for (int i = 0; i < 4; i++)
		gtk_entry_set_text(GTK_ENTRY(entry[i]), "");
	gtk_widget_destroy(dlg);
	return ok;
}

void gui_unlock_remote(struct gui *g)
{
	if (!g->selected_serial || g->busy || no_server(g, "密码解锁"))
		return;
	g->busy = true;
	gui_log("打开对话框：密码解锁");
	struct renew_job *j = g_new0(struct renew_job, 1);
	j->kind = JOB_UNLOCK;
	if (!ask_unlock(g, j)) {
		gui_log("对话框已取消：密码解锁");
		tok_wipe(j->pin, sizeof j->pin);
		tok_wipe(j->code, sizeof j->code);
		g_free(j);
		g->busy = false;
		return;
	}
	start_job(g, j, "正在密码解锁，请不要拔出证书U盘……");
}
