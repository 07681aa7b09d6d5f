/*
 * The application form as an A4 PDF (pango + cairo, Noto Sans CJK SC embedded
 * as subsets), two identical copies (第一联 / 第二联), and as JSON for the HTML
 * print view (templates/appform_print.html).
 *
 * Threads: Pango objects are not thread-safe, so every render borrows a font
 * map (with its context) from a small pool and gives it back afterwards; a
 * font map is only ever used by one thread at a time. appform_init() builds
 * and warms up the first font maps so no request pays for fontconfig.
 *
 * Fonts and speed: cairo subsets the embedded font anew for every PDF, and for
 * that it copies and parses the font's whole CFF table (about 16 MB in the
 * Noto Sans CJK collection, 65,535 glyphs) and walks its cmap for every glyph
 * used. So appform_init() makes two small copies of Noto Sans CJK SC with
 * harfbuzz's subsetter (fontsubset.c; no subroutines, so cairo's own subset
 * stays small): a regular one with GB 2312 (all 7,445 characters), ASCII,
 * Latin-1 and CJK and full-width punctuation, and a bold one with only the
 * characters of the form's bold (fixed) texts. They live in memory files and make up a private
 * fontconfig configuration used by the "fast" font maps. A form with any
 * character the copies lack (a rare hanzi in a name, say) is drawn again with
 * the system's full fonts: slower, never wrong. When the copies cannot be
 * made (no real bold face, subsetting or memfd failing), every form uses the
 * system fonts.
 */
#include "esp/appform.h"
#include "esp/materials.h"
#include "esp/qr.h"
#include "fontsubset.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <hb.h>
#include <pango/pangocairo.h>
#include <pango/pangofc-fontmap.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FONT_FAMILY "Noto Sans CJK SC"

/* A4 in PDF points (1 pt = 1/72 in). */
#define PAGE_W 595.2756
#define PAGE_H 841.8898
#define MARGIN_X 42.0
#define MARGIN_TOP 28.0
#define MARGIN_BOTTOM 30.0
#define TABLE_X MARGIN_X
#define TABLE_W (PAGE_W - 2 * MARGIN_X)
#define SEC_W 26.0 /* vertical section label column */
#define INNER_X (TABLE_X + SEC_W)
#define INNER_W (TABLE_W - SEC_W)
#define COL_L1 104.0 /* 4-column grid: label, value, label, value */
#define COL_V1 150.0
#define COL_L2 80.0
#define COL_V2 (INNER_W - COL_L1 - COL_V1 - COL_L2)
#define PAD_X 5.0
#define PAD_Y 4.5
#define QR_SIZE 64.0

#define SIZE_TITLE 19.0
#define SIZE_BODY 10.5 /* 五号 */
#define SIZE_SMALL 8.5
#define VALUE_MAX_LINES 6 /* longer values are ellipsized, never overflow */

/* ---------------------------------------------------------------- fonts */

enum font_kind {
	FONTS_FAST, /* the private subset copies (see the top of this file) */
	FONTS_FULL, /* the system's fonts */
};

struct fontmap_entry {
	PangoFontMap *fontmap;
	PangoContext *context;
	enum font_kind kind;
	GHashTable *layouts;     /* struct lay_key * → struct lay_cached *: see lay_set */
	unsigned long n_renders; /* forms rendered with this map */
	struct fontmap_entry *next;
};

enum { POOL_KEEP_MAX = 16 };

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct fontmap_entry *pool_free_list[2];
static int pool_free_count[2];

/* Read-only after init: copied per render before any change. */
static PangoFontDescription *font_base;

/* The subset copies (fontsubset.h); NULL if they could not be made.
 * Read-only after init. */
static struct font_subset *fast;

/* Characters seen while rendering sample forms at init: [0] regular, [1] bold. */
struct collect {
	hb_set_t *set[2];
};

static int render_pdf(struct fontmap_entry *fe, const struct appform *form, struct collect *col,
                      unsigned char **pdf, size_t *len);

static const struct appform warmup_form = {
    .kind = "enterprise",
    .number = "ESP-0000-000000",
    .business_type = "初次办理",
    .date = "2000-01-01",
    .unit_name = "交通运输企业",
    .address = "北京市东城区",
    .keys = 1,
    .amount_yuan = 1,
};

/* Forms whose fixed texts together are all the form can print (the data
 * varies, the labels do not): their characters go into the subset copies. */
static const struct appform collect_forms[] = {
    {.kind = "enterprise",
     .number = "ESP-0000-000000",
     .business_type = "初次办理",
     .date = "2000-01-01",
     .keys = 1,
     .amount_yuan = 1234567890},
    {.kind = "authority",
     .number = "ESP-0000-000000",
     .date = "",
     .amount_yuan = -1,
     .withdrawn = true},
    {.personal = true, .kind = "evaluator", .number = "ESP-0000-000000", .date = "2000-01-01"},
};

/* The harfbuzz face pango uses for the base font at a weight (NULL if none). */
static hb_face_t *system_face(struct fontmap_entry *full, PangoWeight weight)
{
	PangoFontDescription *d = pango_font_description_copy(font_base);
	pango_font_description_set_weight(d, weight);
	pango_font_description_set_absolute_size(d, 10 * PANGO_SCALE);
	PangoFont *font = pango_font_map_load_font(full->fontmap, full->context, d);
	pango_font_description_free(d);
	if (font == NULL)
		return NULL;
	hb_font_t *hb = pango_font_get_hb_font(font);
	hb_face_t *face = hb ? hb_face_reference(hb_font_get_face(hb)) : NULL;
	g_object_unref(font);
	return face;
}

/* Makes the subset copies of the fonts full renders with. NULL on failure. */
static struct font_subset *fast_fonts_new(struct fontmap_entry *full)
{
	struct font_subset *ff = NULL;
	struct collect col = {{hb_set_create(), hb_set_create()}};
	hb_face_t *face[2] = {system_face(full, PANGO_WEIGHT_NORMAL),
	                      system_face(full, PANGO_WEIGHT_BOLD)};
	/* No real bold face (pango would embolden the regular one): keep to the
	 * system fonts, which do that. */
	if (face[0] == NULL || face[1] == NULL || font_same_face(face[0], face[1]))
		goto out;

