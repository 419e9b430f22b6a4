/* conf.c: the .conf reader: a libconfig tree, command-line overrides applied to it, then
 * sections, layers and the device as text with their file:line; and its lowering to a graph. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

static const char *const top_sections[] = {"data", "net", "solver", "model", "device", NULL};
static const char *const data_sections[] = {"train", "eval", NULL};

/* The hook of settings set by an override, so their origin reads "command line" even
 * when an override kept a setting the file made (same type: set in place). */
static char override_mark;

#define ORIGIN_MAX 1100

/* ---- small helpers ---- */

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A growable string; on out of memory `failed` is set and appends stop. */
struct text {
	char *buf;
	size_t len, cap;
	int failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (t->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		char *p = realloc(t->buf, cap);
		if (!p) {
			t->failed = 1;
			return;
		}
		t->buf = p;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += n;
}

/* Directory part of path, for @include "..." relative to the .conf. */
static void dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (slash)
		snprintf(buf, size, "%.*s", (int)(slash - path), path);
	else
		snprintf(buf, size, ".");
}

/* The path of an @include "name" that libconfig reads from dir (the .conf's directory):
 * libconfig remembers the name as written, which a user cannot find from elsewhere. */
static void include_path(const char *dir, const char *name, char *buf, size_t size)
{
	if (name[0] == '/' || !strcmp(dir, "."))
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%s/%s", dir, name);
}

/* "file:line" of a setting, or "command line" for what an override made or set. Settings
 * of the top file have no source file (conf_load parses its text), those of an @include
 * its name as written. */
static void origin_of(const config_setting_t *s, const char *path, char *buf, size_t size)
{
	char dir[ORIGIN_MAX], file[ORIGIN_MAX - 16]; /* room for ":line" */
	if (config_setting_get_hook(s) == &override_mark || config_setting_source_line(s) == 0) {
		snprintf(buf, size, "command line");
		return;
	}
	dir_of(path, dir, sizeof dir);
	if (config_setting_source_file(s))
		include_path(dir, config_setting_source_file(s), file, sizeof file);
	snprintf(buf, size, "%s:%u", config_setting_source_file(s) ? file : path, config_setting_source_line(s));
}

static const char *type_word(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	}
	return "empty";
}

/* Text of a scalar setting: ints "%lld", floats "%.9g" (exact for float32), bools
 * true/false, strings as they are. */
static void scalar_text(const config_setting_t *s, struct text *t)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: text_add(t, "%lld", config_setting_get_int64(s)); break;
	case CONFIG_TYPE_FLOAT: text_add(t, "%.9g", config_setting_get_float(s)); break;
	case CONFIG_TYPE_BOOL: text_add(t, "%s", config_setting_get_bool(s) ? "true" : "false"); break;
	case CONFIG_TYPE_STRING: text_add(t, "%s", config_setting_get_string(s)); break;
	}
}

/* Turns a value setting into new text in *out. Lists and arrays of numbers (or
 * booleans) become "(1, 2, 3)"; of strings, "a,b" (comma-separated, as eval_metric
 * takes them). Groups are an error naming origin and where ("solver", "layer \"fc1\""). */
static int value_text(const config_setting_t *s, const char *origin, const char *where, char **out)
{
	struct text t = {0};
	int type = config_setting_type(s);
	*out = NULL;
	if (type == CONFIG_TYPE_GROUP)
		return mx_error(MX_ERR_INVALID, "%s: %s: \"%s\" is a group { }; only values belong here", origin, where,
				config_setting_name(s));
	if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST) {
		int n = config_setting_length(s), strings = 0, others = 0;
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, i);
			if (config_setting_type(e) == CONFIG_TYPE_STRING)
				strings++;
			else if (config_setting_is_scalar(e))
				others++;
			else
				return mx_error(MX_ERR_INVALID, "%s: %s: \"%s\" holds %s; a list holds only numbers or strings",
						origin, where, config_setting_name(s), type_word(config_setting_type(e)));
		}
		if (strings && others)
			return mx_error(MX_ERR_INVALID, "%s: %s: \"%s\" mixes strings and numbers", origin, where,
					config_setting_name(s));
		if (!strings)
			text_add(&t, "(");
		for (int i = 0; i < n; i++) {
			if (i)
				text_add(&t, strings ? "," : ", ");
			scalar_text(config_setting_get_elem(s, i), &t);
		}
		if (!strings)
			text_add(&t, ")");
	} else {
		scalar_text(s, &t);
	}
	if (!t.buf && !t.failed)
		text_add(&t, "%s", "");
	if (t.failed) {
		free(t.buf);
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	}
	*out = t.buf;
	return MX_OK;
}

static int kv_append(struct conf_kv **kv, int *n, const char *key, char *value, const char *origin)
{
	struct conf_kv *p = realloc(*kv, (*n + 1) * sizeof **kv);
	if (!p) {
		free(value);
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	}
	*kv = p;
	p[*n].key = dup_str(key);
	p[*n].value = value;
	p[*n].origin = dup_str(origin);
	(*n)++;
	if (!p[*n - 1].key || !p[*n - 1].origin)
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	return MX_OK;
}

static void kv_free(struct conf_kv *kv, int n)
{
	for (int i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
		free(kv[i].origin);
	}
	free(kv);
}

/* ---- layer names ---- */

