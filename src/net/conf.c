/* conf.c: the .conf reader: a libconfig tree, command-line overrides applied to it, then
 * sections, layers and the device as text with their file:line; and its lowering to a graph.
 *
 * Layers. Each entry of `net = ( ... );` is a layer: { type = "Convolution"; name = "conv1";
 * inputs = ["a", "b"]; <operator keys>; lr_mult = 2; wd_mult = 0; }. Without inputs a layer
 * reads the entry before it (the data for the first). Without a name it is named as MXNet
 * names: its type in lower case and a counter ("convolution0"). lr_mult and wd_mult are
 * MXNet's __lr_mult__ / __wd_mult__, which the layer's weights and biases inherit.
 *
 * Blocks: a group of layers written once and used many times (a ResNet unit). A top-level
 * section defines each block as a layer list:
 *
 *   blocks = {
 *     basic = (                                  # a pre-activation residual unit
 *       { type = "BatchNorm"; name = "bn1"; fix_gamma = false; },
 *       { type = "Activation"; name = "relu1"; act_type = "relu"; },
 *       { type = "Convolution"; name = "conv1"; num_filter = "$filters"; kernel = [3, 3];
 *         stride = ["$stride", "$stride"]; pad = [1, 1]; no_bias = true; },
 *       ...
 *       { type = "elemwise_add"; name = "plus"; inputs = ["conv2", "$in"]; }
 *     );
 *   };
 *
 * A block may also be a group that gives default args beside its layers:
 *
 *   basic = { args = { stride = 1; }; layers = ( ... ); };
 *
 * and an entry of net (or of another block) with a `block` key uses it:
 *
 *   { block = "basic"; name = "stage1_unit2"; inputs = ["stage1_unit1"];
 *     args = { filters = 64; stride = 1; }; repeat = 2; },
 *
 * A use takes block, name (required), inputs, args and repeat (default 1), and makes a
 * unit: the block's layers again, each named "<unit>_<name>" (stage1_unit2_conv1); an
 * unnamed layer gets its automatic name after the prefix (stage1_unit2_convolution0).
 * Inside a block:
 *   - $var or ${var} in a string value is replaced by the unit's variable: an entry of
 *     args (its value as text: numbers, strings, lists) or a default, $name (the unit's
 *     name) or $in (its inputs). A string that becomes a number is a number ("$filters"
 *     -> 64), and a list whose elements all become numbers is a list of numbers (["$k",
 *     "$k"] -> (3, 3)). $$ is a '$'.
 *   - inputs name entries of the same block by their names as written ("conv1"), and
 *     "$in" is the unit's input. The first layer reads $in unless it names its inputs. A
 *     name made from a variable ("$side", given in args) is taken as it is, so layers
 *     outside the unit come in through args; any other name is an error.
 *   - A layer whose name holds a variable is named exactly so ("conv_$name" ->
 *     "conv_3a_1x1", MXNet's Inception naming); such names are not prefixed.
 *   - An entry may use another block (units nest, 16 deep at most); its name is
 *     prefixed in turn and its args may use the outer unit's variables.
 * A unit's input is its inputs, else the entry before it. Its output is its last layer:
 * later entries name the unit to read it (inputs = ["stage1_unit2"]). With repeat = N the
 * block is used N times in a chain, each fed by the one before; the units count up the
 * number ending the name (stage1_unit2, stage1_unit3), or take _2, _3 when there is none.
 * Errors name the line in the block and the use: "net.conf:31 (block "basic" used at
 * net.conf:75): layer "stage1_unit1_conv1": unknown variable "$filter" (did you mean
 * "$filters"?)"; an argument the block never uses is an error at its own line; an unknown
 * block suggests the nearest. Blocks may come from @include files (relative to the .conf).
 * Overrides reach a unit's entry: net.stage1_unit2.repeat=4, net.stage1_unit1.args.filters=32. */
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

