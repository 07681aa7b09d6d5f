/* The template engine: parse to a node tree once, render many times. */
#include "esp/template.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum node_type { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL };

struct node {
	enum node_type type;
	char *text; /* N_TEXT: literal; otherwise the name */
	size_t len;
	char **path;        /* dotted name split; NULL-terminated; NULL for "." */
	struct node *child; /* sections */
	struct node *next;
};

struct tpl {
	char *name;
	struct node *root;
	struct tpl *next;
};

struct tpl_set {
	struct tpl *list;
};

static void node_free(struct node *n)
{
	while (n) {
		struct node *next = n->next;
		free(n->text);
		if (n->path) {
			for (char **p = n->path; *p; p++)
				free(*p);
			free(n->path);
		}
		node_free(n->child);
		free(n);
		n = next;
	}
}

static char **split_path(const char *name)
{
	if (strcmp(name, ".") == 0)
		return NULL;
	size_t parts = 1;
	for (const char *p = name; *p; p++)
		parts += *p == '.';
	char **path = xcalloc(parts + 1, sizeof(char *));
	const char *start = name;
	size_t i = 0;
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			path[i++] = xstrndup(start, (size_t)(p - start));
			if (!*p)
				break;
			start = p + 1;
		}
	}
	return path;
}

/* Sections nested deeper than this in one template are a parse error: the
 * parser (and render()) recurse once per level. */
#define MAX_NESTING 100

struct parser {
	const char *src, *p;
	const char *tplname;
	char *err;
};

static int line_of(const struct parser *ps, const char *at)
{
	int line = 1;
	for (const char *q = ps->src; q < at; q++)
		line += *q == '\n';
	return line;
}

static struct node *new_node(enum node_type t, const char *text, size_t len)
{
	struct node *n = xcalloc(1, sizeof(*n));
	n->type = t;
	n->text = xstrndup(text, len);
	n->len = len;
	return n;
}

/* Parses until {{/end}} (or the end of input when end is NULL); opened is
 * where the section's opening tag is, depth how many sections enclose it. */
static struct node *parse(struct parser *ps, const char *end, const char *opened, int depth)
{
	struct node *head = NULL, **tail = &head;
	for (;;) {
		const char *open = strstr(ps->p, "{{");
		if (!open) {
			if (end) {
				ps->err = xasprintf("%s:%d: section '%s' is not closed",
				                    ps->tplname, line_of(ps, opened), end);
				node_free(head);
				return NULL;
			}
			size_t n = strlen(ps->p);
			if (n) {
				*tail = new_node(N_TEXT, ps->p, n);
				tail = &(*tail)->next;
			}
			ps->p += n;
			return head;
		}
		if (open > ps->p) {
			*tail = new_node(N_TEXT, ps->p, (size_t)(open - ps->p));
			tail = &(*tail)->next;
		}
		bool triple = open[2] == '{';
		const char *tag = open + (triple ? 3 : 2);
		const char *close = strstr(tag, triple ? "}}}" : "}}");
		if (!close) {
			ps->err =
			    xasprintf("%s:%d: tag is not closed", ps->tplname, line_of(ps, open));
			node_free(head);
			return NULL;
		}
		char sigil = triple ? '{' : *tag;
		const char *name = tag;
		if (!triple && strchr("#^/>!", sigil))
			name++;
		char *nm = xstrndup(name, (size_t)(close - name));
		str_trim(nm);
		ps->p = close + (triple ? 3 : 2);
		if (sigil == '!') {
			free(nm);
			continue;
		}
		if (!*nm) {
			ps->err = xasprintf("%s:%d: empty tag", ps->tplname, line_of(ps, open));
			free(nm);
			node_free(head);
			return NULL;
		}
		if (sigil == '/') {
			if (!end || strcmp(nm, end) != 0) {
				ps->err = xasprintf("%s:%d: unexpected {{/%s}}", ps->tplname,
				                    line_of(ps, open), nm);
				free(nm);
				node_free(head);
				return NULL;
			}
			free(nm);
			return head ? head : new_node(N_TEXT, "", 0);
		}
		struct node *n;
		if (sigil == '#' || sigil == '^') {
			if (depth >= MAX_NESTING) {
				ps->err = xasprintf("%s:%d: sections nested too deeply",
				                    ps->tplname, line_of(ps, open));
				free(nm);
				node_free(head);
				return NULL;
			}
			n = new_node(sigil == '#' ? N_SECTION : N_INVERTED, nm, strlen(nm));
			n->path = split_path(nm);
			n->child = parse(ps, nm, open, depth + 1);
			if (!n->child) {
				free(nm);
				node_free(n);
				node_free(head);
				return NULL;
			}
		} else if (sigil == '>') {
			n = new_node(N_PARTIAL, nm, strlen(nm));
		} else {
			n = new_node(triple ? N_RAW : N_VAR, nm, strlen(nm));
			n->path = split_path(nm);
		}
		free(nm);
		*tail = n;
		tail = &n->next;
	}
}