	/* The characters of the fixed texts, as the form really draws them. */
	for (size_t i = 0; i < sizeof(collect_forms) / sizeof(collect_forms[0]); i++) {
		unsigned char *pdf = NULL;
		size_t len = 0;
		if (render_pdf(full, &collect_forms[i], &col, &pdf, &len) == 0)
			free(pdf);
	}
	ff = font_subset_new(face, col.set);
out:
	hb_face_destroy(face[0]);
	hb_face_destroy(face[1]);
	hb_set_destroy(col.set[0]);
	hb_set_destroy(col.set[1]);
	return ff;
}

/* Whether the fast font map e really draws with the subset copies. */
static bool fast_fonts_check(struct fontmap_entry *e)
{
	hb_face_t *face[2] = {system_face(e, PANGO_WEIGHT_NORMAL),
	                      system_face(e, PANGO_WEIGHT_BOLD)};
	bool ok = face[0] != NULL && face[1] != NULL && !font_same_face(face[0], face[1]) &&
	          hb_face_get_glyph_count(face[0]) < 30000 &&
	          hb_face_get_glyph_count(face[1]) < 30000;
	hb_face_destroy(face[0]);
	hb_face_destroy(face[1]);
	return ok;
}

/* The layout cache of a font map: most texts of a form (its labels) are the
 * same in every form, and every text is laid out three times per form (to
 * measure, then on each page). A layout is kept until it has not been used
 * for LAYOUT_KEEP_RENDERS forms, once the cache holds more than LAYOUT_CACHE_MIN. */
enum { LAYOUT_CACHE_MIN = 256, LAYOUT_KEEP_RENDERS = 8 };

struct lay_key {
	int size, width, max_lines, flags; /* size and width in Pango units */
	char text[];
};

struct lay_cached {
	PangoLayout *layout;
	unsigned long used; /* n_renders of the font map when last used */
	bool covered[2];    /* text in the regular / bold subset copy */
};

static guint lay_key_hash(gconstpointer p)
{
	const struct lay_key *k = p;
	guint h = g_str_hash(k->text);
	h = h * 31u + (guint)k->size;
	h = h * 31u + (guint)k->width;
	h = h * 31u + (guint)k->max_lines;
	return h * 31u + (guint)k->flags;
}

static gboolean lay_key_equal(gconstpointer a, gconstpointer b)
{
	const struct lay_key *x = a, *y = b;
	return x->size == y->size && x->width == y->width && x->max_lines == y->max_lines &&
	       x->flags == y->flags && strcmp(x->text, y->text) == 0;
}

static void lay_cached_free(gpointer p)
{
	struct lay_cached *c = p;
	g_object_unref(c->layout);
	free(c);
}

static GHashTable *layout_cache_new(void)
{
	return g_hash_table_new_full(lay_key_hash, lay_key_equal, free, lay_cached_free);
}

static gboolean lay_cached_stale(gpointer key, gpointer value, gpointer user_data)
{
	(void)key;
	const struct lay_cached *c = value;
	unsigned long now = *(const unsigned long *)user_data;
	return c->used + LAYOUT_KEEP_RENDERS < now;
}

/* After a form: forget the layouts of texts no recent form had. */
static void layout_cache_trim(struct fontmap_entry *fe)
{
	if (g_hash_table_size(fe->layouts) > LAYOUT_CACHE_MIN)
		g_hash_table_foreach_remove(fe->layouts, lay_cached_stale, &fe->n_renders);
}

static struct fontmap_entry *fontmap_entry_new(enum font_kind kind)
{
	struct fontmap_entry *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->kind = kind;
	e->fontmap = pango_cairo_font_map_new_for_font_type(CAIRO_FONT_TYPE_FT);
	if (e->fontmap == NULL)
		e->fontmap = pango_cairo_font_map_new();
	/* The subset copies: a font map that is not fontconfig's keeps the system
	 * fonts, and fast_fonts_check then finds it out. */
	if (kind == FONTS_FAST && PANGO_IS_FC_FONT_MAP(e->fontmap))
		pango_fc_font_map_set_config(PANGO_FC_FONT_MAP(e->fontmap), fast->config);
	e->context = pango_font_map_create_context(e->fontmap);
	e->layouts = layout_cache_new();
	pango_cairo_context_set_resolution(e->context, 72.0); /* 1 pt = 1 unit */
	pango_context_set_language(e->context, pango_language_from_string("zh-cn"));
	cairo_font_options_t *fo = cairo_font_options_create();
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	pango_cairo_context_set_font_options(e->context, fo);
	cairo_font_options_destroy(fo);

	/* Warm up: the first PDF made with a font map costs ~10× a later one
	 * (faces, shaping and subsetting caches); pay it here, not in a request. */
	unsigned char *pdf = NULL;
	size_t len = 0;
	if (render_pdf(e, &warmup_form, NULL, &pdf, &len) == 0)
		free(pdf);
	return e;
}

static void fontmap_entry_free(struct fontmap_entry *e)
{
	if (e == NULL)
		return;
	g_hash_table_destroy(e->layouts);
	g_object_unref(e->context);
	g_object_unref(e->fontmap);
	free(e);
}

static void pool_give(struct fontmap_entry *e)
{
	pthread_mutex_lock(&pool_mutex);
	if (pool_free_count[e->kind] < POOL_KEEP_MAX) {
		e->next = pool_free_list[e->kind];
		pool_free_list[e->kind] = e;
		pool_free_count[e->kind]++;
		e = NULL;
	}
	pthread_mutex_unlock(&pool_mutex);
	fontmap_entry_free(e);
}

static struct fontmap_entry *pool_take(enum font_kind kind)
{
	pthread_mutex_lock(&pool_mutex);
	struct fontmap_entry *e = pool_free_list[kind];
	if (e != NULL) {
		pool_free_list[kind] = e->next;
		pool_free_count[kind]--;
		e->next = NULL;
	}
	pthread_mutex_unlock(&pool_mutex);
	if (e == NULL) /* more renders at once than ever before: one more map */
		e = fontmap_entry_new(kind);
	return e;
}