static const char *const top_sections[] = {"data", "net", "blocks", "solver", "model", "device", NULL};
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
	/* A layer a block made: its unit's name (less the repeat number) begins its name. */
	for (int i = 0; i < n; i++) {
		config_setting_t *use = config_setting_get_elem(net, i);
		const char *unit = given_name(use);
		size_t stem = unit ? strlen(unit) : 0;
		while (stem > 0 && isdigit((unsigned char)unit[stem - 1]))
			stem--;
		if (unit && config_setting_get_member(use, "block") && stem && !strncmp(name, unit, stem)) {
			mx_error(MX_ERR_INVALID, "override \"%s\": no layer named \"%s\" in net; a block makes the layers "
				 "of unit \"%s\": override its args (net.%s.args.<key>=value)", override_text, name, unit,
				 unit);
			return NULL;
		}
	}
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
		/* net.<unit>.args.<key>: an argument of a use of a block */
		want = n_parts == 4 && !strcmp(parts[2], "args") ? 4 : 3;
		form = "net.<layer name>.<key>=value or net.<unit>.args.<key>=value";
	} else if (!strcmp(parts[0], "blocks")) {
		return mx_error(MX_ERR_INVALID, "override \"%s\": blocks cannot be overridden; override a unit that uses "
				"one: net.<unit>.args.<key>=value", text);
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
		if (want == 4) {
			char where[600];
			snprintf(where, sizeof where, "net.%s.args", parts[1]);
			if (!config_setting_get_member(parent, "block"))
				return mx_error(MX_ERR_INVALID, "override \"%s\": %s is a layer, not a use of a block", text,
						parts[1]);
			if (!(parent = child_group(parent, "args", text, where)))
				return MX_ERR_INVALID;
		}
		return set_override_value(parent, parts[want - 1], value, text);
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

/* ---- the layer list and blocks ----
 *
 * The net list is read entry by entry into conf_layer records. An entry with a `block`
 * key is a use of a block: the block's layer list is read again in a scope of its own
 * (its unit), with the unit's variables substituted and its names prefixed, once per
 * repeat. See the syntax at the top of this file. */

#define PLACE_MAX 4096       /* an origin with its chain of block uses */
#define NAME_MAX_LEN 256
#define BLOCK_DEPTH_MAX 16
#define REPEAT_MAX 10000

static const char *const use_keys[] = {"block", "name", "inputs", "args", "repeat", NULL};

/* A growable list of owned strings (entries may be NULL). */
struct names {
	char **v;
	int n;
};

static int names_add(struct names *s, const char *str)
{
	char **p = realloc(s->v, (s->n + 1) * sizeof *p);
	if (!p)
		return -1;
	s->v = p;
	p[s->n] = NULL;
	if (str && !(p[s->n] = strdup(str)))
		return -1;
	s->n++;
	return 0;
}

/* Points the entry key of a local/full pair that waits for its layer (full NULL) at
 * value, or adds the pair. Returns 0, or -1 out of memory. */
static int names_set(struct names *local, struct names *full, const char *key, const char *value)
{
	for (int i = 0; i < local->n; i++)
		if (local->v[i] && !full->v[i] && !strcmp(local->v[i], key))
			return (full->v[i] = strdup(value)) ? 0 : -1;
	return names_add(local, key) || names_add(full, value) ? -1 : 0;
}

static void names_free(struct names *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int names_find(const struct names *s, const char *str)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i] && !strcmp(s->v[i], str))
			return i;
	return -1;
}

/* A variable of a unit: $in, $name, or one of its args. */
struct block_var {
	char *name;
	char *text;
};

/* Where entries are read: the net list itself (block NULL), or one unit of a block. */
struct scope {
	const char *block;          /* the block's name; NULL for the net list */
	const char *unit;           /* the unit's name, the prefix of its layers' names */
	const char *use_origin;     /* the place of the use, with its own chain */
	struct block_var *vars;     /* $in, $name, then the args */
	int n_vars;
	struct names in;            /* the unit's inputs (layer names) */
	/* Names that entries of this list answer to, and the layer each stands for: in a
	 * unit, every entry of the block by its local name (NULL for a unit not read yet);
	 * at the net level, the units (a unit's name stands for its last layer). */
	struct names local, full;
	int depth;
};

/* One read of the net list. */
struct expand {
	struct mx_conf *c;
	const config_setting_t *blocks;  /* the top-level blocks group, or NULL */
	const char *path;
};

static int no_memory(const char *origin)
{
	return mx_error(MX_ERR_NOMEM, "%s: out of memory", origin);
}

/* The origin of s read in scope sc: its file:line, and inside a unit the block and the
 * place of the use ("net.conf:12 (block \"basic\" used at net.conf:40)"). */
static void place(const struct scope *sc, const config_setting_t *s, const char *path, char *buf, size_t size)
{
	char here[ORIGIN_MAX];
	origin_of(s, path, here, sizeof here);
	if (sc->block)
		snprintf(buf, size, "%s (block \"%s\" used at %s)", here, sc->block, sc->use_origin);
	else
		snprintf(buf, size, "%s", here);
}

/* The variable reference after a '$': "name" or "{name}". Copies the name into buf and
 * returns the characters it takes, or 0 when there is none. */
static size_t var_ref(const char *p, char *buf, size_t size)
{
	size_t n = 0;
	int braced = *p == '{';
	p += braced;
	if (!isalpha((unsigned char)*p) && *p != '_')
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	if (braced && p[n] != '}')
		return 0;
	snprintf(buf, size, "%.*s", (int)n, p);
	return n + 2 * braced;
}

static struct block_var *find_var(const struct scope *sc, const char *name)
{
	for (int i = 0; i < sc->n_vars; i++)
		if (!strcmp(sc->vars[i].name, name))
			return &sc->vars[i];
	return NULL;
}

