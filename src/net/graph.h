/* graph.h: the symbolic graph.
 *
 * A graph is a list of nodes in topological order. A node is a variable (data, label,
 * learnable argument, auxiliary state) or an operator with parsed parameters, a name and
 * inputs (node, output index). Entries (node outputs) are numbered densely: entry id =
 * node's entry_base + output index. graph_build_backward() appends the backward nodes;
 * a backward node's inputs have a fixed layout (see below) and its outputs are the
 * gradients of its forward node's inputs.
 *
 * Usage:
 *   struct graph *g = graph_new();
 *   int data = graph_add_variable(g, "data", NODE_DATA);
 *   int fc = graph_add_op(g, op_find("fc"), "fc1", keys, values, 1, &(struct graph_entry){data, 0}, 1, "net.conf:7");
 *   ... graph_set_heads(g, &(struct graph_entry){sm, 0}, 1);
 *   graph_infer_shapes(g, shapes);   // shapes[] holds the data and label shapes on entry
 *   graph_build_backward(g);         // for training
 *   graph_free(g);
 */
#ifndef MX_GRAPH_H
#define MX_GRAPH_H

#include "op.h"
#include "tensor.h"

struct graph_entry {
	int node;  /* -1: none (a backward input slot backward does not read) */
	int index;
};

enum node_kind {
	NODE_OP,        /* forward operator */
	NODE_DATA,      /* variable fed by the iterator: data */
	NODE_LABEL,     /* variable fed by the iterator: labels */
	NODE_ARG,       /* learnable argument (weights) */
	NODE_AUX,       /* auxiliary state (BatchNorm moving stats) */
	NODE_BACKWARD,  /* gradient of a forward operator */
};

struct graph_attr {
	char *key;
	char *value;
};

struct graph_node {
	enum node_kind kind;
	const struct op_desc *op;     /* operator (NODE_OP, NODE_BACKWARD); NULL for variables */
	char *name;                   /* unique; backward nodes: "_backward_<name>" */
	void *param;                  /* parsed parameters; owned by NODE_OP nodes, shared
	                                 (not owned) by their NODE_BACKWARD node */
	struct graph_attr *attrs;     /* parameters as the user gave them (for symbol JSON) */
	int n_attrs;
	struct graph_entry *inputs;
	int n_inputs;
	int n_outputs;
	int entry_base;               /* entry id of output 0 */
	int forward_node;             /* NODE_BACKWARD: the node it differentiates; else -1 */
	char *origin;                 /* where it was defined ("net.conf:12"), or NULL */
};

/* A backward node of forward node f (op o, n_in inputs, n_out outputs, n_vis visible):
 *   inputs[0 .. n_vis)                  gradients of f's visible outputs (OP_LOSS: none)
 *   inputs[n_vis .. n_vis+n_in)         f's inputs, where o->bw_in says backward reads them
 *   inputs[n_vis+n_in .. +n_out)        f's outputs, where o->bw_out says so
 * unread slots have node -1; an output gradient nobody produced has node -2 (zero).
 *   outputs[0 .. n_in)                  gradients of f's inputs.
 * A NODE_BACKWARD node with forward_node -1 is a gradient sum: an add_n whose forward
 * runs in the backward pass; it owns its param. */
#define GRAPH_ZERO_GRAD (-2)

struct graph {
	struct graph_node *nodes;
	int n_nodes, cap_nodes;
	int n_forward;                /* nodes [0, n_forward) are the forward graph */
	int n_entries;
	struct graph_entry *heads;    /* the outputs of the forward graph */
	int n_heads;
	/* After graph_build_backward(): grad[e] is the entry holding the gradient of
	 * forward entry e ({-1, 0} where none is computed). Indexed by entry id. */
	struct graph_entry *grad;
};

/* Returns a new empty graph, or NULL (out of memory). Free with graph_free(). */
struct graph *graph_new(void);
void graph_free(struct graph *g);

/* Adds a variable. Returns its node id, or -1 with an error (duplicate name). */
int graph_add_variable(struct graph *g, const char *name, enum node_kind kind);
/* Adds an operator node named name: parses keys/values with op's parameter table,
 * connects data_inputs to its data inputs and creates (or reuses, by name) the
 * variables "<name>_<input>" for the others (weight, bias, label, moving_mean, ...).
 * When n_data_inputs equals the op's total input count, every input is taken from
 * data_inputs and no variable is created (symbol JSON names its variables itself).
 * origin, when not NULL, prefixes error messages. Returns the node id, or -1 with the
 * error set ("net.conf:12: layer fc1: unknown key ..."). */
int graph_add_op(struct graph *g, const struct op_desc *op, const char *name,
		 const char *const *keys, const char *const *values, int n_attrs,
		 const struct graph_entry *data_inputs, int n_data_inputs, const char *origin);
/* Node id of name, or -1. */
int graph_find(const struct graph *g, const char *name);
/* Sets the graph's outputs; prunes nothing. */
int graph_set_heads(struct graph *g, const struct graph_entry *heads, int n);
/* Returns a new graph holding only what heads need (its own copy), for prediction and
 * feature extraction. NULL with an error set on failure. */
struct graph *graph_prune(const struct graph *g, const struct graph_entry *heads, int n);
static inline int graph_entry_id(const struct graph *g, struct graph_entry e)
{
	return g->nodes[e.node].entry_base + e.index;
}

/* Infers every entry's shape. shapes[] has g->n_entries slots; on entry the shapes of
 * data and label variables (and any others known) are set, the rest ndim 0. On a
 * mismatch returns MX_ERR_SHAPE naming the layer, its inputs and their shapes. */
int graph_infer_shapes(const struct graph *g, struct mx_shape *shapes);

/* Appends backward nodes for every forward node on a path from a learnable argument to
 * a loss head, with gradient sums where an entry feeds several nodes. The heads must be
 * OP_LOSS operators. Returns MX_OK or an error. */
int graph_build_backward(struct graph *g);

/* Variables of a kind in node order (MXNet's list_arguments order for NODE_ARG).
 * Returns the count; ids may be NULL to only count. */
int graph_list_vars(const struct graph *g, enum node_kind kind, int *ids, int max);

#endif
