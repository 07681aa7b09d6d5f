/*
 * A small mustache-like template engine over jansson values.
 *
 *   {{name}}          value, HTML-escaped (strings and numbers; dotted a.b.c)
 *   {{{name}}}        value without escaping: only for HTML we produced ourselves
 *   {{#name}}..{{/name}}  section: once per array element, once for a true
 *                     value or non-empty object/string (pushed as context)
 *   {{^name}}..{{/name}}  inverted: when missing, null, false, "" or []
 *   {{>partial}}      another template of the set, same context
 *   {{! comment }}
 *   {{.}}             the current context value
 *
 * Templates are parsed once when the set is loaded; rendering does no parsing
 * and is safe from several threads at once.
 *
 * Limits: a template nests at most 100 sections (deeper is a parse error).
 * When rendering, partials more than 32 levels deep and sections more than 32
 * contexts deep render nothing.  One rendering visits at most 4 million
 * template nodes and writes at most 64 MB: a rendering that would do more
 * (partials that fan out, e.g. "x{{>t}}{{>t}}", or a self-including partial
 * in a section over an array) stops and fails, appending nothing, so the
 * caller can answer 500.
 */
#ifndef ESP_TEMPLATE_H
#define ESP_TEMPLATE_H

#include <jansson.h>

#include "esp/util.h"

struct tpl_set;

/* Loads every *.html file of dir, named by file name without ".html".
 * On error returns NULL and *err (malloc'ed; caller frees) names file and line. */
struct tpl_set *tpl_load_dir(const char *dir, char **err);
/* Parses one template from a string into a new or existing set (tests, fuzzing).
 * Returns 0, or -1 with *err set (caller frees). */
int tpl_add(struct tpl_set **set, const char *name, const char *text, char **err);
void tpl_free(struct tpl_set *s);
/* Appends the rendering to out.  Returns 0; -1 when the template is unknown
 * and -2 when the rendering goes over the work limits (nothing appended in
 * either case).  Any non-zero result is a server error. */
int tpl_render(const struct tpl_set *s, const char *name, json_t *ctx, struct buf *out);
/* Renders outer with outer_ctx as if outer_ctx held, under the key slot, the
 * string that rendering inner with inner_ctx gives: {{{slot}}} writes that
 * rendering straight into out (no copy), {{slot}} writes it escaped.  Only
 * variable tags use the slot; outer_ctx must not hold the key itself.
 * Returns 0; -1 when inner is unknown, -2 when outer is unknown and -3 when
 * the rendering goes over the work limits (nothing appended in any case).
 * Any non-zero result is a server error. */
int tpl_render_wrapped(const struct tpl_set *s, const char *outer, json_t *outer_ctx,
                       const char *slot, const char *inner, json_t *inner_ctx, struct buf *out);
/* The same with the slot's text given: html (len bytes, already rendered,
 * trusted) instead of an inner template.  Returns 0; -2 when outer is
 * unknown and -3 over the work limits (nothing appended). */
int tpl_render_around(const struct tpl_set *s, const char *outer, json_t *outer_ctx,
                      const char *slot, const char *html, size_t len, struct buf *out);

#endif