static int unknown_var(const struct scope *sc, const char *name, const char *origin, const char *who)
{
	const char *names[64];
	const char *near;
	int n = 0;
	for (int i = 0; i < sc->n_vars && n < 63; i++)
		names[n++] = sc->vars[i].name;
	names[n] = NULL;
	near = nearest_name(names, name);
	if (near)
		return mx_error(MX_ERR_INVALID, "%s: %s: unknown variable \"$%s\" (did you mean \"$%s\"?)", origin, who,
				name, near);
	return mx_error(MX_ERR_INVALID, "%s: %s: unknown variable \"$%s\" (unit \"%s\" sets $in, $name and its args)",
			origin, who, name, sc->unit);
}

/* Replaces $var and ${var} in text by the scope's variables ("$$" is a '$'); at the net
 * level text stays as it is. *out is new (the caller frees it). Errors name origin and
 * who ("layer \"stage1_unit1_conv1\""). */
static int subst(const struct scope *sc, const char *text, const char *origin, const char *who, char **out)
{
	struct text t = {0};
	const char *p = text;
	*out = NULL;
	while (sc->block && *p) {
		const char *dollar = strchr(p, '$');
		const struct block_var *v;
		char name[NAME_MAX_LEN];
		size_t n;
		if (!dollar)
			break;
		text_add(&t, "%.*s", (int)(dollar - p), p);
		if (dollar[1] == '$') {
			text_add(&t, "$");
			p = dollar + 2;
			continue;
		}
		if (!(n = var_ref(dollar + 1, name, sizeof name))) {
			free(t.buf);
			return mx_error(MX_ERR_INVALID,
					"%s: %s: \"%s\": '$' starts a variable ($filters or ${filters}); write $$ for a '$'",
					origin, who, text);
		}
		if (!(v = find_var(sc, name))) {
			free(t.buf);
			return unknown_var(sc, name, origin, who);
		}
		text_add(&t, "%s", v->text);
		p = dollar + 1 + n;
	}
	text_add(&t, "%s", p);
	if (t.failed) {
		free(t.buf);
		return no_memory(origin);
	}
	*out = t.buf;
	return MX_OK;
}

/* Collects the names of the variables that strings in s refer to. */
static int scan_refs(const config_setting_t *s, struct names *refs)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *p = config_setting_get_string(s);
		while ((p = strchr(p, '$'))) {
			char name[NAME_MAX_LEN];
			size_t n = p[1] == '$' ? 1 : var_ref(p + 1, name, sizeof name);
			if (n && p[1] != '$' && names_find(refs, name) < 0 && names_add(refs, name))
				return -1;
			p += 1 + n;
		}
	} else if (config_setting_is_aggregate(s)) {
		for (int i = 0; i < config_setting_length(s); i++)
			if (scan_refs(config_setting_get_elem(s, i), refs))
				return -1;
	}
	return 0;
}

static int is_number(const char *s)
{
	char *end;
	errno = 0;
	strtod(s, &end);
	return *s && !*end && !isspace((unsigned char)*s);
}

/* value_text inside a unit: strings have their variables replaced, and a list whose
 * elements all read as numbers afterwards is a list of numbers: kernel = ["$k", "$k"]
 * gives "(3, 3)". */
static int scoped_value_text(const struct scope *sc, const config_setting_t *s, const char *origin, const char *who,
			     char **out)
{
	int type = config_setting_type(s), n, numbers = 1, rc = MX_OK;
	struct text t = {0};
	char **parts;
	if (!sc->block || (type != CONFIG_TYPE_STRING && type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST))
		return value_text(s, origin, who, out);
	if (type == CONFIG_TYPE_STRING)
		return subst(sc, config_setting_get_string(s), origin, who, out);
	n = config_setting_length(s);
	if (!(parts = calloc(n ? n : 1, sizeof *parts)))
		return no_memory(origin);
	for (int i = 0; i < n && !rc; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		struct text one = {0};
		if (config_setting_type(e) == CONFIG_TYPE_STRING) {
			rc = subst(sc, config_setting_get_string(e), origin, who, &parts[i]);
		} else if (config_setting_is_scalar(e)) {
			scalar_text(e, &one);
			if (!(parts[i] = one.buf))
				rc = no_memory(origin);
		} else {
			rc = value_text(s, origin, who, &parts[i]); /* its message about the element */
		}
		if (!rc)
			numbers &= is_number(parts[i]);
	}
	if (!rc) {
		text_add(&t, "%s", numbers ? "(" : "");
		for (int i = 0; i < n; i++)
			text_add(&t, "%s%s", i ? (numbers ? ", " : ",") : "", parts[i]);
		text_add(&t, "%s", numbers ? ")" : "");
		if (t.failed)
			rc = no_memory(origin);
	}
	for (int i = 0; i < n; i++)
		free(parts[i]);
	free(parts);
	if (rc)
		free(t.buf);
	else
		*out = t.buf;
	return rc;
}

/* The full name of an entry whose local name is local: at the net level local itself;
 * in a unit, local with its variables replaced when it has any (the author spells the
 * whole name: "conv_$name"), else "<unit>_<local>". */