static const char *given_name(const config_setting_t *layer)
{
	const char *name = NULL;
	if (config_setting_is_group(layer) && config_setting_lookup_string(layer, "name", &name))
		return name;
	return NULL;
}

/* MXNet's hint is the operator function as called, so an alias names by the alias
 * (mx.sym.ElementWiseSum -> "elementwisesum0"); we use the type as written likewise. */
static void name_hint(const config_setting_t *layer, char *buf, size_t size)
{
	const char *type = "layer";
	config_setting_lookup_string(layer, "type", &type);
	snprintf(buf, size, "%s", type);
	for (char *p = buf; *p; p++)
		*p = tolower((unsigned char)*p);
}

/* Writes the name of layer index into buf: its `name` string, or MXNet's automatic name,
 * the type in lower case and a counter per type over the unnamed layers before it
 * ("fullyconnected0", "fullyconnected1"). */
static void layer_name(const config_setting_t *net, int index, char *buf, size_t size)
{
	const config_setting_t *layer = config_setting_get_elem(net, index);
	char hint[100], other[100];
	int count = 0;
	if (given_name(layer)) {
		snprintf(buf, size, "%s", given_name(layer));
		return;
	}
	name_hint(layer, hint, sizeof hint);
	for (int i = 0; i < index; i++) {
		const config_setting_t *prev = config_setting_get_elem(net, i);
		if (!config_setting_is_group(prev) || given_name(prev))
			continue;
		name_hint(prev, other, sizeof other);
		count += !strcmp(hint, other);
	}
	snprintf(buf, size, "%s%d", hint, count);
}

/* ---- overrides ---- */

/* The libconfig type an override's text reads as: int (int64 when large), float,
 * true/false, a quoted or bare string. */
static int guess_type(const char *v)
{
	char *end;
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
		return CONFIG_TYPE_STRING;
	if (!strcasecmp(v, "true") || !strcasecmp(v, "false"))
		return CONFIG_TYPE_BOOL;
	if (n && (isdigit((unsigned char)v[0]) || strchr("+-.", v[0]))) {
		long long i;
		double d;
		errno = 0;
		i = strtoll(v, &end, 10);
		if (!*end && !errno)
			return i >= -2147483648LL && i <= 2147483647LL ? CONFIG_TYPE_INT : CONFIG_TYPE_INT64;
		errno = 0;
		d = strtod(v, &end);
		if (!*end && !errno && isfinite(d))
			return CONFIG_TYPE_FLOAT;
	}
	return CONFIG_TYPE_STRING;
}

static int set_scalar(config_setting_t *s, int type, const char *v)
{
	size_t n = strlen(v);
	char *unquoted;
	int ok;
	switch (type) {
	case CONFIG_TYPE_INT: return config_setting_set_int(s, (int)strtoll(v, NULL, 10));
	case CONFIG_TYPE_INT64: return config_setting_set_int64(s, strtoll(v, NULL, 10));
	case CONFIG_TYPE_FLOAT: return config_setting_set_float(s, strtod(v, NULL));
	case CONFIG_TYPE_BOOL: return config_setting_set_bool(s, !strcasecmp(v, "true"));
	}
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		unquoted = strndup(v + 1, n - 2);
		if (!unquoted)
			return CONFIG_FALSE;
		ok = config_setting_set_string(s, unquoted);
		free(unquoted);
		return ok;
	}
	return config_setting_set_string(s, v);
}