static void appform_init_once(void)
{
	font_base = pango_font_description_new();
	pango_font_description_set_family_static(font_base, FONT_FAMILY);
	struct fontmap_entry *full = fontmap_entry_new(FONTS_FULL);
	if (full == NULL)
		return;
	fast = fast_fonts_new(full);
	pool_give(full); /* kept for forms the subset copies cannot print */
	if (fast != NULL) {
		struct fontmap_entry *e = fontmap_entry_new(FONTS_FAST);
		if (e == NULL || !fast_fonts_check(e)) {
			fontmap_entry_free(e);
			font_subset_free(fast);
			fast = NULL;
		} else {
			pool_give(e);
		}
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int n = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
	for (int i = 1; i < n; i++) {
		struct fontmap_entry *e = fontmap_entry_new(fast != NULL ? FONTS_FAST : FONTS_FULL);
		if (e != NULL)
			pool_give(e);
	}
}

void appform_init(void)
{
	pthread_once(&init_once, appform_init_once);
}

/* ---------------------------------------------------------------- text */

static const char *const business_types[] = {
    "初次办理", "增加数量", "更新", "信息变更", "丢失补办", "密码解锁", "损坏补办", "吊销",
};
enum { N_BUSINESS_TYPES = sizeof(business_types) / sizeof(business_types[0]) };

static bool business_type_matches(const char *chosen, const char *name)
{
	if (chosen == NULL)
		return false;
	if (strcmp(chosen, name) == 0)
		return true;
	/* 增加数量 is also called 再次申请. */
	return strcmp(name, "增加数量") == 0 &&
	       (strcmp(chosen, "再次申请") == 0 || strcmp(chosen, "增加数量（再次申请）") == 0);
}

static const char *form_title(const struct appform *f)
{
	if (f->withdrawn)
		return f->personal ? "个人数字证书申请表（已撤销）"
		                   : "单位数字证书申请表（已撤销）";
	return f->personal ? "个人数字证书申请表" : "单位数字证书申请表";
}

#define WITHDRAWN_MARK "已撤销　作废"

static const char *seal_label(const struct appform *f)
{
	if (f->personal)
		return "本人签字";
	if (f->kind != NULL && strcmp(f->kind, "authority") == 0)
		return "部门章";
	return "申请单位公章";
}

int appform_amount_upper(long yuan, char *buf, size_t size)
{
	static const char *const digit[] = {"零", "壹", "贰", "叁", "肆",
	                                    "伍", "陆", "柒", "捌", "玖"};
	static const char *const unit[] = {"", "拾", "佰", "仟"};
	static const char *const group_unit[] = {"", "万", "亿", "万亿"};
	char out[256] = "";
	unsigned long long v;

	if (yuan < 0) {
		strcat(out, "负");
		v = (unsigned long long)(-(yuan + 1)) + 1u;
	} else {
		v = (unsigned long long)yuan;
	}
	if (v >= 10000000000000000ull) /* beyond 万亿 groups: not an amount we print */
		return -1;
	if (v == 0) {
		strcat(out, "零");
	} else {
		int groups[4];
		for (int g = 0; g < 4; g++) {
			groups[g] = (int)(v % 10000u);
			v /= 10000u;
		}
		bool started = false, zero_pending = false;
		for (int g = 3; g >= 0; g--) {
			int gv = groups[g];
			if (gv == 0) {
				if (started)
					zero_pending = true;
				continue;
			}
			int pow10[4] = {1, 10, 100, 1000};
			for (int p = 3; p >= 0; p--) {
				int d = gv / pow10[p] % 10;
				if (d == 0) {
					if (started)
						zero_pending = true;
					continue;
				}
				if (zero_pending)
					strcat(out, "零");
				zero_pending = false;
				strcat(out, digit[d]);
				strcat(out, unit[p]);
				started = true;
			}
			strcat(out, group_unit[g]);
		}
	}
	strcat(out, "元整");
	size_t n = strlen(out);
	if (n + 1 > size)
		return -1;
	memcpy(buf, out, n + 1);
	return 0;
}

static void format_amount(const struct appform *f, char *buf, size_t size)
{
	char upper[200];
	if (appform_amount_upper(f->amount_yuan, upper, sizeof(upper)) != 0)
		upper[0] = '\0';
	snprintf(buf, size, "%ld 元（大写：%s）", f->amount_yuan, upper);
}

/* "2026-01-05" → "2026 年 1 月 5 日"; an empty date leaves room to write it. */
static void format_date(const char *date, char *buf, size_t size)
{
	int y, m, d;
	char tail;
	if (date != NULL && sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && m >= 1 &&
	    m <= 12 && d >= 1 && d <= 31)
		snprintf(buf, size, "%d 年 %d 月 %d 日", y, m, d);
	else if (date != NULL && date[0] != '\0')
		snprintf(buf, size, "%s", date);
	else
		snprintf(buf, size, "　　　年　　月　　日");
}

/* ---------------------------------------------------------------- table model */

enum cell_style {
	ST_LABEL, /* centered field name */
	ST_VALUE, /* left aligned, wrapped, at most VALUE_MAX_LINES */
	ST_PARA,  /* paragraph with first-line indent */
	ST_NOTE,  /* small centered note on gray */
	ST_SIGN,  /* label top left, room to sign, foot at bottom right */
};

struct cell {
	double w;
	const char *text;
	const char *foot;
	enum cell_style st;
};

enum row_kind { ROW_CELLS, ROW_BUSINESS };

struct row {
	enum row_kind kind;
	int n;
	struct cell c[4];
	double min_h;
	double h; /* computed */
};

enum { MAX_ROWS = 10, MAX_SECTIONS = 6 };

struct section {
	const char *label;
	double row_min_h; /* of the field rows */
	int n;
	struct row rows[MAX_ROWS];
	double h; /* computed */
};

struct form_model {
	int n;
	struct section sec[MAX_SECTIONS];
	double row_min_h; /* of the field rows: taller on the shorter personal form */
	const char *business_type;
	/* storage for formatted strings referenced by cells */
	char amount[256], date[64], keys[32];
};

struct render {
	cairo_t *cr;
	PangoContext *context;
	GHashTable *layouts;  /* the font map's layout cache */
	unsigned long serial; /* the font map's n_renders for this form */
	PangoLayout *lay;     /* the current text's, borrowed from layouts */
	PangoFontDescription *fd;
	PangoAttrList *attrs_plain;   /* no font fallback: only Noto Sans CJK SC */
	PangoAttrList *attrs_title;   /* the same plus letter spacing */
	double scale;                 /* < 1 when a form needs shrinking to fit */
	const struct font_subset *ff; /* the subset copies in use, or NULL */
	struct collect *col;          /* characters drawn go here (init only), or NULL */
	bool missing;                 /* a text has characters the subset copies lack */
	cairo_surface_t *qr;          /* the QR code image, or NULL */
};

static struct section *add_section(struct form_model *m, const char *label)
{
	struct section *s = &m->sec[m->n++];
	memset(s, 0, sizeof(*s));
	s->label = label;
	s->row_min_h = m->row_min_h;
	return s;
}

static struct row *add_row(struct section *s, double min_h)
{
	struct row *r = &s->rows[s->n++];
	memset(r, 0, sizeof(*r));
	r->kind = ROW_CELLS;
	r->min_h = min_h;
	return r;
}

static void add_cell(struct row *r, double w, const char *text, enum cell_style st)
{
	r->c[r->n++] = (struct cell){.w = w, .text = text ? text : "", .st = st};
}

static void row_full(struct section *s, const char *label, const char *value)
{
	struct row *r = add_row(s, s->row_min_h);
	add_cell(r, COL_L1, label, ST_LABEL);
	add_cell(r, INNER_W - COL_L1, value, ST_VALUE);
}

static void row_pair(struct section *s, const char *l1, const char *v1, const char *l2,
                     const char *v2)
{
	struct row *r = add_row(s, s->row_min_h);
	add_cell(r, COL_L1, l1, ST_LABEL);
	add_cell(r, COL_V1, v1, ST_VALUE);
	add_cell(r, COL_L2, l2, ST_LABEL);
	add_cell(r, COL_V2, v2, ST_VALUE);
}

/* A pair whose second value is short (邮政编码, 证书U盘数量): the first gets the room. */
static void row_pair_wide(struct section *s, const char *l1, const char *v1, const char *l2,
                          const char *v2, double v2_w)
{
	struct row *r = add_row(s, s->row_min_h);
	add_cell(r, COL_L1, l1, ST_LABEL);
	add_cell(r, INNER_W - COL_L1 - COL_L2 - v2_w, v1, ST_VALUE);
	add_cell(r, COL_L2, l2, ST_LABEL);
	add_cell(r, v2_w, v2, ST_VALUE);
}

static void section_business(struct form_model *m, const struct appform *f)
{
	struct section *s = add_section(m, "业务类型");
	struct row *r = add_row(s, 26);
	r->kind = ROW_BUSINESS;
	m->business_type = f->business_type;
}

static void section_ra(struct form_model *m)
{
	struct section *s = add_section(m, "受理审批");
	struct row *r = add_row(s, 18);
	add_cell(r, INNER_W, "受理审批（由数字证书注册机构填写）", ST_NOTE);
	r = add_row(s, 40);
	add_cell(r, COL_L1, "证书U盘序列号", ST_LABEL);
	add_cell(r, INNER_W - COL_L1, "", ST_VALUE);
	r = add_row(s, 78);
	add_cell(r, INNER_W * 0.3, "经办人签字：", ST_SIGN);
	add_cell(r, INNER_W * 0.4, "注册机构盖章：", ST_SIGN);
	add_cell(r, INNER_W - INNER_W * 0.7, "日期：", ST_SIGN);
	r->c[2].foot = "　　　年　　月　　日";
}

static void build_model(struct form_model *m, const struct appform *f)
{
	memset(m, 0, sizeof(*m));
	m->row_min_h = f->personal ? 34 : 26;
	format_amount(f, m->amount, sizeof(m->amount));
	format_date(f->date, m->date, sizeof(m->date));
	if (f->keys > 0)
		snprintf(m->keys, sizeof(m->keys), "%d 个", f->keys);

	section_business(m, f);
	struct section *s;
	struct row *r;
	if (!f->personal) {
		s = add_section(m, "申请单位信息");
		row_full(s, "单位名称", f->unit_name);
		row_full(s, "统一社会信用代码（组织机构代码）", f->unit_code);
		row_pair_wide(s, "通信地址", f->address, "邮政编码", f->postcode, 72);
		row_pair(s, "法定代表人", f->legal_rep, "单位电话", f->phone);
		row_pair(s, "经办人姓名", f->contact_name, "经办人手机", f->mobile);
		row_pair(s, "经办人身份证号码", f->contact_id_number, "电子邮箱", f->email);
		row_pair_wide(s, "应付金额", m->amount, "证书U盘数量", m->keys, 72);

		s = add_section(m, "发票");
		row_full(s, "发票抬头", f->invoice_title);
		row_full(s, "纳税人识别号", f->taxpayer_id);

		s = add_section(m, "申请单位承诺");
		r = add_row(s, 26);
		add_cell(r, INNER_W, "本单位承诺所填信息真实有效，并同意遵守数字证书服务协议。",
		         ST_PARA);
		r = add_row(s, 92);
		add_cell(r, INNER_W * 0.3, "经办人签名：", ST_SIGN);
		add_cell(r, INNER_W * 0.4,
		         f->kind && strcmp(f->kind, "authority") == 0 ? "部门章："
		                                                      : "申请单位公章：",
		         ST_SIGN);
		add_cell(r, INNER_W - INNER_W * 0.7, "申请日期：", ST_SIGN);
		r->c[2].foot = m->date;
	} else {
		s = add_section(m, "申请人信息");
		row_pair(s, "姓名", f->person_name, "证件类型", f->id_type);
		row_pair(s, "证件号码", f->id_number, "手机号码", f->mobile ? f->mobile : f->phone);
		row_pair_wide(s, "通信地址", f->address, "邮政编码", f->postcode, 72);
		row_full(s, "工作单位", f->work_unit);
		row_pair(s, "所属部门", f->department, "电子邮箱", f->email);

		s = add_section(m, "申请人承诺");
		r = add_row(s, 26);
		add_cell(r, INNER_W, "本人承诺所填信息真实有效，并同意遵守数字证书服务协议。",
		         ST_PARA);
		r = add_row(s, 100);
		add_cell(r, INNER_W * 0.5, "申请人签字：", ST_SIGN);
		add_cell(r, INNER_W * 0.5, "日期：", ST_SIGN);
		r->c[1].foot = m->date;
	}
	section_ra(m);
}

/* ---------------------------------------------------------------- layout helpers */

enum {
	LAY_BOLD = 1,
	LAY_CENTER = 2,
	LAY_RIGHT = 4,
	LAY_TITLE = 8,
	LAY_INDENT = 16,
	LAY_CHARWRAP = 32, /* break anywhere (default: between words if it can) */
};

/* Set the shared layout up for text; width <= 0: no wrapping. */
/* Makes r->lay the layout of text (from the font map's cache or new);
 * width <= 0: no wrapping. */
static void lay_set(struct render *r, const char *text, double size, int flags, double width,
                    int max_lines)
{
	double sz = size * r->scale;
	if (text == NULL)
		text = "";
	int bold = (flags & LAY_BOLD) != 0;
	if (r->col != NULL)
		font_collect_text(r->col->set[bold], text);

	size_t n = strlen(text);
	struct lay_key *key = malloc(sizeof(*key) + n + 1);
	if (key == NULL)
		abort(); /* as glib does when out of memory */
	key->size = pango_units_from_double(sz);
	key->width = width > 0 ? pango_units_from_double(width) : -1;
	key->max_lines = max_lines;
	key->flags = flags;
	memcpy(key->text, text, n + 1);
	struct lay_cached *c = g_hash_table_lookup(r->layouts, key);
	if (c != NULL) {
		free(key);
	} else {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			abort();
		if (r->ff != NULL) {
			c->covered[0] = font_coverage_has_text(&r->ff->cover[0], text);
			c->covered[1] = font_coverage_has_text(&r->ff->cover[1], text);
		}
		PangoLayout *lay = c->layout = pango_layout_new(r->context);
		pango_font_description_set_weight(r->fd,
		                                  bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
		pango_font_description_set_absolute_size(r->fd, key->size);
		pango_layout_set_font_description(lay, r->fd);
		pango_layout_set_attributes(lay,
		                            (flags & LAY_TITLE) ? r->attrs_title : r->attrs_plain);
		pango_layout_set_width(lay, key->width);
		pango_layout_set_wrap(lay, (flags & LAY_CHARWRAP) ? PANGO_WRAP_CHAR
		                                                  : PANGO_WRAP_WORD_CHAR);
		pango_layout_set_indent(lay,
		                        (flags & LAY_INDENT) ? pango_units_from_double(2 * sz) : 0);
		pango_layout_set_alignment(lay, (flags & LAY_CENTER)  ? PANGO_ALIGN_CENTER
		                                : (flags & LAY_RIGHT) ? PANGO_ALIGN_RIGHT
		                                                      : PANGO_ALIGN_LEFT);
		if (max_lines > 0) {
			pango_layout_set_height(lay, -max_lines);
			pango_layout_set_ellipsize(lay, PANGO_ELLIPSIZE_END);
		}
		pango_layout_set_text(lay, text, (int)n);
		g_hash_table_insert(r->layouts, key, c);
	}
	c->used = r->serial;
	if (r->ff != NULL && !c->covered[bold])
		r->missing = true;
	r->lay = c->layout;
}

static double lay_height(struct render *r)
{
	int w, h;
	pango_layout_get_size(r->lay, &w, &h);
	return pango_units_to_double(h);
}

static double lay_width(struct render *r)
{
	int w, h;
	pango_layout_get_size(r->lay, &w, &h);
	return pango_units_to_double(w);
}

static void lay_show(struct render *r, double x, double y)
{
	cairo_move_to(r->cr, x, y);
	pango_cairo_show_layout(r->cr, r->lay);
}

static double text_line_height(struct render *r, double size)
{
	lay_set(r, "国", size, 0, 0, 0);
	return lay_height(r);
}

/* ---------------------------------------------------------------- measuring */

static double cell_height(struct render *r, const struct cell *c)
{
	double inner = c->w - 2 * PAD_X;
	switch (c->st) {
	case ST_LABEL:
		lay_set(r, c->text, SIZE_BODY, LAY_CENTER, inner, 3);
		return lay_height(r) + 2 * PAD_Y;
	case ST_VALUE:
		lay_set(r, c->text, SIZE_BODY, 0, inner, VALUE_MAX_LINES);
		return lay_height(r) + 2 * PAD_Y;
	case ST_PARA:
		lay_set(r, c->text, SIZE_BODY, LAY_INDENT, inner, 0);
		return lay_height(r) + 2 * PAD_Y;
	case ST_NOTE:
		lay_set(r, c->text, SIZE_BODY, LAY_CENTER | LAY_BOLD, inner, 0);
		return lay_height(r) + 2 * 2.5;
	case ST_SIGN: {
		lay_set(r, c->text, SIZE_BODY, 0, inner, 0);
		double h = lay_height(r);
		if (c->foot != NULL) {
			lay_set(r, c->foot, SIZE_BODY, LAY_RIGHT, inner, 0);
			h += lay_height(r) + 6;
		}
		return h + 2 * PAD_Y;
	}
	}
	return 0;
}

static double row_measure(struct render *r, struct row *row)
{
	double h = row->min_h * r->scale;
	if (row->kind == ROW_BUSINESS) {
		double lh = text_line_height(r, SIZE_BODY);
		double bh = 2 * lh + 6 + 2 * PAD_Y;
		return row->h = h > bh ? h : bh;
	}
	for (int i = 0; i < row->n; i++) {
		double ch = cell_height(r, &row->c[i]);
		if (ch > h)
			h = ch;
	}
	return row->h = h;
}

static void section_label_layout(struct render *r, const char *label)
{
	/* One character per line: width of one glyph, char wrapping. */
	lay_set(r, label, SIZE_BODY, LAY_BOLD | LAY_CENTER | LAY_CHARWRAP,
	        SIZE_BODY * r->scale * 1.3, 0);
}

static double model_measure(struct render *r, struct form_model *m)
{
	double total = 0;
	for (int i = 0; i < m->n; i++) {
		struct section *s = &m->sec[i];
		double h = 0;
		for (int j = 0; j < s->n; j++)
			h += row_measure(r, &s->rows[j]);
		section_label_layout(r, s->label);
		double need = lay_height(r) + 2 * PAD_Y;
		if (h < need) { /* grow the last row so the label fits */
			s->rows[s->n - 1].h += need - h;
			h = need;
		}
		s->h = h;
		total += h;
	}
	return total;
}

/* ---------------------------------------------------------------- drawing */

static void stroke_rect(cairo_t *cr, double x, double y, double w, double h, double lw)
{
	cairo_set_line_width(cr, lw);
	cairo_rectangle(cr, x, y, w, h);
	cairo_stroke(cr);
}

static void draw_checkbox(cairo_t *cr, double x, double y, double s, bool checked)
{
	cairo_set_line_width(cr, 0.8);
	cairo_rectangle(cr, x, y, s, s);
	cairo_stroke(cr);
	if (checked) {
		cairo_set_line_width(cr, 1.4);
		cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
		cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
		cairo_move_to(cr, x + s * 0.18, y + s * 0.52);
		cairo_line_to(cr, x + s * 0.42, y + s * 0.78);
		cairo_line_to(cr, x + s * 0.86, y + s * 0.2);
		cairo_stroke(cr);
		cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
		cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
	}
}

static void draw_business_row(struct render *r, const struct form_model *m, double x, double y,
                              double h)
{
	double lh = text_line_height(r, SIZE_BODY);
	double col_w = INNER_W / 4;
	double block = 2 * lh + 6;
	double y0 = y + (h - block) / 2;
	double box = SIZE_BODY * r->scale * 0.9;
	stroke_rect(r->cr, x, y, INNER_W, h, 0.6);
	for (int i = 0; i < N_BUSINESS_TYPES; i++) {
		double cx = x + (i % 4) * col_w + 3 * PAD_X;
		double cy = y0 + (i / 4) * (lh + 6);
		draw_checkbox(r->cr, cx, cy + (lh - box) / 2, box,
		              business_type_matches(m->business_type, business_types[i]));
		lay_set(r, business_types[i], SIZE_BODY, 0, 0, 0);
		lay_show(r, cx + box + 5, cy);
	}
}

static void draw_cell(struct render *r, const struct cell *c, double x, double y, double h)
{
	double inner = c->w - 2 * PAD_X;
	if (c->st == ST_NOTE) {
		cairo_set_source_rgb(r->cr, 0.92, 0.92, 0.92);
		cairo_rectangle(r->cr, x, y, c->w, h);
		cairo_fill(r->cr);
		cairo_set_source_rgb(r->cr, 0, 0, 0);
	}
	stroke_rect(r->cr, x, y, c->w, h, 0.6);
	switch (c->st) {
	case ST_LABEL:
		lay_set(r, c->text, SIZE_BODY, LAY_CENTER, inner, 3);
		lay_show(r, x + PAD_X, y + (h - lay_height(r)) / 2);
		break;
	case ST_VALUE:
		lay_set(r, c->text, SIZE_BODY, 0, inner, VALUE_MAX_LINES);
		lay_show(r, x + PAD_X, y + (h - lay_height(r)) / 2);
		break;
	case ST_PARA:
		lay_set(r, c->text, SIZE_BODY, LAY_INDENT, inner, 0);
		lay_show(r, x + PAD_X, y + (h - lay_height(r)) / 2);
		break;
	case ST_NOTE:
		lay_set(r, c->text, SIZE_BODY, LAY_CENTER | LAY_BOLD, inner, 0);
		lay_show(r, x + PAD_X, y + (h - lay_height(r)) / 2);
		break;
	case ST_SIGN:
		lay_set(r, c->text, SIZE_BODY, 0, inner, 0);
		lay_show(r, x + PAD_X, y + PAD_Y);
		if (c->foot != NULL) {
			lay_set(r, c->foot, SIZE_BODY, LAY_RIGHT, inner, 0);
			lay_show(r, x + PAD_X, y + h - PAD_Y - lay_height(r));
		}
		break;
	}
}

static double draw_table(struct render *r, const struct form_model *m, double y)
{
	double y_top = y;
	for (int i = 0; i < m->n; i++) {
		const struct section *s = &m->sec[i];
		double ys = y;
		for (int j = 0; j < s->n; j++) {
			const struct row *row = &s->rows[j];
			if (row->kind == ROW_BUSINESS) {
				draw_business_row(r, m, INNER_X, y, row->h);
			} else {
				double x = INNER_X;
				for (int k = 0; k < row->n; k++) {
					draw_cell(r, &row->c[k], x, y, row->h);
					x += row->c[k].w;
				}
			}
			y += row->h;
		}
		stroke_rect(r->cr, TABLE_X, ys, SEC_W, s->h, 0.6);
		section_label_layout(r, s->label);
		lay_show(r, TABLE_X + (SEC_W - SIZE_BODY * r->scale * 1.3) / 2,
		         ys + (s->h - lay_height(r)) / 2);
	}
	stroke_rect(r->cr, TABLE_X, y_top, TABLE_W, y - y_top, 1.3);
	return y;
}

/* The QR code as an image, QR_PX pixels a module, black on white (NULL if
 * the text has none). One image object serves both pages of the PDF, and
 * it is far smaller and quicker to write than a path of ~170 rectangles. */
enum { QR_PX = 4 };

static cairo_surface_t *qr_image(const char *text)
{
	int w = 0;
	unsigned char *mods = qr_matrix(text, &w);
	if (mods == NULL)
		return NULL;
	cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w * QR_PX, w * QR_PX);
	if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(img);
		free(mods);
		return NULL;
	}
	cairo_surface_flush(img);
	unsigned char *data = cairo_image_surface_get_data(img);
	int stride = cairo_image_surface_get_stride(img);
	for (int y = 0; y < w * QR_PX; y++) {
		uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * stride);
		for (int x = 0; x < w * QR_PX; x++)
			row[x] = mods[(y / QR_PX) * w + x / QR_PX] ? 0x000000 : 0xffffff;
	}
	cairo_surface_mark_dirty(img);
	free(mods);
	return img;
}

