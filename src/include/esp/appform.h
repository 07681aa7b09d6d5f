/*
 * The application form (《单位数字证书申请表》 / 《个人数字证书申请表》) as data,
 * and its PDF rendering with pango + cairo (Noto Sans CJK, subset embedded)
 * and the application number as a QR code (qr.h).
 *
 * The HTML print view is rendered from the same struct by the template engine
 * (see appform_to_json), so both forms always carry the same data.
 */
#ifndef ESP_APPFORM_H
#define ESP_APPFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* All strings UTF-8, borrowed (not owned); NULL means empty. */
struct appform {
	bool personal;             /* true: 个人数字证书申请表 (evaluator) */
	const char *kind;          /* "authority" | "agency" | "enterprise" | "evaluator" */
	const char *number;        /* ESP-2026-000123 */
	const char *business_type; /* 初次办理 | 增加数量 ... */
	const char *date;          /* 申请日期 YYYY-MM-DD */
	/* unit form */
	const char *unit_name, *unit_code, *legal_rep;
	const char *contact_name, *contact_id_number;
	const char *phone, *mobile, *email;
	const char *address, *postcode;
	int keys; /* 证书U盘数量 */
	const char *invoice_title, *taxpayer_id;
	/* personal form */
	const char *person_name, *id_type, *id_number, *work_unit, *department;
	/* amount due in 元 (0 for evaluators) */
	long amount_yuan;
	/* 已撤销: the form says so in its title and across every page, so a
	 * printed copy can never pass for a live application. */
	bool withdrawn;
};

/* Load fonts once at start-up (fontconfig is slow the first time). Thread-safe after. */
void appform_init(void);

/* Render the form as an A4 PDF: two copies (第一联 / 第二联), as on paper.
 * *pdf is malloc'ed (caller frees). Returns 0 on success. */
int appform_pdf(const struct appform *f, unsigned char **pdf, size_t *len);

/* 金额大写 of an amount in whole 元, e.g. 1320 → "壹仟叁佰贰拾元整"; writes at
 * most size bytes including the NUL. Returns 0, or -1 if buf is too small. */
int appform_amount_upper(long yuan, char *buf, size_t size);

/* The same data as JSON for the HTML print view (new reference). Keys are the
 * struct's field names, plus "title" (the form's Chinese title), "seal_label"
 * (申请单位公章 / 部门章 / 本人签字), "qr_svg" and "withdrawn". */
json_t *appform_to_json(const struct appform *f);

#endif