/* Copies [start, end) trimmed of blanks into buf. */
static void trim_copy(const char *start, const char *end, char *buf, size_t size)
{
	while (start < end && isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	snprintf(buf, size, "%.*s", (int)(end - start), start);
}

/* Splits "(1, 2)" or "[a, b]" into trimmed elements; returns the count, or -1 when there
 * are too many. */
static int split_elements(const char *v, char elems[][256], int max)
{
	const char *p = v + 1, *end = v + strlen(v) - 1;
	int n = 0;
	char probe[256];
	trim_copy(p, end, probe, sizeof probe);
	if (!probe[0])
		return 0;
	while (p <= end) {
		const char *comma = memchr(p, ',', end - p);
		const char *stop = comma ? comma : end;
		if (n == max)
			return -1;
		trim_copy(p, stop, elems[n++], 256);
		p = stop + 1;
	}
	return n;
}

/* Sets parent.name to the override's value text, replacing a setting of another type. */
static int set_override_value(config_setting_t *parent, const char *name, const char *value,
			      const char *override_text)
{
	config_setting_t *s = config_setting_get_member(parent, name);
	size_t n = strlen(value);
	int is_array = n >= 2 && ((value[0] == '(' && value[n - 1] == ')') || (value[0] == '[' && value[n - 1] == ']'));
	int type = is_array ? CONFIG_TYPE_ARRAY : guess_type(value);
	if (s && (config_setting_type(s) != type || is_array)) {
		config_setting_remove(parent, name);
		s = NULL;
	}
	if (!s && !(s = config_setting_add(parent, name, type)))
		return mx_error(MX_ERR_INVALID, "override \"%s\": \"%s\" is not a valid key name", override_text, name);
	config_setting_set_hook(s, &override_mark);
	if (is_array) {
		char elems[64][256];
		int count = split_elements(value, elems, 64), elem_type = CONFIG_TYPE_NONE;
		if (count < 0)
			return mx_error(MX_ERR_INVALID, "override \"%s\": more than 64 elements", override_text);
		/* libconfig arrays hold one type: ints with floats become floats; any other mix, strings. */
		for (int i = 0; i < count; i++) {
			int t = guess_type(elems[i]);
			if (elem_type == CONFIG_TYPE_NONE || elem_type == t)
				elem_type = t;
			else if ((elem_type == CONFIG_TYPE_INT || elem_type == CONFIG_TYPE_INT64 ||
				  elem_type == CONFIG_TYPE_FLOAT) &&
				 (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 || t == CONFIG_TYPE_FLOAT))
				elem_type = (elem_type == CONFIG_TYPE_FLOAT || t == CONFIG_TYPE_FLOAT) ? CONFIG_TYPE_FLOAT
													: CONFIG_TYPE_INT64;
			else
				elem_type = CONFIG_TYPE_STRING;
		}
		for (int i = 0; i < count; i++) {
			config_setting_t *e = config_setting_add(s, NULL, elem_type);
			if (!e || !set_scalar(e, elem_type, elems[i]))
				return mx_error(MX_ERR_NOMEM, "override \"%s\": cannot set element %d", override_text, i);
		}
		return MX_OK;
	}
	if (!set_scalar(s, type, value))
		return mx_error(MX_ERR_NOMEM, "override \"%s\": cannot set the value", override_text);
	return MX_OK;
}

/* The group parent.name, made when missing; an error when it is something else. */
static config_setting_t *child_group(config_setting_t *parent, const char *name, const char *override_text,
				     const char *path_so_far)
{
	config_setting_t *s = config_setting_get_member(parent, name);
	if (!s && (s = config_setting_add(parent, name, CONFIG_TYPE_GROUP)))
		config_setting_set_hook(s, &override_mark);
	if (!s) {
		mx_error(MX_ERR_NOMEM, "override \"%s\": cannot make %s", override_text, path_so_far);
		return NULL;
	}
	if (!config_setting_is_group(s)) {
		mx_error(MX_ERR_INVALID, "override \"%s\": %s is %s, not a group { }", override_text, path_so_far,
			 type_word(config_setting_type(s)));
		return NULL;
	}
	return s;
}

/* The layer group named name in the net list (given or automatic name). */
static config_setting_t *find_layer(config_setting_t *net, const char *name, const char *override_text)
{
	const char *names[257];
	char storage[256][128];
	int n = net ? config_setting_length(net) : 0, k = 0;
	const char *near;
	for (int i = 0; i < n; i++) {
		config_setting_t *layer = config_setting_get_elem(net, i);
		char buf[128];
		if (!config_setting_is_group(layer))
			continue;
		layer_name(net, i, buf, sizeof buf);
		if (!strcmp(buf, name))
			return layer;
		if (k < 256) {
			snprintf(storage[k], sizeof storage[k], "%s", buf);
			names[k] = storage[k];
			k++;
		}
	}
	names[k] = NULL;
	near = nearest_name(names, name);
	if (near)
		mx_error(MX_ERR_INVALID, "override \"%s\": no layer named \"%s\" (did you mean \"%s\"?)", override_text,
			 name, near);
	else
		mx_error(MX_ERR_INVALID, "override \"%s\": no layer named \"%s\"", override_text, name);
	return NULL;
}

/* Applies one "a.b.c=value" to the tree. */
static int apply_override(config_t *cfg, const char *text)
{
	config_setting_t *root = config_root_setting(cfg), *parent;
	const char *eq = strchr(text, '=');
	char path[512], value[4096], parts[4][256], *p;
	int n_parts = 0, want;
	const char *near, *form;
	if (!eq)
		return mx_error(MX_ERR_INVALID, "override \"%s\": expected section.key=value", text);
	trim_copy(text, eq, path, sizeof path);
	trim_copy(eq + 1, eq + 1 + strlen(eq + 1), value, sizeof value);
	for (p = path;; p++) {
		char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!len || len >= sizeof parts[0] || n_parts == 4)
			return mx_error(MX_ERR_INVALID, "override \"%s\": \"%s\" is not a path such as solver.lr", text,
					path);
		snprintf(parts[n_parts++], sizeof parts[0], "%.*s", (int)len, p);
		if (!dot)
			break;
		p = dot;
	}
	if (!strcmp(parts[0], "device")) {
		want = 1;
		form = "device=cpu|gpu|gpu:N";
	} else if (!strcmp(parts[0], "solver") || !strcmp(parts[0], "model")) {
		want = 2;
		form = !strcmp(parts[0], "solver") ? "solver.<key>=value" : "model.<key>=value";
	} else if (!strcmp(parts[0], "data")) {
		want = 3;
		form = "data.train.<key>=value or data.eval.<key>=value";
	} else if (!strcmp(parts[0], "net")) {
		want = 3;
		form = "net.<layer name>.<key>=value";
	} else {
		near = nearest_name(top_sections, parts[0]);
		if (near)
			return mx_error(MX_ERR_INVALID, "override \"%s\": unknown section \"%s\" (did you mean \"%s\"?)",
					text, parts[0], near);
		return mx_error(MX_ERR_INVALID, "override \"%s\": unknown section \"%s\" (sections: data, net, solver, model, device)",
				text, parts[0]);
	}
	if (n_parts != want)
		return mx_error(MX_ERR_INVALID, "override \"%s\": expected %s", text, form);
	if (want == 1)
		return set_override_value(root, parts[0], value, text);
	if (!strcmp(parts[0], "net")) {
		config_setting_t *net = config_setting_get_member(root, "net");
		if (net && !config_setting_is_list(net) && !config_setting_is_array(net))
			return mx_error(MX_ERR_INVALID, "override \"%s\": net is %s, not a list of layers", text,
					type_word(config_setting_type(net)));
		if (!(parent = find_layer(net, parts[1], text)))
			return MX_ERR_INVALID;
		return set_override_value(parent, parts[2], value, text);
	}
	if (!strcmp(parts[0], "data") && strcmp(parts[1], "train") && strcmp(parts[1], "eval")) {
		near = nearest_name(data_sections, parts[1]);
		return mx_error(MX_ERR_INVALID, "override \"%s\": unknown data section \"%s\"%s%s%s", text, parts[1],
				near ? " (did you mean \"" : " (data holds train and eval)", near ? near : "",
				near ? "\"?)" : "");
	}
	if (!(parent = child_group(root, parts[0], text, parts[0])))
		return MX_ERR_INVALID;
	if (want == 3) {
		char where[600];
		snprintf(where, sizeof where, "%s.%s", parts[0], parts[1]);
		if (!(parent = child_group(parent, parts[1], text, where)))
			return MX_ERR_INVALID;
	}
	return set_override_value(parent, parts[want - 1], value, text);
}