static void draw_qr(cairo_t *cr, cairo_surface_t *img, double x, double y, double size)
{
	if (img == NULL)
		return;
	double px = cairo_image_surface_get_width(img);
	cairo_save(cr);
	cairo_translate(cr, x, y);
	cairo_scale(cr, size / px, size / px);
	cairo_set_source_surface(cr, img, 0, 0);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
	cairo_paint(cr);
	cairo_restore(cr);
}

static const char *const copy_numbers[2] = {"第一联", "第二联"};

/* Who keeps each copy: the materials table's row for the kind (an evaluator's
 * first copy goes to the training institution, not the RA). */
static const char *copy_keeper(const struct appform *f, int copy)
{
	const struct materials *m = materials_of_name(f->kind);
	if (m == NULL)
		m = materials_of(f->personal ? KIND_EVALUATOR : KIND_ENTERPRISE);
	return copy == 0 ? m->first_copy : m->second_copy;
}

/* The 填表说明 of the kind, from the same table (malloc'ed). */
static char *form_notes(const struct appform *f)
{
	enum reg_kind k = f->kind ? kind_parse(f->kind) : KIND_NONE;
	if (k == KIND_NONE)
		k = f->personal ? KIND_EVALUATOR : KIND_ENTERPRISE;
	return materials_form_notes(k);
}

