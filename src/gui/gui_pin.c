/*
 * gui_pin.c - the two PIN dialogs of 证书管理工具: 【修改密码】 (当前密码,
 * 新密码, 确认新密码; C_SetPIN) for the holder, and 【解锁】 (管理员PIN码 and a
 * new user PIN; C_Login as SO + C_InitPIN) for the RA's workstation.
 *
 * The rules are esp-token passwd's: 6–16 characters, the two new ones equal.
 * The dialog stays open after a refusal, says why in Chinese and which field
 * to correct.  PINs are copied out of the entries only to be handed to the
 * token, then wiped; the entries are emptied (GTK 3's entry buffer zeroes
 * the text it drops) before the dialog is destroyed.
 */
#include "gui.h"

#include <stdio.h>
#include <string.h>

struct pin_form {
	GtkWidget *dlg;
	GtkWidget *entry[3];
	GtkWidget *error;
};

static void form_error(struct pin_form *f, const char *text, int focus)
{
	gtk_label_set_text(GTK_LABEL(f->error), text);
	gtk_widget_set_visible(f->error, text[0] != '\0');
	if (focus >= 0)
		gtk_widget_grab_focus(f->entry[focus]);
	if (text[0])
		gui_log("对话框提示：%s", text);
}

static void form_clear(struct pin_form *f, int i)
{
	gtk_entry_set_text(GTK_ENTRY(f->entry[i]), "");
}

static void form_new(struct pin_form *f, struct gui *g, const char *title, const char *intro,
                     const char *const labels[3])
{
	f->dlg = gtk_dialog_new_with_buttons(
	    title, GTK_WINDOW(g->window), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT, "确定",
	    GTK_RESPONSE_OK, "取消", GTK_RESPONSE_CANCEL, NULL);
	gtk_dialog_set_default_response(GTK_DIALOG(f->dlg), GTK_RESPONSE_OK);
	gtk_window_set_resizable(GTK_WINDOW(f->dlg), FALSE);
	GtkWidget *area = gtk_dialog_get_content_area(GTK_DIALOG(f->dlg));
	gtk_container_set_border_width(GTK_CONTAINER(area), 16);
	gtk_box_set_spacing(GTK_BOX(area), 12);

	GtkWidget *l = gtk_label_new(intro);
	gtk_label_set_xalign(GTK_LABEL(l), 0);
	gtk_label_set_line_wrap(GTK_LABEL(l), TRUE);
	gtk_label_set_width_chars(GTK_LABEL(l), 34);
	gtk_label_set_max_width_chars(GTK_LABEL(l), 40);
	gtk_box_pack_start(GTK_BOX(area), l, FALSE, FALSE, 0);

	GtkWidget *grid = gtk_grid_new();
	gtk_grid_set_row_spacing(GTK_GRID(grid), 10);
	gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
	for (int i = 0; i < 3; i++) {
		GtkWidget *lab = gtk_label_new(labels[i]);
		gtk_label_set_xalign(GTK_LABEL(lab), 1);
		f->entry[i] = gtk_entry_new();
		gtk_entry_set_visibility(GTK_ENTRY(f->entry[i]), FALSE);
		gtk_entry_set_input_purpose(GTK_ENTRY(f->entry[i]), GTK_INPUT_PURPOSE_PIN);
		gtk_entry_set_activates_default(GTK_ENTRY(f->entry[i]), TRUE);
		gtk_entry_set_width_chars(GTK_ENTRY(f->entry[i]), 22);
		gtk_label_set_mnemonic_widget(GTK_LABEL(lab), f->entry[i]);
		atk_object_set_name(gtk_widget_get_accessible(f->entry[i]), labels[i]);
		gtk_grid_attach(GTK_GRID(grid), lab, 0, i, 1, 1);
		gtk_grid_attach(GTK_GRID(grid), f->entry[i], 1, i, 1, 1);
	}
	gtk_box_pack_start(GTK_BOX(area), grid, FALSE, FALSE, 0);

	f->error = gtk_label_new(NULL);
	gtk_label_set_xalign(GTK_LABEL(f->error), 0);
	gtk_label_set_line_wrap(GTK_LABEL(f->error), TRUE);
	gtk_label_set_width_chars(GTK_LABEL(f->error), 34);
	gtk_label_set_max_width_chars(GTK_LABEL(f->error), 40);
	gtk_style_context_add_class(gtk_widget_get_style_context(f->error), "error");
	gtk_box_pack_start(GTK_BOX(area), f->error, FALSE, FALSE, 0);

	gtk_widget_show_all(f->dlg);
	gtk_widget_set_visible(f->error, FALSE);
	gtk_widget_grab_focus(f->entry[0]);
}