static int full_name(const struct scope *sc, const char *local, const char *origin, const char *who, char **out)
{
	char buf[2 * NAME_MAX_LEN];
	if (sc->block && strchr(local, '$'))
		return subst(sc, local, origin, who, out);
	if (sc->block)
		snprintf(buf, sizeof buf, "%s_%s", sc->unit, local);
	else
		snprintf(buf, sizeof buf, "%s", local);
	if (!(*out = strdup(buf)))
		return no_memory(origin);
	return MX_OK;
}

/* The name unit repeat r (0-based) has: name's final number counted up r times
 * (stage1_unit1 -> stage1_unit3 for r = 2), or name_<r+1> when it has none. */
static void repeat_name(const char *name, int r, char *buf, size_t size)
{
	size_t len = strlen(name), d = len;
	while (d > 0 && isdigit((unsigned char)name[d - 1]))
		d--;
	if (r == 0)
		snprintf(buf, size, "%s", name);
	else if (d < len && len - d < 18)
		snprintf(buf, size, "%.*s%0*lld", (int)d, name, (int)(len - d), strtoll(name + d, NULL, 10) + r);
	else
		snprintf(buf, size, "%s_%d", name, r + 1);
}

/* Reads inputs (a string or a list of strings) of the entry who into out. In a unit,
 * "$in" is the unit's inputs, a name of an entry of the block is that layer (or unit),
 * and a name made from a variable is taken as it is; at the net level a unit's name
 * stands for its last layer. */
static int read_input_names(const struct scope *sc, const config_setting_t *s, const char *origin, const char *who,
			    struct names *out)
{
	int type = config_setting_type(s);
	int n = type == CONFIG_TYPE_STRING ? 1 : config_setting_is_aggregate(s) ? config_setting_length(s) : 0;
	if (type != CONFIG_TYPE_STRING && type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return mx_error(MX_ERR_INVALID, "%s: %s: inputs is %s; write inputs = [\"a\", \"b\"];", origin, who,
				type_word(type));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = type == CONFIG_TYPE_STRING ? s : config_setting_get_elem(s, i);
		const char *written;
		char *name;
		int j, rc;
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return mx_error(MX_ERR_INVALID, "%s: %s: inputs holds %s; it names layers as strings", origin, who,
					type_word(config_setting_type(e)));
		written = config_setting_get_string(e);
		if (sc->block && (!strcmp(written, "$in") || !strcmp(written, "${in}"))) {
			for (int k = 0; k < sc->in.n; k++)
				if (names_add(out, sc->in.v[k]))
					return no_memory(origin);
			continue;
		}
		if ((rc = subst(sc, written, origin, who, &name)))
			return rc;
		j = names_find(&sc->local, name);
		if (j >= 0 && !sc->full.v[j])
			rc = mx_error(MX_ERR_INVALID, "%s: %s: input \"%s\" is a unit defined after this entry; a layer's "
				      "inputs must come before it", origin, who, name);
		else if (j < 0 && sc->block && !strchr(written, '$')) {
			const char **names = calloc(sc->local.n + 1, sizeof *names), *near = NULL;
			for (int k = 0; names && k < sc->local.n; k++)
				names[k] = sc->local.v[k];
			if (names)
				near = nearest_name(names, name);
			free(names);
			rc = mx_error(MX_ERR_INVALID,
				      "%s: %s: input \"%s\" is not a layer of block \"%s\"%s%s%s; the unit's input is \"$in\" "
				      "and other layers come in through args", origin, who, name, sc->block,
				      near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
		} else if (names_add(out, j >= 0 ? sc->full.v[j] : name)) {
			rc = no_memory(origin);
		}
		free(name);
		if (rc)
			return rc;
	}
	return MX_OK;
}

static struct conf_layer *layer_append(struct mx_conf *c)
{
	struct conf_layer *p = realloc(c->layers, (c->n_layers + 1) * sizeof *p);
	if (!p)
		return NULL;
	c->layers = p;
	memset(&p[c->n_layers], 0, sizeof *p);
	return &p[c->n_layers++];
}

/* lr_mult and wd_mult are MXNet's hidden attributes __lr_mult__ and __wd_mult__, which
 * graph_add_op copies onto the layer's learnable variables. Returns the key to store. */
static const char *layer_key(const char *key)
{
	if (!strcmp(key, "lr_mult"))
		return "__lr_mult__";
	if (!strcmp(key, "wd_mult"))
		return "__wd_mult__";
	return key;
}

/* Reads layer `index` of list (the net list or a block's) into a new conf_layer. */
static int read_layer(struct expand *x, struct scope *sc, const config_setting_t *list, int index)
{
	const config_setting_t *g = config_setting_get_elem(list, index), *s;
	char origin[PLACE_MAX], where[NAME_MAX_LEN + 16], local[NAME_MAX_LEN];
	struct conf_layer *l;
	struct names inputs = {0};
	int rc = MX_OK;
	place(sc, g, x->path, origin, sizeof origin);
	if (!(l = layer_append(x->c)) || !(l->origin = dup_str(origin)))
		return no_memory(origin);
	if (!config_setting_is_group(g))
		return mx_error(MX_ERR_INVALID, "%s: layer %d is %s; write { type = \"...\"; ... }", origin, index + 1,
				type_word(config_setting_type(g)));
	s = config_setting_get_member(g, "type");
	if (!s)
		return mx_error(MX_ERR_INVALID, "%s: layer %d: missing type", origin, index + 1);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		place(sc, s, x->path, origin, sizeof origin);
		return mx_error(MX_ERR_INVALID, "%s: layer %d: type is %s; write type = \"FullyConnected\";", origin,
				index + 1, type_word(config_setting_type(s)));
	}
	if ((s = config_setting_get_member(g, "name")) && config_setting_type(s) != CONFIG_TYPE_STRING) {
		place(sc, s, x->path, origin, sizeof origin);
		return mx_error(MX_ERR_INVALID, "%s: layer %d: name is %s; write name = \"fc1\";", origin, index + 1,
				type_word(config_setting_type(s)));
	}
	/* In a unit the names were made before (block_names), so inputs may name any entry. */
	layer_name(list, index, local, sizeof local);
	if (sc->block ? !(l->name = dup_str(sc->full.v[index])) : !(l->name = dup_str(local)))
		return no_memory(origin);
	snprintf(where, sizeof where, "layer \"%s\"", l->name);
	if ((rc = subst(sc, config_setting_get_string(config_setting_get_member(g, "type")), origin, where, &l->type)))
		return rc;
	for (int i = 0; i < config_setting_length(g) && !rc; i++) {
		const char *key;
		char *value;
		s = config_setting_get_elem(g, i);
		key = config_setting_name(s);
		place(sc, s, x->path, origin, sizeof origin);
		if (!strcmp(key, "type") || !strcmp(key, "name"))
			continue;
		if (!strcmp(key, "inputs")) {
			if (!(rc = read_input_names(sc, s, origin, where, &inputs))) {
				l->inputs = inputs.v;
				l->n_inputs = inputs.n;
				inputs = (struct names){0};
			}
			continue;
		}
		if ((rc = scoped_value_text(sc, s, origin, where, &value)))
			break;
		if (strcmp(layer_key(key), key) && !is_number(value)) {
			rc = mx_error(MX_ERR_INVALID, "%s: %s: %s: expected a number, got \"%s\"", origin, where, key, value);
			free(value);
			break;
		}
		rc = kv_append(&l->attrs, &l->n_attrs, layer_key(key), value, origin);
	}
	names_free(&inputs);
	/* The first layer of a unit reads the unit's input unless it names its own. */
	if (!rc && sc->block && index == 0 && !l->n_inputs && !config_setting_get_member(g, "inputs")) {
		if (!(l->inputs = calloc(sc->in.n, sizeof *l->inputs)))
			return no_memory(l->origin);
		for (int k = 0; k < sc->in.n; k++)
			if (!(l->inputs[l->n_inputs++] = dup_str(sc->in.v[k])))
				return no_memory(l->origin);
	}
	return rc;
}