static double draw_header(struct render *r, const struct appform *f, int copy, bool draw)
{
	char buf[512];
	cairo_t *cr = r->cr;

	if (draw) {
		snprintf(buf, sizeof(buf), "%s　%s", copy_numbers[copy], copy_keeper(f, copy));
		lay_set(r, buf, SIZE_BODY, LAY_BOLD, 0, 0);
		double label_w = lay_width(r) + 2 * PAD_X, label_h = lay_height(r) + 4;
		stroke_rect(cr, MARGIN_X, MARGIN_TOP, label_w, label_h, 0.8);
		lay_show(r, MARGIN_X + PAD_X, MARGIN_TOP + 2);
		draw_qr(cr, r->qr, PAGE_W - MARGIN_X - QR_SIZE, MARGIN_TOP, QR_SIZE);
	}

	lay_set(r, form_title(f), SIZE_TITLE, LAY_BOLD | LAY_TITLE | LAY_CENTER, TABLE_W, 0);
	if (draw)
		lay_show(r, MARGIN_X, MARGIN_TOP + 18);
	double y = MARGIN_TOP + 18 + lay_height(r) + 2;

	snprintf(buf, sizeof(buf), "申请编号：%s", f->number ? f->number : "");
	lay_set(r, buf, SIZE_BODY, 0, TABLE_W - QR_SIZE - 10, 1);
	double ny = MARGIN_TOP + QR_SIZE - lay_height(r);
	if (ny < y)
		ny = y;
	if (draw)
		lay_show(r, MARGIN_X, ny);
	return ny + lay_height(r) + 6;
}