/* ---- extraction ---- */

/* Fills a section from a group of values. where names it in errors ("solver", "data.train"). */
static int read_section(const config_setting_t *g, const char *path, const char *where, struct conf_section *out)
{
	char origin[ORIGIN_MAX];
	origin_of(g, path, origin, sizeof origin);
	if (!config_setting_is_group(g))
		return mx_error(MX_ERR_INVALID, "%s: %s is %s; write %s = { key = value; ... };", origin, where,
				type_word(config_setting_type(g)), config_setting_name(g));
	out->present = 1;
	if (!(out->origin = dup_str(origin)))
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		char *value;
		int rc;
		origin_of(s, path, origin, sizeof origin);
		if ((rc = value_text(s, origin, where, &value)))
			return rc;
		if ((rc = kv_append(&out->kv, &out->n, config_setting_name(s), value, origin)))
			return rc;
	}
	return MX_OK;
}

static int read_data(const config_setting_t *g, const char *path, struct mx_conf *c)
{
	char origin[ORIGIN_MAX];
	origin_of(g, path, origin, sizeof origin);
	if (!config_setting_is_group(g))
		return mx_error(MX_ERR_INVALID, "%s: data is %s; write data = { train = { ... }; eval = { ... }; };",
				origin, type_word(config_setting_type(g)));
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		const char *name = config_setting_name(s), *near;
		origin_of(s, path, origin, sizeof origin);
		if (!strcmp(name, "train") || !strcmp(name, "eval")) {
			int rc = read_section(s, path, !strcmp(name, "train") ? "data.train" : "data.eval",
					      !strcmp(name, "train") ? &c->train : &c->eval);
			if (rc)
				return rc;
			continue;
		}
		near = nearest_name(data_sections, name);
		if (near)
			return mx_error(MX_ERR_INVALID, "%s: unknown data section \"%s\" (did you mean \"%s\"?)", origin,
					name, near);
		return mx_error(MX_ERR_INVALID, "%s: unknown data section \"%s\" (data holds train and eval)", origin,
				name);
	}
	return MX_OK;
}

static int read_inputs(const config_setting_t *s, const char *origin, const char *name, struct conf_layer *l)
{
	int n = config_setting_is_scalar(s) ? 1 : config_setting_is_aggregate(s) ? config_setting_length(s) : 0;
	int type = config_setting_type(s);
	if (type != CONFIG_TYPE_STRING && type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return mx_error(MX_ERR_INVALID, "%s: layer \"%s\": inputs is %s; write inputs = [\"a\", \"b\"];", origin,
				name, type_word(type));
	if (!(l->inputs = calloc(n ? n : 1, sizeof *l->inputs)))
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = type == CONFIG_TYPE_STRING ? s : config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return mx_error(MX_ERR_INVALID, "%s: layer \"%s\": inputs holds %s; it names layers as strings",
					origin, name, type_word(config_setting_type(e)));
		if (!(l->inputs[l->n_inputs++] = dup_str(config_setting_get_string(e))))
			return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	}
	return MX_OK;
}

static int read_layer(const config_setting_t *net, int index, const char *path, struct conf_layer *l)
{
	const config_setting_t *g = config_setting_get_elem(net, index), *s;
	char origin[ORIGIN_MAX], name[128];
	int rc;
	origin_of(g, path, origin, sizeof origin);
	if (!(l->origin = dup_str(origin)))
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	if (!config_setting_is_group(g))
		return mx_error(MX_ERR_INVALID, "%s: layer %d is %s; write { type = \"...\"; ... }", origin, index + 1,
				type_word(config_setting_type(g)));
	s = config_setting_get_member(g, "type");
	if (!s)
		return mx_error(MX_ERR_INVALID, "%s: layer %d: missing type", origin, index + 1);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		origin_of(s, path, origin, sizeof origin);
		return mx_error(MX_ERR_INVALID, "%s: layer %d: type is %s; write type = \"FullyConnected\";", origin,
				index + 1, type_word(config_setting_type(s)));
	}
	if ((s = config_setting_get_member(g, "name")) && config_setting_type(s) != CONFIG_TYPE_STRING) {
		origin_of(s, path, origin, sizeof origin);
		return mx_error(MX_ERR_INVALID, "%s: layer %d: name is %s; write name = \"fc1\";", origin, index + 1,
				type_word(config_setting_type(s)));
	}
	layer_name(net, index, name, sizeof name);
	if (!(l->type = dup_str(config_setting_get_string(config_setting_get_member(g, "type")))) ||
	    !(l->name = dup_str(name)))
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	for (int i = 0; i < config_setting_length(g); i++) {
		const char *key;
		char where[200], *value;
		s = config_setting_get_elem(g, i);
		key = config_setting_name(s);
		origin_of(s, path, origin, sizeof origin);
		if (!strcmp(key, "type") || !strcmp(key, "name"))
			continue;
		if (!strcmp(key, "inputs")) {
			if ((rc = read_inputs(s, origin, name, l)))
				return rc;
			continue;
		}
		snprintf(where, sizeof where, "layer \"%s\"", name);
		if ((rc = value_text(s, origin, where, &value)))
			return rc;
		if ((rc = kv_append(&l->attrs, &l->n_attrs, key, value, origin)))
			return rc;
	}
	return MX_OK;
}

