/* autodiff.c: appending the backward graph (reverse-mode automatic differentiation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "graph.h"

/* Gradient contributions collected for one forward entry. */
struct contrib {
	struct graph_entry *e;
	int n, cap;
};

static int contrib_add(struct contrib *c, struct graph_entry e)
{
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 2;
		struct graph_entry *p = realloc(c->e, cap * sizeof *p);
		if (!p)
			return mx_error(MX_ERR_NOMEM, "out of memory");
		c->e = p;
		c->cap = cap;
	}
	c->e[c->n++] = e;
	return MX_OK;
}

/* Appends a backward-pass node (grad sum or op backward); returns its id or -1. */
static int add_backward_node(struct graph *g, const struct op_desc *op, void *param, const char *name,
			     int forward_node, const struct graph_entry *inputs, int n_inputs, int n_outputs)
{
	struct graph_node *n;
	if (g->n_nodes == g->cap_nodes) {
		int cap = g->cap_nodes * 2 + 32;
		struct graph_node *p = realloc(g->nodes, cap * sizeof *p);
		if (!p)
			return mx_error(MX_ERR_NOMEM, "out of memory"), -1;
		g->nodes = p;
		g->cap_nodes = cap;
	}
	n = &g->nodes[g->n_nodes];
	memset(n, 0, sizeof *n);
	n->kind = NODE_BACKWARD;
	n->op = op;
	n->param = param;
	n->name = strdup(name);
	n->forward_node = forward_node;
	n->inputs = malloc((n_inputs ? n_inputs : 1) * sizeof *n->inputs);
	memcpy(n->inputs, inputs, n_inputs * sizeof *inputs);
	n->n_inputs = n_inputs;
	n->n_outputs = n_outputs;
	n->entry_base = g->n_entries;
	g->n_entries += n_outputs;
	return g->n_nodes++;
}

/* The single entry holding the sum of c's contributions: the one itself, or a new
 * add_n node. Returns {-1,0} on error. */
static struct graph_entry sum_contribs(struct graph *g, struct contrib *c, const char *name)
{
	char sum_name[600];
	char n_text[16];
	void *param;
	int id;
	if (c->n == 1)
		return c->e[0];
	param = op_param_new(&op_elemwise_sum);
	snprintf(n_text, sizeof n_text, "%d", c->n);
	if (!param || param_set(op_elemwise_sum.params, param, "num_args", n_text)) {
		free(param);
		return (struct graph_entry){-1, 0};
	}
	snprintf(sum_name, sizeof sum_name, "_grad_sum_%s", name);
	id = add_backward_node(g, &op_elemwise_sum, param, sum_name, -1, c->e, c->n, 1);
	if (id < 0) {
		free(param);
		return (struct graph_entry){-1, 0};
	}
	return (struct graph_entry){id, 0};
}