/* Across the middle of the page, under nothing that must stay legible:
 * drawn after the table, in a light red. */
static void draw_withdrawn_mark(struct render *r)
{
	cairo_t *cr = r->cr;
	cairo_save(cr);
	cairo_set_source_rgba(cr, 0.75, 0.1, 0.1, 0.28);
	cairo_translate(cr, PAGE_W / 2, PAGE_H / 2);
	cairo_rotate(cr, -0.55);
	lay_set(r, WITHDRAWN_MARK, 64, LAY_BOLD, 0, 0);
	lay_show(r, -lay_width(r) / 2, -lay_height(r) / 2);
	cairo_restore(cr);
}

static double notes_measure_or_draw(struct render *r, const struct appform *f, double y, bool draw)
{
	char *text = form_notes(f);
	lay_set(r, text, SIZE_SMALL, 0, TABLE_W, 0);
	free(text);
	if (draw)
		lay_show(r, MARGIN_X, y);
	return lay_height(r);
}

/* ---------------------------------------------------------------- PDF output */

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static cairo_status_t membuf_write(void *closure, const unsigned char *data, unsigned int length)
{
	struct membuf *b = closure;
	if (length > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		while (cap - b->len < length) {
			if (cap > ((size_t)-1) / 2)
				return CAIRO_STATUS_WRITE_ERROR;
			cap *= 2;
		}
		unsigned char *p = realloc(b->p, cap);
		if (p == NULL)
			return CAIRO_STATUS_WRITE_ERROR;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, length);
	b->len += length;
	return CAIRO_STATUS_SUCCESS;
}