static int read_net(const config_setting_t *net, const char *path, struct mx_conf *c)
{
	char origin[ORIGIN_MAX];
	int n, rc;
	origin_of(net, path, origin, sizeof origin);
	if (!config_setting_is_list(net) && !(config_setting_is_array(net) && config_setting_length(net) == 0))
		return mx_error(MX_ERR_INVALID, "%s: net is %s; write net = ( { type = \"...\"; ... }, ... );", origin,
				type_word(config_setting_type(net)));
	n = config_setting_length(net);
	if (n && !(c->layers = calloc(n, sizeof *c->layers)))
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	for (int i = 0; i < n; i++) {
		c->n_layers = i + 1;
		if ((rc = read_layer(net, i, path, &c->layers[i])))
			return rc;
	}
	return MX_OK;
}

/* Accepts "cpu", "gpu" and "gpu:N". */
static int read_device(const config_setting_t *s, const char *path, struct mx_conf *c)
{
	char origin[ORIGIN_MAX];
	const char *v, *p;
	int ok;
	origin_of(s, path, origin, sizeof origin);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return mx_error(MX_ERR_INVALID, "%s: device is %s; write device = \"cpu\"; or \"gpu:0\"", origin,
				type_word(config_setting_type(s)));
	v = config_setting_get_string(s);
	ok = !strcmp(v, "cpu") || !strcmp(v, "gpu");
	if (!ok && !strncmp(v, "gpu:", 4) && v[4] && strlen(v) < 10) {
		for (p = v + 4; isdigit((unsigned char)*p); p++)
			;
		ok = !*p;
	}
	if (!ok)
		return mx_error(MX_ERR_INVALID, "%s: device \"%s\" is not cpu, gpu or gpu:N", origin, v);
	snprintf(c->device, sizeof c->device, "%s", v);
	free(c->device_origin);
	if (!(c->device_origin = dup_str(origin)))
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
	return MX_OK;
}

static int read_tree(const config_t *cfg, struct mx_conf *c)
{
	const config_setting_t *root = config_root_setting(cfg);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, i);
		const char *name = config_setting_name(s), *near;
		char origin[ORIGIN_MAX];
		int rc;
		if (!strcmp(name, "data"))
			rc = read_data(s, c->path, c);
		else if (!strcmp(name, "net"))
			rc = read_net(s, c->path, c);
		else if (!strcmp(name, "solver"))
			rc = read_section(s, c->path, "solver", &c->solver);
		else if (!strcmp(name, "model"))
			rc = read_section(s, c->path, "model", &c->model);
		else if (!strcmp(name, "device"))
			rc = read_device(s, c->path, c);
		else {
			origin_of(s, c->path, origin, sizeof origin);
			near = nearest_name(top_sections, name);
			if (near)
				return mx_error(MX_ERR_INVALID, "%s: unknown section \"%s\" (did you mean \"%s\"?)", origin,
						name, near);
			return mx_error(MX_ERR_INVALID,
					"%s: unknown section \"%s\" (sections: data, net, solver, model, device)", origin,
					name);
		}
		if (rc)
			return rc;
	}
	return MX_OK;
}

/* Reads the whole file (a pipe too) into a new string; the caller frees it. Returns
 * MX_OK, MX_ERR_IO naming path and the reason, or MX_ERR_INVALID for a NUL byte. */
static int read_text(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL, *bigger;
	size_t len = 0, cap = 0;
	int rc = MX_OK;
	*out = NULL;
	if (!f)
		return mx_error(MX_ERR_IO, "%s: %s", path, strerror(errno));
	while (!rc && !feof(f)) {
		if (len + 1 >= cap) {
			if (!(bigger = realloc(text, cap ? 2 * cap : 4096))) {
				rc = mx_error(MX_ERR_NOMEM, "%s: out of memory", path);
				break;
			}
			text = bigger;
			cap = cap ? 2 * cap : 4096;
		}
		len += fread(text + len, 1, cap - len - 1, f);
		if (ferror(f))
			rc = mx_error(MX_ERR_IO, "%s: %s", path, strerror(errno));
	}
	fclose(f);
	if (!rc) {
		text[len] = '\0';
		if (strlen(text) != len)
			rc = mx_error(MX_ERR_INVALID, "%s: byte %zu is NUL; a .conf is text", path, strlen(text));
		/* libconfig 1.5 calls a # comment on a last line without '\n' a syntax error. A
		 * short read ended the loop, so there is room for the '\n'. */
		else if (!len || text[len - 1] != '\n')
			strcpy(text + len, "\n");
	}
	if (rc)
		free(text);
	else
		*out = text;
	return rc;
}

