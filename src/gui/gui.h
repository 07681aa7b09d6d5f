/*
 * gui.h - internal interface of esp-token-gui, the desktop window
 * 证书管理工具 (GTK 3) for holders of certificate keys (证书U盘).
 *
 * All PKCS#11 work is the token library's (src/token/token.h); the window
 * loads the module for each operation and unloads it again, so keys that
 * are plugged in or pulled out are seen by the next scan.
 *   gui_main.c   options, the main window, key and certificate lists, hotplug
 *   gui_pin.c    【修改密码】 and 【解锁】 dialogs
 *   gui_cert.c   【查看证书】 and 【导出证书】
 *   gui_online.c 【证书更新】 and 【密码解锁】, the operations that talk to ESP
 *                (as esp-token renew and unlock --remote), on a worker thread
 */
#ifndef ESP_GUI_H
#define ESP_GUI_H

#include <gtk/gtk.h>

#include "token.h"

struct gui {
	GtkWidget *window;
	GtkListStore *keys;
	GtkWidget *keys_view;
	GtkListStore *certs;
	GtkWidget *certs_view;
	GtkWidget *notice; /* under the lists: expiry warnings, locked key */
	GtkWidget *status; /* the outcome of the last action */
	GtkWidget *btn_passwd, *btn_view, *btn_export, *btn_unlock, *btn_renew, *btn_unlock_remote;
	char *module;
	/* ESP's address and its CA for 【证书更新】 and 【密码解锁】 (NULL: unset) */
	char *server, *ca_file;
	char *signature;       /* the inserted keys at the last scan */
	char *selected_serial; /* serial of the selected key, NULL if none */
	CK_FLAGS selected_flags;
	X509 **x509; /* certificates of the selected key */
	size_t nx509;
	bool busy;     /* a dialog is open: no rescans under it */
	GString *msgs; /* the token library's messages of the current action */
};

/* Key list columns. */
enum { KEY_LABEL, KEY_SERIAL, KEY_MANUFACTURER, KEY_STATE, KEY_FLAGS, KEY_NCOLS };
/* Certificate list columns. */
enum {
	CERT_HOLDER,
	CERT_SERIAL,
	CERT_ISSUER,
	CERT_VALIDITY,
	CERT_DAYS,
	CERT_COLOR,
	CERT_INDEX,
	CERT_NCOLS
};

/* gui_main.c */
/* Log a line to stderr ("esp-token-gui: ...") so support can follow what the
 * window showed; never PINs. */
void gui_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Show the outcome of an action under the lists. */
void gui_status(struct gui *g, bool error, const char *text);
/* Load the module and select the selected key. Returns exit code; on
 * failure the library's message is in g->msgs. */
int gui_open_selected(struct gui *g, struct tok_ctx *t);
/* Rescan the keys now (after a PIN change flags may differ). */
void gui_rescan(struct gui *g, bool force);
/* The certificate chosen in the list (or the only user certificate). */
X509 *gui_selected_cert(struct gui *g);
/* The token library's messages to g->msgs again (after a worker had them). */
void gui_restore_sink(struct gui *g);

/* gui_pin.c */
void gui_passwd(struct gui *g);
void gui_unlock(struct gui *g);
/* A new PIN and its repetition by the rules (6–16 characters, no control
 * characters, equal): true and the reason in msg when not acceptable. */
bool gui_new_pin_problem(const char *pin, const char *again, char *msg, size_t size);

/* gui_online.c */
void gui_renew(struct gui *g);
void gui_unlock_remote(struct gui *g);

/* gui_cert.c */
void gui_view_cert(struct gui *g);
void gui_export_cert(struct gui *g);

#endif