static int expand_list(struct expand *x, struct scope *sc, const config_setting_t *list);

/* The names of every entry of a block's list in unit sc: local names (the name as
 * written, or the automatic one) and, for layers, full names. */
static int block_names(struct expand *x, struct scope *sc, const config_setting_t *list)
{
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, i);
		char origin[PLACE_MAX], local[NAME_MAX_LEN], who[NAME_MAX_LEN + 16], *full = NULL;
		int rc;
		place(sc, g, x->path, origin, sizeof origin);
		if (!config_setting_is_group(g)) {
			if (names_add(&sc->local, "") || names_add(&sc->full, NULL))
				return no_memory(origin);
			continue;
		}
		layer_name(list, i, local, sizeof local);
		snprintf(who, sizeof who, "entry %d", i + 1);
		if ((rc = full_name(sc, local, origin, who, &full)))
			return rc;
		rc = names_add(&sc->local, strchr(local, '$') ? full : local) ||
		     names_add(&sc->full, config_setting_get_member(g, "block") ? NULL : full);
		free(full);
		if (rc)
			return no_memory(origin);
	}
	return MX_OK;
}

/* Sets the variables of a unit: $in, $name, then the args (texts made in the using scope). */
static int set_builtin_vars(struct block_var *vars, const struct names *in, const char *unit, const char *origin)
{
	struct text t = {0};
	for (int k = 0; k < in->n; k++)
		text_add(&t, "%s%s", k ? "," : "", in->v[k]);
	text_add(&t, "%s", "");
	free(vars[0].text);
	free(vars[1].text);
	vars[0].text = t.buf;
	vars[1].text = dup_str(unit);
	if (t.failed || !vars[1].text)
		return no_memory(origin);
	return MX_OK;
}

/* Finds block `name` (its list, or its group of args and layers), or reports it unknown
 * with the nearest defined one. */