/* ---- the strict ';' check ----
 *
 * libconfig takes the ';' after a setting as optional, so `lr = 0.1 momentum = 0.9;`
 * loads without a word. Our contract writes every setting `name = value;` (',' is
 * accepted, as libconfig does). This walks the tokens of text libconfig has already
 * parsed, so the structure is known good, and reads @include'd files inline where the
 * directive stands, as libconfig does. Overrides are not files and are not checked. */

#define STRICT_FILES_MAX 64

struct strict_file {
	char *text, *path; /* owned; text is NULL for the top file (the caller's) */
	const char *p;
	int line, parent;  /* parent: the file that includes this one, -1 for the top */
};

struct strict_lexer {
	struct strict_file files[STRICT_FILES_MAX]; /* every file opened, freed at the end */
	int n_files, cur;    /* cur: the file being read */
	const char *dir;     /* libconfig's include directory */
	int tok;             /* a punctuation char, 'w' (name, number, bool), '"' (string) or 0 (end) */
	char word[128];
	int file, line;         /* place of the current token's end */
	int end_file, end_line; /* place of the last token of the last value */
};

/* Pushes a file: text as given, or read from path when NULL. */
static int strict_open(struct strict_lexer *lx, const char *path, const char *text)
{
	struct strict_file *f = &lx->files[lx->n_files];
	int rc;
	if (lx->n_files == STRICT_FILES_MAX) /* libconfig itself limits only the depth */
		return mx_error(MX_ERR_INVALID, "%s: too many @include files", path);
	if (!text && (rc = read_text(path, &f->text)))
		return rc;
	if (!(f->path = strdup(path))) {
		free(f->text);
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", path);
	}
	f->p = text ? text : f->text;
	f->line = 1;
	f->parent = lx->cur;
	lx->cur = lx->n_files++;
	return MX_OK;
}

/* Moves f on to end, counting the lines passed. */
static void strict_skip(struct strict_file *f, const char *end)
{
	for (; f->p < end; f->p++)
		f->line += *f->p == '\n';
}

/* Reads the next token into lx->tok; an @include "name" line continues in that file. */
static int strict_lex(struct strict_lexer *lx)
{
	for (;;) {
		struct strict_file *f = &lx->files[lx->cur];
		const char *p = f->p, *q;
		char name[1024], full[4096];
		size_t n = 0;
		int rc;
		while (isspace((unsigned char)*p))
			p++;
		strict_skip(f, p);
		if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			strict_skip(f, p + strcspn(p, "\n"));
		} else if (p[0] == '/' && p[1] == '*') {
			strict_skip(f, (q = strstr(p + 2, "*/")) ? q + 2 : p + strlen(p));
		} else if (!*p && f->parent >= 0) {
			lx->cur = f->parent;
		} else if (!strncmp(p, "@include", 8)) {
			q = p + 8 + strcspn(p + 8, "\"");
			for (q += *q == '"'; *q && *q != '"'; q++) {
				q += *q == '\\' && q[1]; /* \\ and \" */
				if (n < sizeof name - 1)
					name[n++] = *q;
			}
			name[n] = '\0';
			strict_skip(f, *q ? q + 1 : q);
			include_path(lx->dir, name, full, sizeof full);
			if ((rc = strict_open(lx, full, NULL)))
				return rc;
		} else {
			lx->tok = *p;
			q = *p ? p + 1 : p;
			if (*p == '"') {
				for (; *q && *q != '"'; q++)
					q += *q == '\\' && q[1];
				q += *q == '"';
			} else if (isalnum((unsigned char)*p) || (*p && strchr("+-.*_", *p))) {
				for (q = p; *q && (isalnum((unsigned char)*q) || strchr("+-.*_", *q)); q++)
					;
				lx->tok = 'w';
				snprintf(lx->word, sizeof lx->word, "%.*s", (int)(q - p), p);
			}
			strict_skip(f, q);
			lx->file = lx->cur;
			lx->line = f->line;
			return MX_OK;
		}
	}
}

static int strict_settings(struct strict_lexer *lx);

/* Reads the value at the current token and stops on the token after it, having noted
 * the place of its last token in lx->end_*. Adjacent strings are one value. */
static int strict_value(struct strict_lexer *lx)
{
	int open = lx->tok, close = open == '{' ? '}' : open == '[' ? ']' : open == '(' ? ')' : 0, rc;
	if (!close) {
		do {
			lx->end_file = lx->file;
			lx->end_line = lx->line;
		} while (!(rc = strict_lex(lx)) && open == '"' && lx->tok == '"');
		return rc;
	}
	rc = strict_lex(lx);
	if (!rc && close == '}')
		rc = strict_settings(lx);
	/* Elements of lists and arrays (groups among them) are values separated by ','. */
	while (!rc && close != '}' && lx->tok && lx->tok != close)
		if (!(rc = strict_value(lx)) && lx->tok == ',')
			rc = strict_lex(lx);
	lx->end_file = lx->file;
	lx->end_line = lx->line;
	return rc ? rc : strict_lex(lx);
}

/* Reads `name = value;` settings while they come. The line reported is the line of the
 * value's end, where the ';' belongs, not that of the token after it. */