static void form_destroy(struct pin_form *f)
{
	for (int i = 0; i < 3; i++)
		form_clear(f, i);
	gtk_widget_destroy(f->dlg);
}

bool gui_new_pin_problem(const char *pin, const char *again, char *msg, size_t size)
{
	size_t n = tok_utf8_len(pin);
	if (n < TOK_PIN_MIN || n > TOK_PIN_MAX) {
		snprintf(msg, size, "新密码长度必须为%d–%d个字符（现在是%zu个），请重新输入。",
		         TOK_PIN_MIN, TOK_PIN_MAX, n);
		return true;
	}
	for (const unsigned char *p = (const unsigned char *)pin; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(msg, size, "%s", "新密码含有不允许的控制字符，请重新输入。");
			return true;
		}
	if (strcmp(pin, again) != 0) {
		snprintf(msg, size, "%s", "两次输入的新密码不一致，请重新输入。");
		return true;
	}
	return false;
}

/* The new PIN in entries 1 and 2 by the rules; 0 if acceptable. */
static int check_new(struct pin_form *f, const char *pin, const char *again)
{
	char msg[256];
	if (!gui_new_pin_problem(pin, again, msg, sizeof msg))
		return 0;
	form_clear(f, 1);
	form_clear(f, 2);
	form_error(f, msg, 1);
	return -1;
}

/* What the token's flags say about the retries left: PKCS#11 reports no
 * number, only "count low", "final try" and "locked". */
static const char *retries_text(CK_FLAGS flags, bool so)
{
	if (so) {
		if (flags & CKF_SO_PIN_FINAL_TRY)
			return "剩余重试次数：只剩最后 1 次，再输错一次管理员PIN码将被锁定，"
			       "证书U盘将无法再解锁。";
		if (flags & CKF_SO_PIN_COUNT_LOW)
			return "剩余重试次数：不多了（证书U盘没有报告具体次数），连续输错将锁定管理"
			       "员PIN码。";
		return "剩余重试次数：证书U盘没有报告具体次数，连续输错多次将锁定管理员PIN码。";
	}
	if (flags & CKF_USER_PIN_FINAL_TRY)
		return "剩余重试次数：只剩最后 1 次，再输错一次证书U盘将被锁定。";
	if (flags & CKF_USER_PIN_COUNT_LOW)
		return "剩余重试次数：不多了（证书U盘没有报告具体次数），连续输错将锁定证书U盘。";
	return "剩余重试次数：证书U盘没有报告具体次数，连续输错多次将锁定证书U盘。";
}

static CK_FLAGS token_flags(struct tok_ctx *t)
{
	CK_TOKEN_INFO info;
	return t->f->C_GetTokenInfo(t->slot_id, &info) == CKR_OK ? info.flags : 0;
}

static const char LOCKED_TEXT[] =
    "证书U盘已锁定：密码输错次数过多。密码没有修改。\n"
    "请携带证书U盘联系所在省的数字证书注册机构，由其用管理员PIN码解锁（密码解锁）并设置新密码。";

