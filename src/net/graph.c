/* graph.c: building the symbolic graph, pruning it, and inferring shapes. */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define GRAPH_MAX_INPUTS 256

struct graph *graph_new(void)
{
	struct graph *g = calloc(1, sizeof *g);
	if (!g)
		mx_error(MX_ERR_NOMEM, "out of memory");
	return g;
}

static void node_clear(struct graph_node *n)
{
	free(n->name);
	if (n->kind == NODE_OP || (n->kind == NODE_BACKWARD && n->forward_node < 0))
		free(n->param);
	for (int i = 0; i < n->n_attrs; i++) {
		free(n->attrs[i].key);
		free(n->attrs[i].value);
	}
	free(n->attrs);
	free(n->inputs);
	free(n->origin);
}

void graph_free(struct graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n_nodes; i++)
		node_clear(&g->nodes[i]);
	free(g->nodes);
	free(g->heads);
	free(g->grad);
	free(g);
}

/* Appends a zeroed node; returns its id or -1 (out of memory). */
static int node_append(struct graph *g)
{
	struct graph_node *n;
	if (g->n_nodes == g->cap_nodes) {
		int cap = g->cap_nodes ? g->cap_nodes * 2 : 32;
		struct graph_node *p = realloc(g->nodes, cap * sizeof *p);
		if (!p)
			return mx_error(MX_ERR_NOMEM, "out of memory"), -1;
		g->nodes = p;
		g->cap_nodes = cap;
	}
	n = &g->nodes[g->n_nodes];
	memset(n, 0, sizeof *n);
	n->forward_node = -1;
	n->entry_base = g->n_entries;
	return g->n_nodes++;
}

/* Fixes the node's output count and advances the entry numbering. */
static void node_seal(struct graph *g, int id, int n_outputs)
{
	g->nodes[id].n_outputs = n_outputs;
	g->n_entries += n_outputs;
	if (g->nodes[id].kind != NODE_BACKWARD)
		g->n_forward = g->n_nodes;
}

int graph_find(const struct graph *g, const char *name)
{
	for (int i = g->n_nodes - 1; i >= 0; i--)
		if (!strcmp(g->nodes[i].name, name))
			return i;
	return -1;
}

int graph_add_variable(struct graph *g, const char *name, enum node_kind kind)
{
	int id;
	if (graph_find(g, name) >= 0)
		return mx_error(MX_ERR_INVALID, "duplicate name \"%s\"", name), -1;
	id = node_append(g);
	if (id < 0)
		return -1;
	g->nodes[id].kind = kind;
	g->nodes[id].name = strdup(name);
	node_seal(g, id, 1);
	return id;
}

/* A learnable variable made for an operator carries the operator's hidden attributes
 * (__lr_mult__, __wd_mult__, __init__), as MXNet's auto-created variables do. */
static void copy_hidden_attrs(struct graph_node *v, const char *const *keys, const char *const *values, int n)
{
	for (int i = 0; i < n; i++) {
		struct graph_attr *a;
		if (strncmp(keys[i], "__", 2))
			continue;
		a = realloc(v->attrs, (v->n_attrs + 1) * sizeof *a);
		if (!a)
			return;
		v->attrs = a;
		a[v->n_attrs].key = strdup(keys[i]);
		a[v->n_attrs++].value = strdup(values[i]);
	}
}