static int strict_settings(struct strict_lexer *lx)
{
	int rc = MX_OK;
	while (!rc && lx->tok == 'w') {
		char name[sizeof lx->word];
		snprintf(name, sizeof name, "%s", lx->word);
		/* the name, then '=' or ':', then the value */
		if ((rc = strict_lex(lx)) || (rc = strict_lex(lx)) || (rc = strict_value(lx)))
			break;
		if (lx->tok == ';' || lx->tok == ',')
			rc = strict_lex(lx);
		else
			rc = mx_error(MX_ERR_INVALID, "%s:%d: missing ';' after \"%s = ...\"",
				      lx->files[lx->end_file].path, lx->end_line, name);
	}
	return rc;
}

/* Checks that every setting in text (read from path) and in the files it includes from
 * dir ends in ';' or ','. Returns MX_OK, or MX_ERR_INVALID naming file:line. */
static int strict_check(const char *text, const char *path, const char *dir)
{
	struct strict_lexer lx = {.cur = -1, .dir = dir};
	int rc = strict_open(&lx, path, text);
	if (!rc && !(rc = strict_lex(&lx)))
		rc = strict_settings(&lx);
	for (int i = 0; i < lx.n_files; i++) {
		free(lx.files[i].text);
		free(lx.files[i].path);
	}
	return rc;
}

int conf_load(const char *path, const char *const *overrides, int n_overrides, struct mx_conf **out)
{
	config_t cfg;
	struct mx_conf *c;
	char dir[4096], *text;
	int rc;
	*out = NULL;
	/* Read it ourselves: libconfig reports only "file I/O error" without the reason, and
	 * the strict check reads the same text (a pipe can be read only once). */
	if ((rc = read_text(path, &text)))
		return rc;
	if (!(c = calloc(1, sizeof *c)) || !(c->path = strdup(path))) {
		free(c);
		free(text);
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", path);
	}
	snprintf(c->device, sizeof c->device, "cpu");
	config_init(&cfg);
	dir_of(path, dir, sizeof dir);
	config_set_include_dir(&cfg, dir);
	if (!config_read_string(&cfg, text)) {
		char file[4096];
		/* The error's file is NULL in our text, an @include's name as written elsewhere. */
		if (config_error_file(&cfg))
			include_path(dir, config_error_file(&cfg), file, sizeof file);
		else
			snprintf(file, sizeof file, "%s", path);
		rc = mx_error(MX_ERR_INVALID, "%s:%d: %s", file, config_error_line(&cfg), config_error_text(&cfg));
		goto done;
	}
	if ((rc = strict_check(text, path, dir)))
		goto done;
	for (int i = 0; i < n_overrides; i++)
		if ((rc = apply_override(&cfg, overrides[i])))
			goto done;
	rc = read_tree(&cfg, c);
done:
	config_destroy(&cfg);
	free(text);
	if (rc) {
		conf_free(c);
		return rc;
	}
	*out = c;
	return MX_OK;
}

static void section_free(struct conf_section *s)
{
	kv_free(s->kv, s->n);
	free(s->origin);
}

void conf_free(struct mx_conf *c)
{
	if (!c)
		return;
	section_free(&c->train);
	section_free(&c->eval);
	section_free(&c->solver);
	section_free(&c->model);
	for (int i = 0; i < c->n_layers; i++) {
		struct conf_layer *l = &c->layers[i];
		free(l->type);
		free(l->name);
		for (int j = 0; j < l->n_inputs; j++)
			free(l->inputs[j]);
		free(l->inputs);
		kv_free(l->attrs, l->n_attrs);
		free(l->origin);
	}
	free(c->layers);
	free(c->device_origin);
	free(c->path);
	free(c);
}

/* ---- lowering to a graph ---- */

/* Checks each attribute against the operator's parameter table on its own, so an
 * unknown key or a bad value names the line of that key, not only the layer's (the
 * message reads as graph_add_op's does). */
static int check_layer_attrs(const struct conf_layer *l, const struct op_desc *op)
{
	void *param = op_param_new(op);
	int rc = MX_OK;
	if (!param)
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", l->origin);
	for (int i = 0; i < l->n_attrs && !rc; i++) {
		/* "__x__" keys are MXNet's symbol attributes (__lr_mult__ ...), not parameters. */
		if (!strncmp(l->attrs[i].key, "__", 2))
			continue;
		if ((rc = param_set(op->params, param, l->attrs[i].key, l->attrs[i].value)))
			mx_error_prefix(rc, "%s: layer %s (%s)", l->attrs[i].origin, l->name, op->name);
	}
	free(param);
	return rc;
}