int graph_build_backward(struct graph *g)
{
	int n_fwd = g->n_forward, n_fwd_entries = g->n_entries, rc = MX_OK;
	char *wants = calloc(n_fwd, 1);       /* node's outputs depend on a learnable argument */
	char *reaches = calloc(n_fwd, 1);     /* node feeds a head */
	struct contrib *contrib = calloc(n_fwd_entries, sizeof *contrib);
	struct graph_entry *grad = malloc(n_fwd_entries * sizeof *grad);
	if (!wants || !reaches || !contrib || !grad) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (g->n_nodes != n_fwd) {
		rc = mx_error(MX_ERR_INTERNAL, "graph_build_backward: backward already built");
		goto done;
	}
	for (int h = 0; h < g->n_heads; h++) {
		const struct graph_node *n = &g->nodes[g->heads[h].node];
		if (n->kind != NODE_OP || !(n->op->flags & OP_LOSS)) {
			rc = mx_error(MX_ERR_INVALID,
				      "%s%slayer %s (%s) is an output, but training needs a loss layer there "
				      "(SoftmaxOutput, ...)",
				      n->origin ? n->origin : "", n->origin ? ": " : "", n->name,
				      n->op ? n->op->name : "variable");
			goto done;
		}
		reaches[g->heads[h].node] = 1;
	}
	for (int i = 0; i < n_fwd; i++) {
		const struct graph_node *n = &g->nodes[i];
		if (n->kind == NODE_ARG)
			wants[i] = 1;
		for (int j = 0; j < n->n_inputs && n->kind == NODE_OP; j++)
			wants[i] |= wants[n->inputs[j].node];
	}
	for (int i = n_fwd - 1; i >= 0; i--)
		if (reaches[i])
			for (int j = 0; j < g->nodes[i].n_inputs; j++)
				reaches[g->nodes[i].inputs[j].node] = 1;

	for (int i = n_fwd - 1; i >= 0; i--) {
		const struct op_desc *op;
		struct graph_entry *in;
		char name[600];
		int n_vis, n_in, n_out, bw;
		if (g->nodes[i].kind != NODE_OP || !wants[i] || !reaches[i])
			continue;
		op = g->nodes[i].op;
		n_vis = op->flags & OP_LOSS ? 0 : op->n_visible_outputs;
		n_in = g->nodes[i].n_inputs;
		n_out = g->nodes[i].n_outputs;
		in = malloc((n_vis + n_in + n_out) * sizeof *in);
		if (!in) {
			rc = mx_error(MX_ERR_NOMEM, "out of memory");
			goto done;
		}
		for (int j = 0; j < n_vis; j++) {
			int e = g->nodes[i].entry_base + j;
			if (contrib[e].n == 0) {
				in[j] = (struct graph_entry){GRAPH_ZERO_GRAD, 0};
				continue;
			}
			snprintf(name, sizeof name, "%s_output%d", g->nodes[i].name, j);
			in[j] = sum_contribs(g, &contrib[e], name);
			if (in[j].node < 0) {
				free(in);
				rc = MX_ERR_NOMEM;
				goto done;
			}
		}
		for (int j = 0; j < n_in; j++)
			in[n_vis + j] = op_bit(op->bw_in, j) ? g->nodes[i].inputs[j] : (struct graph_entry){-1, 0};
		for (int j = 0; j < n_out; j++)
			in[n_vis + n_in + j] = op_bit(op->bw_out, j) ? (struct graph_entry){i, j}
								      : (struct graph_entry){-1, 0};
		snprintf(name, sizeof name, "_backward_%s", g->nodes[i].name);
		bw = add_backward_node(g, op, g->nodes[i].param, name, i, in, n_vis + n_in + n_out, n_in);
		free(in);
		if (bw < 0) {
			rc = MX_ERR_NOMEM;
			goto done;
		}
		for (int j = 0; j < n_in; j++) {
			struct graph_entry src = g->nodes[i].inputs[j];
			const struct graph_node *s = &g->nodes[src.node];
			if (!wants[src.node] || (s->kind != NODE_ARG && s->kind != NODE_OP))
				continue;
			if ((rc = contrib_add(&contrib[graph_entry_id(g, src)], (struct graph_entry){bw, j})))
				goto done;
		}
	}
	for (int e = 0; e < n_fwd_entries; e++)
		grad[e] = (struct graph_entry){-1, 0};
	for (int i = 0; i < n_fwd; i++) {
		int e = g->nodes[i].entry_base;
		if (g->nodes[i].kind != NODE_ARG || contrib[e].n == 0)
			continue;
		grad[e] = sum_contribs(g, &contrib[e], g->nodes[i].name);
		if (grad[e].node < 0) {
			rc = MX_ERR_NOMEM;
			goto done;
		}
	}
	free(g->grad);
	g->grad = grad;
	grad = NULL;
done:
	for (int e = 0; contrib && e < n_fwd_entries; e++)
		free(contrib[e].e);
	free(contrib);
	free(grad);
	free(wants);
	free(reaches);
	return rc;
}