/* Copy of f whose strings are all valid UTF-8 (Pango rejects invalid text). */
struct clean_form {
	struct appform f;
	char *owned[32];
	int n_owned;
};

static void clean_str(struct clean_form *c, const char **s)
{
	if (*s == NULL || g_utf8_validate(*s, -1, NULL))
		return;
	if (c->n_owned >= (int)(sizeof(c->owned) / sizeof(c->owned[0]))) {
		*s = "";
		return;
	}
	char *v = g_utf8_make_valid(*s, -1);
	c->owned[c->n_owned++] = v;
	*s = v;
}

static void clean_form_init(struct clean_form *c, const struct appform *f)
{
	memset(c, 0, sizeof(*c));
	c->f = *f;
	const char **fields[] = {
	    &c->f.kind,        &c->f.number,       &c->f.business_type,
	    &c->f.date,        &c->f.unit_name,    &c->f.unit_code,
	    &c->f.legal_rep,   &c->f.contact_name, &c->f.contact_id_number,
	    &c->f.phone,       &c->f.mobile,       &c->f.email,
	    &c->f.address,     &c->f.postcode,     &c->f.invoice_title,
	    &c->f.taxpayer_id, &c->f.person_name,  &c->f.id_type,
	    &c->f.id_number,   &c->f.work_unit,    &c->f.department,
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		clean_str(c, fields[i]);
}

static void clean_form_free(struct clean_form *c)
{
	for (int i = 0; i < c->n_owned; i++)
		g_free(c->owned[i]);
}

int appform_pdf(const struct appform *form, unsigned char **pdf, size_t *len)
{
	if (form == NULL || pdf == NULL || len == NULL)
		return -1;
	*pdf = NULL;
	*len = 0;
	appform_init();
	struct fontmap_entry *fe = pool_take(fast != NULL ? FONTS_FAST : FONTS_FULL);
	if (fe == NULL)
		return -1;
	int rc = render_pdf(fe, form, NULL, pdf, len);
	pool_give(fe);
	if (rc == 1) { /* characters the subset copies lack: the system fonts */
		fe = pool_take(FONTS_FULL);
		if (fe == NULL)
			return -1;
		rc = render_pdf(fe, form, NULL, pdf, len);
		pool_give(fe);
	}
	return rc == 0 ? 0 : -1;
}

/* Returns 0 with the PDF, 1 if fe uses the subset copies and the form has
 * characters they lack (no PDF then), -1 on failure. */
static int render_pdf(struct fontmap_entry *fe, const struct appform *form, struct collect *col,
                      unsigned char **pdf, size_t *len)
{
	struct clean_form cf;
	clean_form_init(&cf, form);
	const struct appform *f = &cf.f;

	struct form_model *m = malloc(sizeof(*m));
	struct membuf out = {0};
	int rc = -1;
	if (m == NULL)
		goto done;
	build_model(m, f);

	cairo_surface_t *surface =
	    cairo_pdf_surface_create_for_stream(membuf_write, &out, PAGE_W, PAGE_H);
	cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, form_title(f));
	cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "ESP");
	cairo_t *cr = cairo_create(surface);

	struct render r = {.cr = cr,
	                   .scale = 1.0,
	                   .ff = fe->kind == FONTS_FAST ? fast : NULL,
	                   .col = col,
	                   .qr = qr_image(f->number)};
	pango_cairo_update_context(cr, fe->context);
	r.context = fe->context;
	r.layouts = fe->layouts;
	r.serial = ++fe->n_renders;
	r.fd = pango_font_description_copy(font_base);
	r.attrs_plain = pango_attr_list_new();
	pango_attr_list_insert(r.attrs_plain, pango_attr_fallback_new(FALSE));
	/* Long e-mail addresses break between characters without a hyphen. */
	pango_attr_list_insert(r.attrs_plain, pango_attr_insert_hyphens_new(FALSE));
	r.attrs_title = pango_attr_list_copy(r.attrs_plain);
	pango_attr_list_insert(r.attrs_title, pango_attr_letter_spacing_new(4 * PANGO_SCALE));

	/* Measure; shrink the body text a little if extreme values need it. */
	double header_h = 0;
	for (int attempt = 0; attempt < 4; attempt++) {
		header_h = draw_header(&r, f, 0, false);
		double h =
		    header_h + model_measure(&r, m) + 8 + notes_measure_or_draw(&r, f, 0, false);
		if (h <= PAGE_H - MARGIN_BOTTOM)
			break;
		r.scale *= 0.88;
	}

	for (int copy = 0; copy < 2 && !r.missing; copy++) {
		cairo_set_source_rgb(cr, 0, 0, 0);
		double y = draw_header(&r, f, copy, true);
		y = draw_table(&r, m, y);
		notes_measure_or_draw(&r, f, y + 6, true);
		if (f->withdrawn)
			draw_withdrawn_mark(&r);
		cairo_show_page(cr);
	}

	layout_cache_trim(fe);
	if (r.qr != NULL)
		cairo_surface_destroy(r.qr);
	pango_font_description_free(r.fd);
	pango_attr_list_unref(r.attrs_plain);
	pango_attr_list_unref(r.attrs_title);
	cairo_destroy(cr);
	cairo_surface_finish(surface);
	cairo_status_t st = cairo_surface_status(surface);
	cairo_surface_destroy(surface);
	if (r.missing) {
		rc = 1;
	} else if (st == CAIRO_STATUS_SUCCESS && out.len > 0) {
		*pdf = out.p;
		*len = out.len;
		out.p = NULL;
		rc = 0;
	}

