/* symbol_json.c: MXNet's symbol JSON (formats.md section 6): the forward graph written as
 * MXNet 1.9.1 writes it (byte for byte the same layout as dmlc's JSONWriter) and read from
 * any MXNet 1.x (or older "attr"/"param") file with jansson. */
#include "net/symbol_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "fileio.h"

#define MXNET_VERSION 10901          /* 1.9.1, as major*10000 + minor*100 + patch */
#define JSON_MAX_INPUTS 256
#define SYMBOL_FILE_MAX (256L << 20) /* a symbol file is text; anything larger is not one */

/* ---- writing ---------------------------------------------------------------------- */

/* A growing string plus the scope stack of dmlc::JSONWriter: whether each open array or
 * object is multi-line and how many items it has so far. Reproducing its rules makes our
 * file identical to MXNet's for the same graph: an array is multi-line when it has more
 * than 10 items or its items are objects; an object when it has more than one key;
 * a separator is ", " and, in a multi-line scope, a newline indented 2 spaces per open
 * scope. */
struct writer {
	char *buf;
	size_t len, cap;
	int failed;
	int depth;
	char multi[16];
	int count[16];
};

static void put(struct writer *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		char *p;
		while (cap < w->len + n + 1)
			cap *= 2;
		if (!(p = realloc(w->buf, cap))) {
			w->failed = 1;
			return;
		}
		w->buf = p;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = 0;
}

static void puts_(struct writer *w, const char *s) { put(w, s, strlen(s)); }

static void newline(struct writer *w)
{
	if (w->depth == 0 || w->multi[w->depth - 1]) {
		puts_(w, "\n");
		for (int i = 0; i < w->depth; i++)
			puts_(w, "  ");
	}
}

/* dmlc escapes only these five; MXNet's reader knows no other escape (no \u). */
static void put_string(struct writer *w, const char *s)
{
	puts_(w, "\"");
	for (; *s; s++) {
		switch (*s) {
		case '\r': puts_(w, "\\r"); break;
		case '\n': puts_(w, "\\n"); break;
		case '\\': puts_(w, "\\\\"); break;
		case '\t': puts_(w, "\\t"); break;
		case '"': puts_(w, "\\\""); break;
		default: put(w, s, 1);
		}
	}
	puts_(w, "\"");
}

static void begin(struct writer *w, const char *bracket, int multi_line)
{
	puts_(w, bracket);
	if (w->depth == (int)sizeof w->multi) {
		w->failed = 1;
		return;
	}
	w->multi[w->depth] = (char)multi_line;
	w->count[w->depth++] = 0;
}

static void end(struct writer *w, const char *bracket)
{
	int n = w->count[w->depth - 1], multi = w->multi[w->depth - 1];
	w->depth--;
	if (multi && n)
		newline(w);
	puts_(w, bracket);
}

static void key(struct writer *w, const char *k)
{
	if (w->count[w->depth - 1]++)
		puts_(w, ", ");
	newline(w);
	put_string(w, k);
	puts_(w, ": ");
}

static void item(struct writer *w)
{
	if (w->count[w->depth - 1]++)
		puts_(w, ", ");
	newline(w);
}

static void put_int(struct writer *w, long v)
{
	char b[32];
	snprintf(b, sizeof b, "%ld", v);
	puts_(w, b);
}

static void put_entry(struct writer *w, int node, int index)
{
	begin(w, "[", 0);
	item(w), put_int(w, node);
	item(w), put_int(w, index);
	item(w), put_int(w, 0);
	end(w, "]");
}

static void put_int_array(struct writer *w, const int *v, int n)
{
	begin(w, "[", n > 10);
	for (int i = 0; i < n; i++)
		item(w), put_int(w, v[i]);
	end(w, "]");
}

struct kv {
	const char *key;
	const char *value;
};