int graph_add_op(struct graph *g, const struct op_desc *op, const char *name,
		 const char *const *keys, const char *const *values, int n_attrs,
		 const struct graph_entry *data_inputs, int n_data_inputs, const char *origin)
{
	const char *in_names[GRAPH_MAX_INPUTS];
	char where[600];
	void *param = NULL;
	int n_in, n_data, id = -1, rc;
	struct graph_node *n;

	snprintf(where, sizeof where, "%s%slayer %s", origin ? origin : "", origin ? ": " : "", name);
	if (graph_find(g, name) >= 0)
		return mx_error(MX_ERR_INVALID, "%s: duplicate layer name", where), -1;
	param = op_param_new(op);
	if (!param)
		return mx_error(MX_ERR_NOMEM, "out of memory"), -1;
	for (int i = 0; i < n_attrs; i++) {
		/* MXNet writes hidden attributes (__lr_mult__ ...) beside parameters. */
		if (!strncmp(keys[i], "__", 2))
			continue;
		if ((rc = param_set(op->params, param, keys[i], values[i]))) {
			mx_error_prefix(rc, "%s (%s)", where, op->name);
			goto fail;
		}
	}
	/* A required key has no default: param_defaults left it unset. */
	for (const struct param_spec *sp = op->params; sp && sp->key; sp++) {
		int given = 0;
		for (int i = 0; i < n_attrs; i++)
			given |= !strcmp(keys[i], sp->key);
		if (!sp->def && !given) {
			mx_error(MX_ERR_INVALID, "%s (%s): missing required key \"%s\"", where, op->name, sp->key);
			goto fail;
		}
	}
	if (op->check_param && (rc = op->check_param(param))) {
		mx_error_prefix(rc, "%s (%s)", where, op->name);
		goto fail;
	}
	n_in = op_input_names(op, param, in_names, GRAPH_MAX_INPUTS);
	n_data = op_num_data_inputs(op, param);
	if (n_data_inputs != n_in && n_data_inputs != n_data) {
		mx_error(MX_ERR_INVALID, "%s (%s): takes %d input%s, got %d", where, op->name, n_data,
			 n_data == 1 ? "" : "s", n_data_inputs);
		goto fail;
	}
	for (int i = 0; i < n_data_inputs; i++) {
		if (data_inputs[i].node < 0 || data_inputs[i].node >= g->n_nodes ||
		    data_inputs[i].index >= g->nodes[data_inputs[i].node].n_outputs) {
			mx_error(MX_ERR_INVALID, "%s: input %d does not exist", where, i);
			goto fail;
		}
	}
	{
		struct graph_entry inputs[GRAPH_MAX_INPUTS];
		memcpy(inputs, data_inputs, n_data_inputs * sizeof *inputs);
		for (int i = n_data_inputs; i < n_in; i++) {
			char var[512];
			enum node_kind kind = op_bit(op->aux_mask, i) ? NODE_AUX
					      : op_bit(op->label_mask, i) ? NODE_LABEL : NODE_ARG;
			int v;
			snprintf(var, sizeof var, "%s_%s", name, in_names[i]);
			v = graph_find(g, var);
			if (v < 0 && (v = graph_add_variable(g, var, kind)) >= 0 && kind == NODE_ARG)
				copy_hidden_attrs(&g->nodes[v], keys, values, n_attrs);
			else if (g->nodes[v].kind == NODE_OP || g->nodes[v].kind == NODE_BACKWARD) {
				mx_error(MX_ERR_INVALID, "%s: \"%s\" names a layer, not a variable", where, var);
				goto fail;
			}
			if (v < 0)
				goto fail;
			inputs[i] = (struct graph_entry){v, 0};
		}
		id = node_append(g);
		if (id < 0)
			goto fail;
		n = &g->nodes[id];
		n->kind = NODE_OP;
		n->op = op;
		n->name = strdup(name);
		n->param = param;
		n->origin = origin ? strdup(origin) : NULL;
		n->inputs = malloc(n_in * sizeof *n->inputs);
		memcpy(n->inputs, inputs, n_in * sizeof *inputs);
		n->n_inputs = n_in;
		n->attrs = calloc(n_attrs ? n_attrs : 1, sizeof *n->attrs);
		for (int i = 0; i < n_attrs; i++) {
			n->attrs[n->n_attrs].key = strdup(keys[i]);
			n->attrs[n->n_attrs++].value = strdup(values[i]);
		}
		node_seal(g, id, op->n_outputs);
	}
	return id;
fail:
	free(param);
	return -1;
}

int graph_set_heads(struct graph *g, const struct graph_entry *heads, int n)
{
	struct graph_entry *h = malloc((n ? n : 1) * sizeof *h);
	if (!h)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	memcpy(h, heads, n * sizeof *h);
	free(g->heads);
	g->heads = h;
	g->n_heads = n;
	return MX_OK;
}

int graph_list_vars(const struct graph *g, enum node_kind kind, int *ids, int max)
{
	int n = 0;
	for (int i = 0; i < g->n_forward; i++) {
		if (g->nodes[i].kind != kind)
			continue;
		if (ids && n < max)
			ids[n] = i;
		n++;
	}
	return n;
}