done:
	free(out.p);
	free(m);
	clean_form_free(&cf);
	return rc;
}

/* ---------------------------------------------------------------- JSON */

static void json_set_str(json_t *o, const char *key, const char *v)
{
	json_t *s = json_string(v ? v : "");
	if (s == NULL) /* invalid UTF-8: show nothing rather than fail the page */
		s = json_string("");
	json_object_set_new(o, key, s);
}

json_t *appform_to_json(const struct appform *f)
{
	if (f == NULL)
		return NULL;
	json_t *o = json_object();
	json_object_set_new(o, "personal", json_boolean(f->personal));
	json_set_str(o, "kind", f->kind);
	json_set_str(o, "number", f->number);
	json_set_str(o, "business_type", f->business_type);
	json_set_str(o, "date", f->date);
	json_set_str(o, "unit_name", f->unit_name);
	json_set_str(o, "unit_code", f->unit_code);
	json_set_str(o, "legal_rep", f->legal_rep);
	json_set_str(o, "contact_name", f->contact_name);
	json_set_str(o, "contact_id_number", f->contact_id_number);
	json_set_str(o, "phone", f->phone);
	json_set_str(o, "mobile", f->mobile);
	json_set_str(o, "email", f->email);
	json_set_str(o, "address", f->address);
	json_set_str(o, "postcode", f->postcode);
	json_object_set_new(o, "keys", json_integer(f->keys));
	json_set_str(o, "invoice_title", f->invoice_title);
	json_set_str(o, "taxpayer_id", f->taxpayer_id);
	json_set_str(o, "person_name", f->person_name);
	json_set_str(o, "id_type", f->id_type);
	json_set_str(o, "id_number", f->id_number);
	json_set_str(o, "work_unit", f->work_unit);
	json_set_str(o, "department", f->department);
	json_object_set_new(o, "amount_yuan", json_integer(f->amount_yuan));

	json_set_str(o, "title", form_title(f));
	json_object_set_new(o, "withdrawn", json_boolean(f->withdrawn));
	json_set_str(o, "seal_label", seal_label(f));
	char *svg = qr_svg(f->number, 3);
	json_set_str(o, "qr_svg", svg);
	free(svg);

	/* Display helpers so the HTML and the PDF print the same text. */
	char buf[256];
	if (appform_amount_upper(f->amount_yuan, buf, sizeof(buf)) != 0)
		buf[0] = '\0';
	json_set_str(o, "amount_upper", buf);
	format_date(f->date, buf, sizeof(buf));
	json_set_str(o, "date_text", buf);
	json_set_str(o, "contact_phone", f->mobile ? f->mobile : f->phone);
	char *notes = form_notes(f);
	json_set_str(o, "notes", notes);
	free(notes);

	json_t *types = json_array();
	for (int i = 0; i < N_BUSINESS_TYPES; i++)
		json_array_append_new(
		    types, json_pack("{s:s, s:b}", "name", business_types[i], "checked",
		                     business_type_matches(f->business_type, business_types[i])));
	json_object_set_new(o, "business_types", types);

	json_t *copies = json_array();
	for (int c = 0; c < 2; c++)
		json_array_append_new(copies, json_pack("{s:s, s:s}", "copy_label", copy_numbers[c],
		                                        "copy_keeper", copy_keeper(f, c)));
	json_object_set_new(o, "copies", copies);
	return o;
}