/* Sorts by key (bytewise, as std::map does) and keeps the last of equal keys. */
static int kv_sort_unique(struct kv *kv, int n)
{
	int m = 0;
	for (int i = 0; i < n; i++) /* stable: later duplicates must win */
		for (int j = i; j > 0 && strcmp(kv[j - 1].key, kv[j].key) > 0; j--) {
			struct kv t = kv[j];
			kv[j] = kv[j - 1];
			kv[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if (m && !strcmp(kv[m - 1].key, kv[i].key))
			kv[m - 1] = kv[i];
		else
			kv[m++] = kv[i];
	}
	return m;
}

static void put_attrs(struct writer *w, struct kv *kv, int n)
{
	n = kv_sort_unique(kv, n);
	if (!n)
		return;
	key(w, "attrs");
	begin(w, "{", n > 1);
	for (int i = 0; i < n; i++) {
		key(w, kv[i].key);
		put_string(w, kv[i].value);
	}
	end(w, "}");
}

/* The attribute text to write for an operator's key: MXNet keeps the user's strings; we
 * write booleans and shapes in Python's spelling ("True", "(3, 3)") from the parsed
 * value, so a .conf's "no_bias = 1" reads as MXNet would write it, and keep numbers as
 * the user wrote them ("0.1" stays "0.1", not "0.100000001"). */
static const char *op_attr_text(const struct graph_node *n, const struct graph_attr *a, char *buf,
				size_t size)
{
	const struct param_spec *sp = n->op ? param_find(n->op->params, a->key) : NULL;
	if (!sp || !n->param)
		return a->value;
	switch (sp->type) {
	case PARAM_BOOL:
	case PARAM_SHAPE:
	case PARAM_ENUM:
	case PARAM_INT:
	case PARAM_INT64:
		param_format(sp, n->param, buf, size);
		return buf;
	default:
		return a->value;
	}
}

/* Nodes reachable from the heads in nnvm's DFS post-order (inputs in order), which is the
 * order MXNet writes and lists arguments in. Returns the count, or -1 (out of memory). */
static int dfs_order(const struct graph *g, int *order)
{
	int n = 0, top = 0;
	char *seen = calloc(g->n_forward ? g->n_forward : 1, 1);
	int *stack_node = malloc((g->n_forward + 1) * sizeof *stack_node);
	int *stack_next = malloc((g->n_forward + 1) * sizeof *stack_next);
	if (!seen || !stack_node || !stack_next) {
		n = -1;
		goto done;
	}
	for (int h = 0; h < g->n_heads; h++) {
		int head = g->heads[h].node;
		if (seen[head])
			continue;
		seen[head] = 1;
		stack_node[top] = head;
		stack_next[top++] = 0;
		while (top) {
			const struct graph_node *nd = &g->nodes[stack_node[top - 1]];
			if (stack_next[top - 1] == nd->n_inputs) {
				order[n++] = stack_node[--top];
			} else {
				int in = nd->inputs[stack_next[top - 1]++].node;
				if (!seen[in]) {
					seen[in] = 1;
					stack_node[top] = in;
					stack_next[top++] = 0;
				}
			}
		}
	}
done:
	free(seen);
	free(stack_node);
	free(stack_next);
	return n;
}

char *symbol_json_dump(const struct graph *g)
{
	struct writer w = {0};
	int *order = NULL, *pos = NULL, *owner = NULL, *ints = NULL, n;
	struct kv *kv = NULL;
	char (*text)[128] = NULL;
	int max_attrs = 1;

	if (!g->n_heads) {
		mx_error(MX_ERR_INVALID, "symbol_json_dump: the graph has no outputs");
		return NULL;
	}
	for (int h = 0; h < g->n_heads; h++)
		if (g->heads[h].node < 0 || g->heads[h].node >= g->n_forward) {
			mx_error(MX_ERR_INVALID, "symbol_json_dump: output %d is not a forward node", h);
			return NULL;
		}
	for (int i = 0; i < g->n_forward; i++)
		if (g->nodes[i].n_attrs > max_attrs)
			max_attrs = g->nodes[i].n_attrs;
	order = malloc((g->n_forward + 1) * sizeof *order);
	pos = malloc((g->n_forward + 1) * sizeof *pos);
	owner = malloc((g->n_forward + 1) * sizeof *owner);
	ints = calloc(g->n_forward + 2, sizeof *ints);
	kv = malloc(max_attrs * sizeof *kv);
	text = malloc(max_attrs * sizeof *text);
	if (!order || !pos || !owner || !ints || !kv || !text || (n = dfs_order(g, order)) < 0) {
		mx_error(MX_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < g->n_forward; i++)
		pos[i] = owner[i] = -1;
	for (int i = 0; i < n; i++)
		pos[order[i]] = i;
	/* A variable an operator made for itself ("<op>_<input>", e.g. fc1_weight) carries a
	 * copy of the operator's attributes in MXNet's files; find each one's operator. */
	for (int i = 0; i < n; i++) {
		const struct graph_node *nd = &g->nodes[order[i]];
		const char *names[JSON_MAX_INPUTS];
		int k;
		if (nd->kind != NODE_OP)
			continue;
		k = op_input_names(nd->op, nd->param, names, JSON_MAX_INPUTS);
		for (int j = 0; j < nd->n_inputs && j < k; j++) {
			int v = nd->inputs[j].node;
			size_t len = strlen(nd->name);
			const char *vn = g->nodes[v].name;
			if (g->nodes[v].kind == NODE_OP || owner[v] >= 0 || strncmp(vn, nd->name, len) ||
			    vn[len] != '_' || strcmp(vn + len + 1, names[j]))
				continue;
			owner[v] = order[i];
		}
	}

	begin(&w, "{", 1);
	key(&w, "nodes");
	begin(&w, "[", 1);
	for (int i = 0; i < n; i++) {
		const struct graph_node *nd = &g->nodes[order[i]];
		const struct graph_node *src = nd;
		int m = 0;
		item(&w);
		begin(&w, "{", 1);
		key(&w, "op");
		put_string(&w, nd->kind == NODE_OP ? nd->op->name : "null");
		key(&w, "name");
		put_string(&w, nd->name);
		if (nd->kind != NODE_OP && nd->n_attrs == 0 && owner[order[i]] >= 0)
			src = &g->nodes[owner[order[i]]];
		for (int a = 0; a < src->n_attrs; a++) {
			kv[m].key = src->attrs[a].key;
			kv[m++].value = src->kind == NODE_OP
				? op_attr_text(src, &src->attrs[a], text[a], sizeof text[a])
				: src->attrs[a].value;
		}
		put_attrs(&w, kv, m);
		key(&w, "inputs");
		begin(&w, "[", nd->n_inputs > 10);
		for (int j = 0; j < nd->n_inputs; j++) {
			item(&w);
			put_entry(&w, pos[nd->inputs[j].node], nd->inputs[j].index);
		}
		end(&w, "]");
		end(&w, "}");
	}
	end(&w, "]");

	key(&w, "arg_nodes");
	{
		int m = 0;
		for (int i = 0; i < n; i++)
			if (g->nodes[order[i]].kind != NODE_OP)
				ints[m++] = i;
		put_int_array(&w, ints, m);
	}
	key(&w, "node_row_ptr");
	ints[0] = 0;
	for (int i = 0; i < n; i++) {
		const struct graph_node *nd = &g->nodes[order[i]];
		ints[i + 1] = ints[i] + (nd->kind == NODE_OP ? nd->op->n_outputs : 1);
	}
	put_int_array(&w, ints, n + 1);
	key(&w, "heads");
	begin(&w, "[", g->n_heads > 10);
	for (int h = 0; h < g->n_heads; h++) {
		item(&w);
		put_entry(&w, pos[g->heads[h].node], g->heads[h].index);
	}
	end(&w, "]");
	key(&w, "attrs");
	begin(&w, "{", 0);
	key(&w, "mxnet_version");
	begin(&w, "[", 0);
	item(&w), put_string(&w, "int");
	item(&w), put_int(&w, MXNET_VERSION);
	end(&w, "]");
	end(&w, "}");
	end(&w, "}");
	if (w.failed) {
		mx_error(MX_ERR_NOMEM, "out of memory");
		goto fail;
	}
	free(order);
	free(pos);
	free(owner);
	free(ints);
	free(kv);
	free(text);
	return w.buf;
fail:
	free(w.buf);
	free(order);
	free(pos);
	free(owner);
	free(ints);
	free(kv);
	free(text);
	return NULL;
}

int symbol_json_save(const struct graph *g, const char *path)
{
	char *text = symbol_json_dump(g);
	struct file_writer w;
	int rc;
	if (!text)
		return mx_error_prefix(MX_ERR_INVALID, "%s", path);
	if (!(rc = file_writer_open(&w, path, "wb"))) {
		fputs(text, w.f);
		rc = file_writer_commit(&w);
	}
	free(text);
	return rc;
}

/* ---- reading ---------------------------------------------------------------------- */

/* The attributes of one node: "param" (oldest files), then "attr", then "attrs" (1.x),
 * later ones winning. Values must be strings, as MXNet requires. */
struct node_attrs {
	int n;
	const char *keys[128];
	const char *values[128];
	int from_attr[128]; /* came from the old "attr" map */
};

static int collect_attrs(json_t *node, const char *where, struct node_attrs *out)
{
	static const char *const maps[] = {"param", "attr", "attrs"};
	out->n = 0;
	for (int m = 0; m < 3; m++) {
		json_t *obj = json_object_get(node, maps[m]), *v;
		const char *k;
		if (!obj)
			continue;
		if (!json_is_object(obj))
			return mx_error(MX_ERR_FORMAT, "%s: \"%s\" is not an object", where, maps[m]);
		json_object_foreach(obj, k, v) {
			int slot = out->n;
			if (!json_is_string(v))
				return mx_error(MX_ERR_FORMAT, "%s: attribute \"%s\" is not a string "
						"(MXNet writes every value quoted)", where, k);
			for (int i = 0; i < out->n; i++)
				if (!strcmp(out->keys[i], k))
					slot = i;
			if (slot == out->n && out->n == 128)
				return mx_error(MX_ERR_FORMAT, "%s: more than 128 attributes", where);
			out->keys[slot] = k;
			out->values[slot] = json_string_value(v);
			out->from_attr[slot] = m == 1;
			if (slot == out->n)
				out->n++;
		}
	}
	return MX_OK;
}

static int is_hidden_key(const char *k)
{
	size_t n = strlen(k);
	return n > 4 && !strncmp(k, "__", 2) && !strcmp(k + n - 2, "__");
}

/* Reads [node, index] or [node, index, version] into e; node must be < limit. */
static int read_entry(json_t *v, int limit, const char *where, const char *what,
		      struct graph_entry *e)
{
	json_t *a, *b;
	size_t n = json_is_array(v) ? json_array_size(v) : 0;
	if (n != 2 && n != 3)
		return mx_error(MX_ERR_FORMAT, "%s: %s is not [node, index] or [node, index, version]",
				where, what);
	a = json_array_get(v, 0);
	b = json_array_get(v, 1);
	if (!json_is_integer(a) || !json_is_integer(b) || (n == 3 && !json_is_integer(json_array_get(v, 2))))
		return mx_error(MX_ERR_FORMAT, "%s: %s holds a non-integer", where, what);
	if (json_integer_value(a) < 0 || json_integer_value(a) >= limit)
		return mx_error(MX_ERR_FORMAT, "%s: %s refers to node %lld, which is not an earlier node",
				where, what, (long long)json_integer_value(a));
	if (json_integer_value(b) < 0 || json_integer_value(b) > 1000000)
		return mx_error(MX_ERR_FORMAT, "%s: %s has bad output index %lld", where, what,
				(long long)json_integer_value(b));
	e->node = (int)json_integer_value(a);
	e->index = (int)json_integer_value(b);
	return MX_OK;
}

/* Per file node: the operator (NULL: a variable) and, for a variable, its kind by use. */
struct file_node {
	const struct op_desc *op;
	const char *name;
	int kind;     /* variables: -1 until used */
	int graph_id; /* node id in the graph being built */
	int n_outputs;
};

/* Which kind a variable in input slot j of op is: labels and auxiliary states by the op's
 * masks, data slots give data, the rest are learnable arguments. */
static enum node_kind slot_kind(const struct op_desc *op, int j)
{
	if (op_bit(op->aux_mask, j))
		return NODE_AUX;
	if (op_bit(op->label_mask, j))
		return NODE_LABEL;
	if (op->n_data_inputs < 0 || j < op->n_data_inputs)
		return NODE_DATA;
	return NODE_ARG;
}

/* When a variable feeds several slots: auxiliary > learnable > label > data. */
static int kind_rank(int kind)
{
	switch (kind) {
	case NODE_AUX: return 4;
	case NODE_ARG: return 3;
	case NODE_LABEL: return 2;
	case NODE_DATA: return 1;
	default: return 0;
	}
}

/* Checks the input count against the parameters (no_bias drops bias, num_args). */
static int check_input_count(const struct op_desc *op, const struct node_attrs *at, int given,
			     const char *where)
{
	const char *names[JSON_MAX_INPUTS];
	void *param = op_param_new(op);
	int n, ok = 1;
	if (!param)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	for (int i = 0; i < at->n; i++)
		if (!is_hidden_key(at->keys[i]) && param_find(op->params, at->keys[i]) &&
		    param_set(op->params, param, at->keys[i], at->values[i]))
			ok = 0; /* graph_add_op reports bad values with their key */
	if (!ok) {
		free(param);
		return MX_OK;
	}
	n = op_input_names(op, param, names, JSON_MAX_INPUTS);
	free(param);
	if (n != given) {
		char list[512] = "";
		size_t len = 0;
		for (int i = 0; i < n && len < sizeof list; i++)
			len += snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
		return mx_error(MX_ERR_FORMAT, "%s: %s takes %d input%s (%s), the file gives %d", where,
				op->name, n, n == 1 ? "" : "s", list, given);
	}
	return MX_OK;
}

static int set_variable_attrs(struct graph_node *v, const struct node_attrs *at)
{
	int m = 0;
	for (int i = 0; i < at->n; i++)
		m += is_hidden_key(at->keys[i]);
	if (!m)
		return MX_OK;
	if (!(v->attrs = calloc(m, sizeof *v->attrs)))
		return mx_error(MX_ERR_NOMEM, "out of memory");
	for (int i = 0; i < at->n; i++) {
		if (!is_hidden_key(at->keys[i]))
			continue;
		v->attrs[v->n_attrs].key = strdup(at->keys[i]);
		v->attrs[v->n_attrs].value = strdup(at->values[i]);
		if (!v->attrs[v->n_attrs].key || !v->attrs[v->n_attrs].value) {
			free(v->attrs[v->n_attrs].key);
			free(v->attrs[v->n_attrs].value);
			return mx_error(MX_ERR_NOMEM, "out of memory");
		}
		v->n_attrs++;
	}
	return MX_OK;
}

static int build(json_t *root, const char *origin, struct graph **out)
{
	json_t *nodes = json_object_get(root, "nodes"), *heads = json_object_get(root, "heads");
	struct file_node *fn = NULL;
	struct graph *g = NULL;
	struct graph_entry *head_entries = NULL;
	struct node_attrs *at = NULL;
	char where[512];
	int n, rc = MX_OK;

	if (!json_is_object(root))
		return mx_error(MX_ERR_FORMAT, "%s: not a symbol JSON object", origin);
	if (!json_is_array(nodes))
		return mx_error(MX_ERR_FORMAT, "%s: no \"nodes\" array", origin);
	if (!json_is_array(heads))
		return mx_error(MX_ERR_FORMAT, "%s: no \"heads\" array", origin);
	n = (int)json_array_size(nodes);
	fn = calloc(n ? n : 1, sizeof *fn);
	at = malloc(sizeof *at);
	head_entries = malloc((json_array_size(heads) + 1) * sizeof *head_entries);
	if (!fn || !at || !head_entries || !(g = graph_new())) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}

	/* Pass 1: operators, names, input references; variable kinds from their uses. */
	for (int i = 0; i < n; i++) {
		json_t *node = json_array_get(nodes, i), *op = json_object_get(node, "op"),
		       *name = json_object_get(node, "name"), *inputs = json_object_get(node, "inputs");
		snprintf(where, sizeof where, "%s: node %d", origin, i);
		if (!json_is_object(node) || !json_is_string(op) || !json_is_string(name)) {
			rc = mx_error(MX_ERR_FORMAT, "%s: a node needs string \"op\" and \"name\"", where);
			goto done;
		}
		fn[i].name = json_string_value(name);
		snprintf(where, sizeof where, "%s: node %d (%s)", origin, i, fn[i].name);
		if (inputs && !json_is_array(inputs)) {
			rc = mx_error(MX_ERR_FORMAT, "%s: \"inputs\" is not an array", where);
			goto done;
		}
		fn[i].kind = -1;
		fn[i].n_outputs = 1;
		if (!strcmp(json_string_value(op), "null")) {
			if (json_array_size(inputs)) {
				rc = mx_error(MX_ERR_FORMAT, "%s: a variable (op \"null\") has inputs", where);
				goto done;
			}
			continue;
		}
		if (!(fn[i].op = op_find(json_string_value(op))) || (fn[i].op->flags & OP_INTERNAL)) {
			const char *near = op_nearest(json_string_value(op));
			if (near)
				rc = mx_error(MX_ERR_FORMAT, "%s: unknown operator \"%s\" (did you mean \"%s\"?)",
					      where, json_string_value(op), near);
			else
				rc = mx_error(MX_ERR_FORMAT, "%s: unknown operator \"%s\"", where,
					      json_string_value(op));
			goto done;
		}
		fn[i].n_outputs = fn[i].op->n_outputs;
		for (size_t j = 0; j < json_array_size(inputs); j++) {
			struct graph_entry e;
			char what[32];
			snprintf(what, sizeof what, "input %zu", j);
			if ((rc = read_entry(json_array_get(inputs, j), i, where, what, &e)))
				goto done;
			if (!fn[e.node].op && kind_rank(slot_kind(fn[i].op, (int)j)) > kind_rank(fn[e.node].kind))
				fn[e.node].kind = slot_kind(fn[i].op, (int)j);
		}
	}

	/* Pass 2: build the graph in file order, every input given explicitly. */
	for (int i = 0; i < n; i++) {
		json_t *node = json_array_get(nodes, i), *inputs = json_object_get(node, "inputs");
		struct graph_entry in[JSON_MAX_INPUTS];
		int n_in = (int)json_array_size(inputs), id;
		snprintf(where, sizeof where, "%s: node %d (%s)", origin, i, fn[i].name);
		if ((rc = collect_attrs(node, where, at)))
			goto done;
		if (!fn[i].op) {
			id = graph_add_variable(g, fn[i].name, fn[i].kind < 0 ? NODE_DATA : fn[i].kind);
			if (id < 0) {
				rc = mx_error_prefix(MX_ERR_FORMAT, "%s", where);
				goto done;
			}
			if ((rc = set_variable_attrs(&g->nodes[id], at)))
				goto done;
			fn[i].graph_id = id;
			continue;
		}
		if (n_in > JSON_MAX_INPUTS) {
			rc = mx_error(MX_ERR_FORMAT, "%s: more than %d inputs", where, JSON_MAX_INPUTS);
			goto done;
		}
		/* Files before MXNet 0.9 kept hidden keys ("lr_mult", "ctx_group") in "attr"
		 * without underscores; MXNet's loader renames them, and so do we. */
		char hidden[128][72];
		for (int a = 0; a < at->n; a++)
			if (at->from_attr[a] && !is_hidden_key(at->keys[a]) &&
			    !param_find(fn[i].op->params, at->keys[a])) {
				snprintf(hidden[a], sizeof hidden[a], "__%s__", at->keys[a]);
				at->keys[a] = hidden[a];
			}
		if ((rc = check_input_count(fn[i].op, at, n_in, where)))
			goto done;
		for (int j = 0; j < n_in; j++) {
			struct graph_entry e;
			read_entry(json_array_get(inputs, j), i, where, "input", &e);
			if (e.index >= fn[e.node].n_outputs) {
				rc = mx_error(MX_ERR_FORMAT, "%s: input %d refers to output %d of node %d (%s), "
					      "which has %d", where, j, e.index, e.node, fn[e.node].name,
					      fn[e.node].n_outputs);
				goto done;
			}
			in[j] = (struct graph_entry){fn[e.node].graph_id, e.index};
		}
		snprintf(where, sizeof where, "%s: node %d", origin, i);
		id = graph_add_op(g, fn[i].op, fn[i].name, at->keys, at->values, at->n, in, n_in, where);
		if (id < 0) {
			rc = MX_ERR_FORMAT;
			goto done;
		}
		fn[i].graph_id = id;
	}

	for (size_t h = 0; h < json_array_size(heads); h++) {
		struct graph_entry e;
		char what[32];
		snprintf(what, sizeof what, "head %zu", h);
		if ((rc = read_entry(json_array_get(heads, h), n, origin, what, &e)))
			goto done;
		if (e.index >= fn[e.node].n_outputs) {
			rc = mx_error(MX_ERR_FORMAT, "%s: head %zu refers to output %d of node %d (%s), which "
				      "has %d", origin, h, e.index, e.node, fn[e.node].name, fn[e.node].n_outputs);
			goto done;
		}
		head_entries[h] = (struct graph_entry){fn[e.node].graph_id, e.index};
	}
	if ((rc = graph_set_heads(g, head_entries, (int)json_array_size(heads))))
		goto done;
	*out = g;
	g = NULL;
done:
	graph_free(g);
	free(fn);
	free(at);
	free(head_entries);
	return rc;
}

int symbol_json_parse(const char *text, const char *origin, struct graph **out)
{
	json_error_t err;
	json_t *root;
	int rc;
	*out = NULL;
	if (!origin)
		origin = "symbol JSON";
	root = json_loads(text, 0, &err);
	if (!root)
		return mx_error(MX_ERR_FORMAT, "%s:%d:%d: %s", origin, err.line, err.column, err.text);
	rc = build(root, origin, out);
	json_decref(root);
	return rc;
}

int symbol_json_load(const char *path, struct graph **out)
{
	FILE *f;
	struct stat st;
	char *text;
	int rc;
	*out = NULL;
	if (!(f = fopen(path, "rb")))
		return mx_error(MX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > SYMBOL_FILE_MAX) {
		fclose(f);
		return mx_error(MX_ERR_IO, "%s: not a regular file of at most %ld bytes", path,
				SYMBOL_FILE_MAX);
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		fclose(f);
		return mx_error(MX_ERR_NOMEM, "out of memory");
	}
	if (fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		rc = mx_error(MX_ERR_IO, "%s: read error: %s", path, strerror(errno ? errno : EIO));
	} else {
		text[st.st_size] = 0;
		rc = symbol_json_parse(text, path, out);
	}
	free(text);
	fclose(f);
	return rc;
}