/* Resolves the layer's inputs to graph entries (output 0 of each named node). */
static int resolve_inputs(const struct mx_conf *c, int index, const struct graph *g, struct graph_entry *entries)
{
	const struct conf_layer *l = &c->layers[index];
	for (int i = 0; i < l->n_inputs; i++) {
		const char *want = l->inputs[i], *near;
		const char **names;
		int node = graph_find(g, want), k = 0;
		if (node >= 0) {
			entries[i] = (struct graph_entry){node, 0};
			continue;
		}
		for (int j = index; j < c->n_layers; j++)
			if (!strcmp(c->layers[j].name, want))
				return mx_error(MX_ERR_INVALID,
						"%s: layer \"%s\": input \"%s\" is defined at or after this layer (%s); "
						"a layer's inputs must come before it",
						l->origin, l->name, want, c->layers[j].origin);
		if (!(names = calloc(index + 2, sizeof *names)))
			return mx_error(MX_ERR_NOMEM, "%s: out of memory", l->origin);
		names[k++] = "data";
		for (int j = 0; j < index; j++)
			names[k++] = c->layers[j].name;
		near = nearest_name(names, want);
		if (near)
			mx_error(MX_ERR_INVALID, "%s: layer \"%s\": unknown input layer \"%s\" (did you mean \"%s\"?)",
				 l->origin, l->name, want, near);
		else
			mx_error(MX_ERR_INVALID, "%s: layer \"%s\": unknown input layer \"%s\"", l->origin, l->name, want);
		free(names);
		return MX_ERR_INVALID;
	}
	return MX_OK;
}

/* Adds one layer; on success *node is its node id. */
static int add_layer(const struct mx_conf *c, int index, struct graph *g, int prev, int *node)
{
	const struct conf_layer *l = &c->layers[index];
	const struct op_desc *op = op_find(l->type);
	const char **keys = NULL, **values = NULL;
	struct graph_entry *inputs = NULL;
	char num_args[16];
	int n_attrs = l->n_attrs, n_inputs = l->n_inputs ? l->n_inputs : 1, rc = MX_OK;
	if (!op || (op->flags & OP_INTERNAL)) {
		const char *near = op_nearest(l->type);
		if (near)
			return mx_error(MX_ERR_INVALID, "%s: layer \"%s\": unknown layer type \"%s\" (did you mean \"%s\"?)",
					l->origin, l->name, l->type, near);
		return mx_error(MX_ERR_INVALID, "%s: layer \"%s\": unknown layer type \"%s\"", l->origin, l->name,
				l->type);
	}
	if ((rc = check_layer_attrs(l, op)))
		return rc;
	keys = calloc(n_attrs + 1, sizeof *keys);
	values = calloc(n_attrs + 1, sizeof *values);
	inputs = calloc(n_inputs, sizeof *inputs);
	if (!keys || !values || !inputs) {
		rc = mx_error(MX_ERR_NOMEM, "%s: out of memory", l->origin);
		goto done;
	}
	for (int i = 0; i < n_attrs; i++) {
		keys[i] = l->attrs[i].key;
		values[i] = l->attrs[i].value;
	}
	if (l->n_inputs) {
		if ((rc = resolve_inputs(c, index, g, inputs)))
			goto done;
	} else {
		inputs[0] = (struct graph_entry){prev, 0};
	}
	/* Variadic layers (ElementWiseSum, Concat) count their inputs in num_args. */
	if (op->n_data_inputs < 0 && l->n_inputs && param_find(op->params, "num_args")) {
		int given = -1;
		for (int i = 0; i < n_attrs; i++)
			if (!strcmp(keys[i], "num_args"))
				given = atoi(values[i]);
		if (given < 0) {
			snprintf(num_args, sizeof num_args, "%d", l->n_inputs);
			keys[n_attrs] = "num_args";
			values[n_attrs++] = num_args;
		} else if (given != l->n_inputs) {
			rc = mx_error(MX_ERR_INVALID, "%s: layer \"%s\": num_args = %d but inputs names %d layers", l->origin,
				      l->name, given, l->n_inputs);
			goto done;
		}
	}
	*node = graph_add_op(g, op, l->name, keys, values, n_attrs, inputs, n_inputs, l->origin);
	if (*node < 0) {
		rc = MX_ERR_INVALID;
		/* graph_add_op names the layer after origin; add the place only if it did not. */
		if (strncmp(mx_error_message(), l->origin, strlen(l->origin)))
			mx_error_prefix(rc, "%s: layer \"%s\"", l->origin, l->name);
	}
done:
	free(keys);
	free(values);
	free(inputs);
	return rc;
}

int conf_build_graph(const struct mx_conf *c, struct graph **out)
{
	struct graph *g;
	int prev, rc = MX_OK;
	*out = NULL;
	if (!c->n_layers)
		return mx_error(MX_ERR_INVALID, "%s: no layers: write net = ( { type = \"...\"; ... }, ... );", c->path);
	if (!(g = graph_new()))
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", c->path);
	if ((prev = graph_add_variable(g, "data", NODE_DATA)) < 0) {
		rc = mx_error_prefix(MX_ERR_INVALID, "%s", c->path);
		goto done;
	}
	for (int i = 0; i < c->n_layers; i++) {
		int node = -1;
		if ((rc = add_layer(c, i, g, prev, &node)))
			goto done;
		prev = node;
	}
	if ((rc = graph_set_heads(g, &(struct graph_entry){prev, 0}, 1)))
		goto done;
done:
	if (rc) {
		graph_free(g);
		return rc;
	}
	*out = g;
	return MX_OK;
}

/* ---- sections to parameter tables ---- */

/* Does not set defaults first: the caller runs param_defaults() (or its own values)
 * before, so a section only changes the keys it names. */
int conf_apply_section(const struct conf_section *s, const char *section_name,
		       const struct param_spec *specs, void *obj)
{
	for (int i = 0; i < s->n; i++) {
		int rc = param_set(specs, obj, s->kv[i].key, s->kv[i].value);
		if (rc)
			return mx_error_prefix(rc, "%s: %s", s->kv[i].origin ? s->kv[i].origin : "?", section_name);
	}
	return MX_OK;
}