/* One 确定 of a PIN dialog: check, then ask the token. 1 when done. */
static int submit(struct gui *g, struct pin_form *f, bool unlock)
{
	char first[TOK_PIN_BUF], pin[TOK_PIN_BUF], again[TOK_PIN_BUF];
	g_strlcpy(first, gtk_entry_get_text(GTK_ENTRY(f->entry[0])), sizeof first);
	g_strlcpy(pin, gtk_entry_get_text(GTK_ENTRY(f->entry[1])), sizeof pin);
	g_strlcpy(again, gtk_entry_get_text(GTK_ENTRY(f->entry[2])), sizeof again);
	int done = 0;
	if (first[0] == '\0') {
		form_error(f, unlock ? "请输入管理员PIN码。" : "请输入当前密码。", 0);
		goto out;
	}
	if (check_new(f, pin, again) != 0)
		goto out;
	struct tok_ctx t;
	int rc = gui_open_selected(g, &t);
	if (rc != TOK_EXIT_OK) {
		form_error(f, g->msgs->str, -1);
		goto out;
	}
	rc = unlock ? tok_unlock_pin(&t, first, pin) : tok_change_pin(&t, first, pin);
	CK_FLAGS flags = rc == TOK_EXIT_OK ? 0 : token_flags(&t);
	tok_unload(&t);
	char *msg = NULL;
	switch (rc) {
	case TOK_EXIT_OK:
		done = 1;
		break;
	case TOK_EXIT_PIN_WRONG:
		msg = g_strdup_printf("%s\n%s",
		                      unlock ? "管理员PIN码错误，证书U盘没有解锁。"
		                             : "当前密码错误，密码没有修改。",
		                      retries_text(flags, unlock));
		form_clear(f, 0);
		form_error(f, msg, 0);
		break;
	case TOK_EXIT_PIN_LOCKED:
		form_clear(f, 0);
		form_error(f,
		           unlock ? "管理员PIN码已锁定，该证书U盘无法解锁，请联系证书U盘的制造商。"
		                  : LOCKED_TEXT,
		           0);
		break;
	default:
		form_error(f, g->msgs->str, -1);
		break;
	}
	g_free(msg);
out:
	tok_wipe(first, sizeof first);
	tok_wipe(pin, sizeof pin);
	tok_wipe(again, sizeof again);
	return done;
}

static void run_form(struct gui *g, bool unlock)
{
	static const char *const passwd_labels[] = {"当前密码", "新密码", "确认新密码"};
	static const char *const unlock_labels[] = {"管理员PIN码", "新密码", "确认新密码"};
	struct pin_form f;
	g->busy = true;
	if (unlock)
		form_new(&f, g, "解锁",
		         "解锁由数字证书注册机构操作：输入证书U盘的管理员PIN码（SO PIN），"
		         "为持有者设置新密码（6–16个字符）。",
		         unlock_labels);
	else
		form_new(&f, g, "修改密码", "请输入当前密码和新密码。新密码长度为6–16个字符。",
		         passwd_labels);
	gui_log("打开对话框：%s", unlock ? "解锁" : "修改密码");
	int done = 0;
	while (!done && gtk_dialog_run(GTK_DIALOG(f.dlg)) == GTK_RESPONSE_OK)
		done = submit(g, &f, unlock);
	form_destroy(&f);
	g->busy = false;
	if (done) {
		gui_status(g, false,
		           unlock ? "证书U盘已解锁，已设置新密码。请把新密码告知证书U盘持有者。"
		                  : "密码已修改。以后使用证书U盘时请输入新密码。");
		gtk_style_context_add_class(gtk_widget_get_style_context(g->status), "success");
		gui_rescan(g, true);
	} else {
		gui_log("对话框已取消：%s", unlock ? "解锁" : "修改密码");
	}
}

void gui_passwd(struct gui *g)
{
	if (!g->selected_serial)
		return;
	if (g->selected_flags & CKF_USER_PIN_LOCKED) {
		GtkWidget *m = gtk_message_dialog_new(GTK_WINDOW(g->window), GTK_DIALOG_MODAL,
		                                      GTK_MESSAGE_WARNING, GTK_BUTTONS_OK, "%s",
		                                      "该证书U盘的密码已锁定，不能修改密码");
		gtk_message_dialog_format_secondary_text(
		    GTK_MESSAGE_DIALOG(m), "%s",
		    "密码输错次数过多，证书U盘已锁定。请携带证书U盘联系所在省的数字证书注册机构，"
		    "由其用管理员PIN码解锁（密码解锁）并设置新密码。");
		gtk_window_set_title(GTK_WINDOW(m), "修改密码");
		gui_log("提示：该证书U盘的密码已锁定，不能修改密码");
		g->busy = true;
		gtk_dialog_run(GTK_DIALOG(m));
		gtk_widget_destroy(m);
		g->busy = false;
		return;
	}
	run_form(g, false);
}

void gui_unlock(struct gui *g)
{
	if (g->selected_serial)
		run_form(g, true);
}