int tpl_add(struct tpl_set **set, const char *name, const char *text, char **err)
{
	struct parser ps = {.src = text, .p = text, .tplname = name};
	struct node *root = parse(&ps, NULL, NULL, 0);
	if (ps.err) {
		*err = ps.err;
		return -1;
	}
	if (!*set)
		*set = xcalloc(1, sizeof(struct tpl_set));
	struct tpl *t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->root = root;
	t->next = (*set)->list;
	(*set)->list = t;
	return 0;
}

struct tpl_set *tpl_load_dir(const char *dir, char **err)
{
	DIR *d = opendir(dir);
	if (!d) {
		*err = xasprintf("cannot open template directory %s", dir);
		return NULL;
	}
	struct tpl_set *set = xcalloc(1, sizeof(*set));
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len <= 5 || strcmp(e->d_name + len - 5, ".html") != 0)
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		char *text = file_read_all(path, NULL);
		free(path);
		char *name = xstrndup(e->d_name, len - 5);
		int rc = text ? tpl_add(&set, name, text, err) : -1;
		if (!text)
			*err = xasprintf("cannot read template %s", e->d_name);
		free(text);
		free(name);
		if (rc != 0) {
			closedir(d);
			tpl_free(set);
			return NULL;
		}
	}
	closedir(d);
	return set;
}

void tpl_free(struct tpl_set *s)
{
	if (!s)
		return;
	struct tpl *t = s->list;
	while (t) {
		struct tpl *next = t->next;
		free(t->name);
		node_free(t->root);
		free(t);
		t = next;
	}
	free(s);
}