struct graph *graph_prune(const struct graph *g, const struct graph_entry *heads, int n)
{
	char *keep = calloc(g->n_forward ? g->n_forward : 1, 1);
	int *remap = malloc((g->n_forward ? g->n_forward : 1) * sizeof *remap);
	struct graph *out = graph_new();
	struct graph_entry *new_heads = malloc((n ? n : 1) * sizeof *new_heads);
	if (!keep || !remap || !out || !new_heads)
		goto nomem;
	for (int i = 0; i < n; i++)
		keep[heads[i].node] = 1;
	/* Nodes are in topological order: one backward sweep marks everything needed. */
	for (int i = g->n_forward - 1; i >= 0; i--)
		if (keep[i])
			for (int j = 0; j < g->nodes[i].n_inputs; j++)
				keep[g->nodes[i].inputs[j].node] = 1;
	for (int i = 0; i < g->n_forward; i++) {
		const struct graph_node *src = &g->nodes[i];
		struct graph_node *dst;
		int id;
		remap[i] = -1;
		if (!keep[i])
			continue;
		if ((id = node_append(out)) < 0)
			goto fail;
		dst = &out->nodes[id];
		*dst = *src;
		dst->entry_base = out->n_entries;
		dst->name = strdup(src->name);
		dst->origin = src->origin ? strdup(src->origin) : NULL;
		if (src->kind == NODE_OP) {
			dst->param = malloc(src->op->param_size ? src->op->param_size : 1);
			memcpy(dst->param, src->param, src->op->param_size);
		}
		dst->attrs = calloc(src->n_attrs ? src->n_attrs : 1, sizeof *dst->attrs);
		for (int k = 0; k < src->n_attrs; k++) {
			dst->attrs[k].key = strdup(src->attrs[k].key);
			dst->attrs[k].value = strdup(src->attrs[k].value);
		}
		dst->inputs = malloc((src->n_inputs ? src->n_inputs : 1) * sizeof *dst->inputs);
		for (int k = 0; k < src->n_inputs; k++)
			dst->inputs[k] = (struct graph_entry){remap[src->inputs[k].node], src->inputs[k].index};
		node_seal(out, id, src->n_outputs);
		remap[i] = id;
	}
	for (int i = 0; i < n; i++)
		new_heads[i] = (struct graph_entry){remap[heads[i].node], heads[i].index};
	if (graph_set_heads(out, new_heads, n))
		goto fail;
	free(new_heads);
	free(keep);
	free(remap);
	return out;
nomem:
	mx_error(MX_ERR_NOMEM, "out of memory");
fail:
	free(new_heads);
	free(keep);
	free(remap);
	graph_free(out);
	return NULL;
}

/* Writes "data (100,784), weight (256,784), bias (?)" for a shape error message. */
static void describe_inputs(const struct graph *g, const struct graph_node *n, const struct mx_shape *in,
			    char *buf, size_t size)
{
	const char *names[GRAPH_MAX_INPUTS];
	size_t len = 0;
	int k = op_input_names(n->op, n->param, names, GRAPH_MAX_INPUTS);
	buf[0] = 0;
	for (int i = 0; i < n->n_inputs && len < size; i++) {
		char s[96];
		const struct graph_node *src = &g->nodes[n->inputs[i].node];
		shape_str(&in[i], s, sizeof s);
		len += snprintf(buf + len, size - len, "%s%s %s%s%s", i ? ", " : "", i < k ? names[i] : "?", s,
				src->kind == NODE_OP ? " from " : "", src->kind == NODE_OP ? src->name : "");
	}
}

int graph_infer_shapes(const struct graph *g, struct mx_shape *shapes)
{
	for (int i = 0; i < g->n_forward; i++) {
		const struct graph_node *n = &g->nodes[i];
		struct mx_shape in[GRAPH_MAX_INPUTS], out[8];
		int rc;
		if (n->kind != NODE_OP)
			continue;
		for (int j = 0; j < n->n_inputs; j++)
			in[j] = shapes[graph_entry_id(g, n->inputs[j])];
		for (int j = 0; j < n->n_outputs; j++)
			out[j] = shapes[n->entry_base + j];
		if (n->inputs[0].node >= 0 && in[0].ndim == 0 && n->op->n_data_inputs != 0) {
			const struct graph_node *src = &g->nodes[n->inputs[0].node];
			if (src->kind == NODE_DATA)
				return mx_error(MX_ERR_SHAPE, "%s%slayer %s: the shape of input \"%s\" is not known",
						n->origin ? n->origin : "", n->origin ? ": " : "", n->name, src->name);
		}
		if ((rc = n->op->infer_shape(n->param, in, n->n_inputs, out, n->n_outputs))) {
			char desc[1024];
			char msg[1024];
			mx_error_copy(msg, sizeof msg);
			describe_inputs(g, n, in, desc, sizeof desc);
			return mx_error(rc, "%s%slayer %s (%s): %s; inputs: %s", n->origin ? n->origin : "",
					n->origin ? ": " : "", n->name, n->op->name, msg, desc);
		}
		for (int j = 0; j < n->n_inputs; j++) {
			struct mx_shape *known = &shapes[graph_entry_id(g, n->inputs[j])];
			if (known->ndim && !shape_equal(known, &in[j])) {
				char a[96], b[96];
				return mx_error(MX_ERR_SHAPE, "%s%slayer %s (%s): input %s has shape %s, but the layer needs %s",
						n->origin ? n->origin : "", n->origin ? ": " : "", n->name,
						n->op->name, g->nodes[n->inputs[j].node].name,
						shape_str(known, a, sizeof a), shape_str(&in[j], b, sizeof b));
			}
			*known = in[j];
		}
		for (int j = 0; j < n->n_outputs; j++)
			shapes[n->entry_base + j] = out[j];
	}
	return MX_OK;
}