static int find_block(const struct expand *x, const char *name, const char *origin, const char *who,
		      const config_setting_t **def)
{
	const char *names[257], *near;
	struct text t = {0};
	int n = 0, rc;
	if (x->blocks && (*def = config_setting_get_member(x->blocks, name)))
		return MX_OK;
	for (int i = 0; x->blocks && i < config_setting_length(x->blocks) && n < 256; i++)
		names[n++] = config_setting_name(config_setting_get_elem(x->blocks, i));
	names[n] = NULL;
	if (!n)
		return mx_error(MX_ERR_INVALID, "%s: %s: unknown block \"%s\"; define it: blocks = { %s = ( { type = ...; }, "
				"... ); };", origin, who, name, name);
	if ((near = nearest_name(names, name)))
		return mx_error(MX_ERR_INVALID, "%s: %s: unknown block \"%s\" (did you mean \"%s\"?)", origin, who, name,
				near);
	for (int i = 0; i < n; i++)
		text_add(&t, "%s%s", i ? ", " : "", names[i]);
	rc = mx_error(MX_ERR_INVALID, "%s: %s: unknown block \"%s\" (blocks: %s)", origin, who, name,
		      t.buf ? t.buf : "");
	free(t.buf);
	return rc;
}

/* The layer list and the default args (or NULL) of a block read_blocks has checked. */
static const config_setting_t *block_layers(const config_setting_t *def, const config_setting_t **defaults)
{
	*defaults = config_setting_is_group(def) ? config_setting_get_member(def, "args") : NULL;
	return config_setting_is_group(def) ? config_setting_get_member(def, "layers") : def;
}

/* Checks the keys of a use and reads its repeat count. */
static int check_use_keys(const struct scope *sc, const config_setting_t *g, const char *path, const char *who,
			  long *repeat)
{
	char origin[PLACE_MAX];
	const config_setting_t *s;
	for (int i = 0; i < config_setting_length(g); i++) {
		const char *key = config_setting_name(s = config_setting_get_elem(g, i)), *near;
		int known = 0;
		for (int k = 0; use_keys[k]; k++)
			known |= !strcmp(key, use_keys[k]);
		if (known)
			continue;
		place(sc, s, path, origin, sizeof origin);
		if (!strcmp(key, "type"))
			return mx_error(MX_ERR_INVALID, "%s: %s: has both type and block; a layer has a type, a use of a "
					"block has a block", origin, who);
		if ((near = nearest_name(use_keys, key)))
			return mx_error(MX_ERR_INVALID, "%s: %s: unknown key \"%s\" in a use of a block (did you mean "
					"\"%s\"?)", origin, who, key, near);
		return mx_error(MX_ERR_INVALID, "%s: %s: unknown key \"%s\" in a use of a block (it takes block, name, "
				"inputs, args, repeat)", origin, who, key);
	}
	*repeat = 1;
	if ((s = config_setting_get_member(g, "repeat"))) {
		int type = config_setting_type(s);
		place(sc, s, path, origin, sizeof origin);
		*repeat = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 ? config_setting_get_int64(s) : 0;
		if (*repeat < 1 || *repeat > REPEAT_MAX)
			return mx_error(MX_ERR_INVALID, "%s: %s: repeat must be a whole number in [1, %d]", origin, who,
					REPEAT_MAX);
	}
	if ((s = config_setting_get_member(g, "args")) && !config_setting_is_group(s)) {
		place(sc, s, path, origin, sizeof origin);
		return mx_error(MX_ERR_INVALID, "%s: %s: args is %s; write args = { filters = 64; };", origin, who,
				type_word(config_setting_type(s)));
	}
	return MX_OK;
}

/* Reads the args of a use into vars[2..] (texts made in the using scope sc), then the
 * block's defaults for those not given, after checking that the block refers to each:
 * an argument it never uses is a typo. */
static int read_args(const struct expand *x, const struct scope *sc, const config_setting_t *g,
		     const config_setting_t *def, const char *block, const char *who, struct block_var *vars,
		     int *n_vars)
{
	const config_setting_t *args = config_setting_get_member(g, "args"), *defaults;
	const config_setting_t *layers = block_layers(def, &defaults);
	struct names refs = {0};
	char origin[PLACE_MAX], def_origin[ORIGIN_MAX];
	int rc = MX_OK;
	origin_of(def, x->path, def_origin, sizeof def_origin);
	/* a NULL entry ends the list for nearest_name; names_find skips it */
	if (scan_refs(layers, &refs) || names_add(&refs, NULL))
		rc = no_memory(def_origin);
	for (int pass = 0; pass < 2 && !rc; pass++) {
		const config_setting_t *group = pass ? defaults : args;
		for (int i = 0; group && i < config_setting_length(group) && !rc; i++) {
			const config_setting_t *a = config_setting_get_elem(group, i);
			const char *name = config_setting_name(a), *near;
			if (pass && find_var(&(struct scope){.vars = vars, .n_vars = *n_vars}, name))
				continue; /* given by the use */
			if (pass)
				origin_of(a, x->path, origin, sizeof origin);
			else
				place(sc, a, x->path, origin, sizeof origin);
			if (!strcmp(name, "in") || !strcmp(name, "name")) {
				rc = mx_error(MX_ERR_INVALID, "%s: %s: args.%s: $%s is set by the unit itself", origin,
					      pass ? block : who, name, name);
			} else if (names_find(&refs, name) < 0) {
				near = nearest_name((const char *const *)refs.v, name);
				rc = mx_error(MX_ERR_INVALID, "%s: %s: block \"%s\" (%s) uses no variable \"$%s\"%s%s%s", origin,
					      pass ? "default args" : who, block, def_origin, name,
					      near ? " (did you mean \"$" : "", near ? near : "", near ? "\"?)" : "");
			} else {
				vars[*n_vars].name = dup_str(name);
				/* defaults are plain values: the block's own variables are not set yet */
				rc = pass ? value_text(a, origin, "default args", &vars[*n_vars].text)
					  : scoped_value_text(sc, a, origin, who, &vars[*n_vars].text);
				(*n_vars)++;
				if (!rc && !vars[*n_vars - 1].name)
					rc = no_memory(origin);
			}
		}
	}
	names_free(&refs);
	return rc;
}