static const struct tpl *find(const struct tpl_set *s, const char *name)
{
	for (const struct tpl *t = s ? s->list : NULL; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* Partial levels and section contexts: deeper ones render nothing. */
#define MAX_DEPTH 32
/* render() calls nested in each other (sections, inverted sections and
 * partials alike): deeper ones render nothing.  One template nests at most
 * MAX_NESTING sections; this bounds the stack through partials too. */
#define MAX_RENDER_NEST 256
/* The work one rendering may do: nodes visited and bytes written.  Depth
 * limits alone do not bound it ("x{{>t}}{{>t}}" fans out 2^32 times); a
 * rendering that goes over either stops and fails. */
#define MAX_VISITS 4000000UL
#define MAX_OUTPUT ((size_t)64 << 20)

/* A slot: {{{name}}} in the outer template of tpl_render_wrapped renders
 * the inner template there instead of a value; with no inner template
 * (tpl_render_around) it stands for html, already rendered. */
struct slot {
	const char *name;
	const struct tpl *inner;
	json_t *inner_ctx;
	const char *html;
	size_t html_len;
};

struct ctx_stack {
	json_t *items[MAX_DEPTH];
	int n;
	const struct slot *slot;
};

/* What one tpl_render/tpl_render_wrapped call has used so far. */
struct budget {
	unsigned long visits;
	size_t written;
	int nest;
	bool over;
};

static json_t *lookup(const struct ctx_stack *cs, char **path)
{
	if (!path)
		return cs->n ? cs->items[cs->n - 1] : NULL;
	/* The first part is searched from the innermost context outwards. */
	json_t *v = NULL;
	for (int i = cs->n - 1; i >= 0 && !v; i--)
		if (json_is_object(cs->items[i]))
			v = json_object_get(cs->items[i], path[0]);
	for (char **p = path + 1; v && *p; p++)
		v = json_is_object(v) ? json_object_get(v, *p) : NULL;
	return v;
}

static bool truthy(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	return true;
}

/* Appends n bytes (escaped or not) unless that would go over the output cap. */
static void emit(struct budget *b, struct buf *out, const char *s, size_t n, bool escape)
{
	if (b->over)
		return;
	if (n > MAX_OUTPUT - b->written) {
		b->over = true;
		return;
	}
	size_t before = out->len;
	if (escape)
		buf_put_html(out, s, n);
	else
		buf_put(out, s, n);
	b->written += out->len - before;
	if (b->written > MAX_OUTPUT)
		b->over = true;
}

static void put_value(struct budget *b, struct buf *out, const json_t *v, bool escape)
{
	char num[32];
	const char *s = NULL;
	size_t n = 0;
	if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
	} else if (json_is_integer(v)) {
		n = (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
		                     json_integer_value(v));
		s = num;
	} else if (json_is_real(v)) {
		n = (size_t)snprintf(num, sizeof num, "%.2f", json_real_value(v));
		s = num;
	}
	if (s)
		emit(b, out, s, n, escape);
}

static void render(const struct tpl_set *set, const struct node *n, struct ctx_stack *cs,
                   struct buf *out, int depth, struct budget *b);

/* The slot stands for a string value named slot->name in the outermost
 * context: it is used only where the lookup would reach that context. */
static bool is_slot(const struct ctx_stack *cs, const struct node *n)
{
	if (!cs->slot || !n->path || n->path[1] || strcmp(n->path[0], cs->slot->name) != 0)
		return false;
	for (int i = cs->n - 1; i >= 1; i--)
		if (json_is_object(cs->items[i]) && json_object_get(cs->items[i], n->path[0]))
			return false;
	return true;
}

static void render_slot(const struct tpl_set *set, const struct slot *sl, struct buf *out,
                        struct budget *b)
{
	if (!sl->inner) {
		emit(b, out, sl->html, sl->html_len, false);
		return;
	}
	struct ctx_stack inner = {.n = 0};
	inner.items[inner.n++] = sl->inner_ctx;
	render(set, sl->inner->root, &inner, out, 0, b);
}

/* Renders the nodes from n on; depth counts partial levels.  Stops as soon
 * as the budget is over. */
static void render(const struct tpl_set *set, const struct node *n, struct ctx_stack *cs,
                   struct buf *out, int depth, struct budget *b)
{
	if (b->nest >= MAX_RENDER_NEST)
		return;
	b->nest++;
	for (; n && !b->over; n = n->next) {
		if (++b->visits > MAX_VISITS) {
			b->over = true;
			break;
		}
		switch (n->type) {
		case N_TEXT:
			emit(b, out, n->text, n->len, false);
			break;
		case N_RAW:
			if (is_slot(cs, n)) {
				render_slot(set, cs->slot, out, b);
				break;
			}
			put_value(b, out, lookup(cs, n->path), false);
			break;
		case N_VAR:
			if (is_slot(cs, n)) {
				struct buf tmp = {0};
				render_slot(set, cs->slot, &tmp, b);
				emit(b, out, tmp.data ? tmp.data : "", tmp.len, true);
				buf_free(&tmp);
				break;
			}
			put_value(b, out, lookup(cs, n->path), true);
			break;
		case N_INVERTED:
			if (!truthy(lookup(cs, n->path)))
				render(set, n->child, cs, out, depth, b);
			break;
		case N_SECTION: {
			json_t *v = lookup(cs, n->path);
			if (!truthy(v) || cs->n >= MAX_DEPTH)
				break;
			if (json_is_array(v)) {
				size_t i;
				json_t *item;
				json_array_foreach(v, i, item)
				{
					if (b->over)
						break;
					cs->items[cs->n++] = item;
					render(set, n->child, cs, out, depth, b);
					cs->n--;
				}
			} else {
				cs->items[cs->n++] = v;
				render(set, n->child, cs, out, depth, b);
				cs->n--;
			}
			break;
		}
		case N_PARTIAL: {
			const struct tpl *t = find(set, n->text);
			/* A partial including itself would never end. */
			if (t && depth < MAX_DEPTH)
				render(set, t->root, cs, out, depth + 1, b);
			break;
		}
		}
	}
	b->nest--;
}

/* Takes back what a failed rendering appended to out. */
static int over_budget(struct buf *out, size_t start, int rc)
{
	if (start == 0) {
		buf_free(out);
	} else {
		out->len = start;
		out->data[start] = '\0';
	}
	return rc;
}

/* Renders outer with its slot; -2 when outer is unknown, -3 over the limits. */
static int render_with_slot(const struct tpl_set *s, const char *outer, json_t *outer_ctx,
                            const struct slot *sl, struct buf *out)
{
	const struct tpl *to = find(s, outer);
	if (!to)
		return -2;
	struct ctx_stack cs = {.n = 0, .slot = sl};
	cs.items[cs.n++] = outer_ctx;
	struct budget b = {0};
	size_t start = out->len;
	render(s, to->root, &cs, out, 0, &b);
	return b.over ? over_budget(out, start, -3) : 0;
}

int tpl_render_wrapped(const struct tpl_set *s, const char *outer, json_t *outer_ctx,
                       const char *slot, const char *inner, json_t *inner_ctx, struct buf *out)
{
	const struct tpl *ti = find(s, inner);
	if (!ti)
		return -1;
	struct slot sl = {.name = slot, .inner = ti, .inner_ctx = inner_ctx};
	return render_with_slot(s, outer, outer_ctx, &sl, out);
}

int tpl_render_around(const struct tpl_set *s, const char *outer, json_t *outer_ctx,
                      const char *slot, const char *html, size_t len, struct buf *out)
{
	struct slot sl = {.name = slot, .html = html ? html : "", .html_len = html ? len : 0};
	return render_with_slot(s, outer, outer_ctx, &sl, out);
}

int tpl_render(const struct tpl_set *s, const char *name, json_t *ctx, struct buf *out)
{
	const struct tpl *t = find(s, name);
	if (!t)
		return -1;
	struct ctx_stack cs = {.n = 0};
	cs.items[cs.n++] = ctx;
	struct budget b = {0};
	size_t start = out->len;
	render(s, t->root, &cs, out, 0, &b);
	return b.over ? over_budget(out, start, -2) : 0;
}