/* Reads the use of a block at entry index of list: the block's list once per repeat,
 * each repeat fed by the one before. */
static int expand_use(struct expand *x, struct scope *sc, const config_setting_t *list, int index)
{
	const config_setting_t *g = config_setting_get_elem(list, index), *s, *def = NULL, *layers, *defaults;
	const config_setting_t *args = config_setting_get_member(g, "args");
	char origin[PLACE_MAX], key_origin[PLACE_MAX], local[NAME_MAX_LEN], who[NAME_MAX_LEN + 16];
	char *block = NULL, *unit = NULL;
	struct names in = {0};
	struct block_var *vars = NULL;
	int n_vars = 2, rc;
	long repeat = 1;

	if (sc->depth >= BLOCK_DEPTH_MAX) {
		/* only this use's line: the chain of places would fill the message */
		origin_of(g, x->path, origin, sizeof origin);
		return mx_error(MX_ERR_INVALID, "%s: blocks nest deeper than %d (does block \"%s\" use itself?)", origin,
				BLOCK_DEPTH_MAX, sc->block);
	}
	place(sc, g, x->path, origin, sizeof origin);
	snprintf(who, sizeof who, "entry %d", index + 1);
	if ((s = config_setting_get_member(g, "name")) && config_setting_type(s) == CONFIG_TYPE_STRING)
		layer_name(list, index, local, sizeof local);
	else
		return mx_error(MX_ERR_INVALID, "%s: %s: a use of a block needs a name (a string): its layers are "
				"named <name>_<layer>", origin, who);
	if ((rc = full_name(sc, local, origin, who, &unit)))
		return rc;
	snprintf(who, sizeof who, "unit \"%s\"", unit);
	if ((rc = check_use_keys(sc, g, x->path, who, &repeat)))
		goto done;
	s = config_setting_get_member(g, "block");
	place(sc, s, x->path, key_origin, sizeof key_origin);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		rc = mx_error(MX_ERR_INVALID, "%s: %s: block is %s; write block = \"basic\";", key_origin, who,
			      type_word(config_setting_type(s)));
		goto done;
	}
	if ((rc = subst(sc, config_setting_get_string(s), key_origin, who, &block)) ||
	    (rc = find_block(x, block, key_origin, who, &def)))
		goto done;
	/* The unit's input: its inputs, else the unit's own input for a first entry, else the
	 * entry before it (the data at the start of the net). */
	if ((s = config_setting_get_member(g, "inputs"))) {
		place(sc, s, x->path, key_origin, sizeof key_origin);
		if ((rc = read_input_names(sc, s, key_origin, who, &in)))
			goto done;
	} else if (sc->block && index == 0) {
		for (int k = 0; k < sc->in.n; k++)
			if (names_add(&in, sc->in.v[k]))
				rc = no_memory(origin);
	} else if (names_add(&in, x->c->n_layers ? x->c->layers[x->c->n_layers - 1].name : "data")) {
		rc = no_memory(origin);
	}
	if (rc)
		goto done;
	layers = block_layers(def, &defaults);
	if (!(vars = calloc(2 + (args ? config_setting_length(args) : 0) + (defaults ? config_setting_length(defaults) : 0),
			    sizeof *vars)) ||
	    !(vars[0].name = dup_str("in")) || !(vars[1].name = dup_str("name"))) {
		rc = no_memory(origin);
		goto done;
	}
	if ((rc = read_args(x, sc, g, def, block, who, vars, &n_vars)))
		goto done;
	for (int r = 0; r < repeat && !rc; r++) {
		char unit_r[NAME_MAX_LEN], local_r[NAME_MAX_LEN];
		struct scope child = {.block = block, .unit = unit_r, .use_origin = origin, .vars = vars,
				      .n_vars = n_vars, .in = in, .depth = sc->depth + 1};
		repeat_name(unit, r, unit_r, sizeof unit_r);
		repeat_name(strchr(local, '$') ? unit : local, r, local_r, sizeof local_r);
		if (!(rc = set_builtin_vars(vars, &in, unit_r, origin)) && !(rc = block_names(x, &child, layers)))
			rc = expand_list(x, &child, layers);
		names_free(&child.local);
		names_free(&child.full);
		if (rc)
			break;
		/* Repeat r's last layer is its output: the next repeat's input, and what its
		 * name stands for in the using list. */
		names_free(&in);
		if (names_add(&in, x->c->layers[x->c->n_layers - 1].name) ||
		    names_set(&sc->local, &sc->full, local_r, in.v[0]))
			rc = no_memory(origin);
	}
done:
	names_free(&in);
	for (int i = 0; vars && i < n_vars; i++) {
		free(vars[i].name);
		free(vars[i].text);
	}
	free(vars);
	free(block);
	free(unit);
	return rc;
}

static int expand_list(struct expand *x, struct scope *sc, const config_setting_t *list)
{
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, i);
		int rc = config_setting_is_group(g) && config_setting_get_member(g, "block") ? expand_use(x, sc, list, i)
											   : read_layer(x, sc, list, i);
		if (rc)
			return rc;
	}
	return MX_OK;
}

/* Checks the blocks section: each block a non-empty layer list, or a group of default
 * args and the list: b = { args = { stride = 1; }; layers = ( ... ); }. */
static int read_blocks(const config_setting_t *blocks, const char *path)
{
	static const char *const block_keys[] = {"args", "layers", NULL};
	char origin[ORIGIN_MAX];
	origin_of(blocks, path, origin, sizeof origin);
	if (!config_setting_is_group(blocks))
		return mx_error(MX_ERR_INVALID, "%s: blocks is %s; write blocks = { name = ( { type = ...; }, ... ); };",
				origin, type_word(config_setting_type(blocks)));
	for (int i = 0; i < config_setting_length(blocks); i++) {
		const config_setting_t *b = config_setting_get_elem(blocks, i), *layers = b, *s;
		const char *name = config_setting_name(b), *near;
		origin_of(b, path, origin, sizeof origin);
		if (config_setting_is_group(b)) {
			for (int k = 0; k < config_setting_length(b); k++) {
				const char *key = config_setting_name(s = config_setting_get_elem(b, k));
				origin_of(s, path, origin, sizeof origin);
				near = nearest_name(block_keys, key);
				if (strcmp(key, "args") && strcmp(key, "layers"))
					return mx_error(MX_ERR_INVALID, "%s: block \"%s\": unknown key \"%s\"%s%s%s (a block "
							"group holds args and layers)", origin, name, key,
							near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
				if (!strcmp(key, "args") && !config_setting_is_group(s))
					return mx_error(MX_ERR_INVALID, "%s: block \"%s\": args is %s; write args = { stride = 1; };",
							origin, name, type_word(config_setting_type(s)));
			}
			origin_of(b, path, origin, sizeof origin);
			if (!(layers = config_setting_get_member(b, "layers")))
				return mx_error(MX_ERR_INVALID, "%s: block \"%s\" has no layers = ( ... );", origin, name);
			origin_of(layers, path, origin, sizeof origin);
		}
		if (!config_setting_is_list(layers) && !config_setting_is_array(layers))
			return mx_error(MX_ERR_INVALID, "%s: block \"%s\" is %s; write %s = ( { type = ...; }, ... );",
					origin, name, type_word(config_setting_type(layers)), name);
		if (!config_setting_length(layers))
			return mx_error(MX_ERR_INVALID, "%s: block \"%s\" has no layers", origin, name);
	}
	return MX_OK;
}

static int read_net(const config_setting_t *net, const config_setting_t *blocks, const char *path,
		    struct mx_conf *c)
{
	char origin[ORIGIN_MAX];
	struct expand x = {.c = c, .blocks = blocks, .path = path};
	struct scope top = {0};
	int rc;
	origin_of(net, path, origin, sizeof origin);
	if (!config_setting_is_list(net) && !(config_setting_is_array(net) && config_setting_length(net) == 0))
		return mx_error(MX_ERR_INVALID, "%s: net is %s; write net = ( { type = \"...\"; ... }, ... );", origin,
				type_word(config_setting_type(net)));
	rc = expand_list(&x, &top, net);
	names_free(&top.local);
	names_free(&top.full);
	return rc;
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
	const config_setting_t *blocks = config_setting_get_member(root, "blocks");
	int rc;
	if (blocks && (rc = read_blocks(blocks, c->path)))
		return rc;
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, i);
		const char *name = config_setting_name(s), *near;
		char origin[ORIGIN_MAX];
		if (!strcmp(name, "data"))
			rc = read_data(s, c->path, c);
		else if (!strcmp(name, "net"))
			rc = read_net(s, blocks, c->path, c);
		else if (!strcmp(name, "blocks"))
			rc = MX_OK; /* read with the net */
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
					"%s: unknown section \"%s\" (sections: data, net, blocks, solver, model, device)", origin,
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
