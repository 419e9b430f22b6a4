/* executor.c: binding a graph to arrays and pushing its nodes to the engine. */
#include "executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/engine.h"
#include "error.h"
#include "plan.h"
#include "pool.h"

#define EXEC_MAX_IO 256

struct executor {
	struct graph *g;
	struct engine *eng;
	struct mx_context ctx;
	struct mx_rng *rng;
	struct engine_var *rng_var;
	int n_entries;             /* entries bound: forward only, or all */
	int n_nodes;
	struct mx_tensor **entry;  /* per entry; shared arrays are views owned here too */
	struct mx_tensor **zero;   /* per entry: a zero gradient for GRAPH_ZERO_GRAD slots */
	enum op_req *req;          /* per entry: how its producer writes it */
	struct mx_shape *shapes;
	struct engine_var **vars;  /* per entry; owned unless borrowed from shared */
	char *var_owned;
	size_t bytes;
	int is_train;              /* mode of the forward pass in flight */
	double *profile;           /* per node: seconds spent (executor_set_profile), or NULL */
	struct exec_trace *trace;  /* borrowed, or NULL */
	/* Scratch for ops that declare op->workspace: one buffer of the largest size, with
	 * its own engine variable that every node using it writes (so users are serialised). */
	struct mx_tensor *workspace;
	struct engine_var *workspace_var;
	/* Planned entries live in one arena cut into pieces (plan.h), one engine variable
	 * per piece: entries whose bytes overlap share a piece and are ordered through it. */
	struct mx_threadpool *pool;   /* borrowed; NULL: ops run on one thread */
	struct engine_var **piece_vars;
	int n_pieces;
	size_t planned_bytes, unplanned_bytes;
	/* Per node, what its task reads and writes, resolved at bind time: node i reads
	 * access[acc_begin[i] .. + n_reads[i]) and writes the n_writes[i] after them. */
	struct engine_var **access;
	int *acc_begin, *n_reads, *n_writes;
};

/* One pushed node: everything the task needs, resolved at bind time. */
struct node_task {
	struct executor *ex;
	int node;
	int is_train;   /* the mode of the pass that pushed it (tasks may run later) */
};

void executor_free(struct executor *ex)
{
	if (!ex)
		return;
	engine_wait_all(ex->eng);
	for (int e = 0; e < ex->n_entries; e++) {
		tensor_free(ex->entry[e]);
		tensor_free(ex->zero[e]);
		if (ex->var_owned[e])
			engine_var_free(ex->eng, ex->vars[e]);
	}
	if (ex->rng_var)
		engine_var_free(ex->eng, ex->rng_var);
	if (ex->workspace_var)
		engine_var_free(ex->eng, ex->workspace_var);
	for (int s = 0; s < ex->n_pieces; s++)
		engine_var_free(ex->eng, ex->piece_vars[s]);
	free(ex->piece_vars);
	free(ex->access);
	free(ex->acc_begin);
	free(ex->n_reads);
	free(ex->n_writes);
	tensor_free(ex->workspace);
	free(ex->entry);
	free(ex->zero);
	free(ex->req);
	free(ex->shapes);
	free(ex->vars);
	free(ex->var_owned);
	free(ex);
}

static int find_var_entry(const struct graph *g, const char *name)
{
	for (int i = 0; i < g->n_forward; i++)
		if (g->nodes[i].kind != NODE_OP && !strcmp(g->nodes[i].name, name))
			return g->nodes[i].entry_base;
	return -1;
}

/* Shapes of the backward entries: a backward node's output i has the shape of its
 * forward node's input i; a gradient sum has its first input's shape. */
static void infer_backward_shapes(const struct graph *g, struct mx_shape *shapes)
{
	for (int i = g->n_forward; i < g->n_nodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		if (n->forward_node < 0) {
			shapes[n->entry_base] = shapes[graph_entry_id(g, n->inputs[0])];
			continue;
		}
		for (int j = 0; j < n->n_outputs; j++)
			shapes[n->entry_base + j] = shapes[graph_entry_id(g, g->nodes[n->forward_node].inputs[j])];
	}
}

/* Every entry's shape (sh[], g->n_entries slots, zeroed) from the named inputs' shapes;
 * learnable and auxiliary shapes come from shared when it lends them. */
static int bind_shapes(const struct graph *g, const char *const *names, const struct mx_shape *shapes, int n,
		       const struct executor *shared, int for_training, struct mx_shape *sh)
{
	int rc;
	for (int i = 0; i < n; i++) {
		int e = find_var_entry(g, names[i]);
		if (e < 0)
			return mx_error(MX_ERR_INVALID, "the network has no input called \"%s\"", names[i]);
		sh[e] = shapes[i];
	}
	for (int i = 0; shared && i < g->n_forward; i++) {
		const struct graph_node *node = &g->nodes[i];
		int se;
		if (node->kind != NODE_ARG && node->kind != NODE_AUX)
			continue;
		se = find_var_entry(shared->g, node->name);
		if (se >= 0 && shared->entry[se])
			sh[node->entry_base] = shared->shapes[se];
	}
	if ((rc = graph_infer_shapes(g, sh)))
		return rc;
	if (for_training)
		infer_backward_shapes(g, sh);
	return MX_OK;
}

/* Marks the entries the plan places (needed: written; external: bound outside the plan:
 * variables, heads the caller reads, gradients the optimizer reads). A backward output
 * nobody reads is not needed: that gradient is not computed at all. */
static int mark_entries(const struct graph *g, int n_nodes, int for_training, char *needed, char *external)
{
	int *consumers = calloc(g->n_entries + 1, sizeof *consumers);
	int n_fwd_entries = g->nodes[g->n_forward - 1].entry_base + g->nodes[g->n_forward - 1].n_outputs;
	if (!consumers)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j].node >= 0)
				consumers[graph_entry_id(g, g->nodes[i].inputs[j])]++;
	for (int e = 0; for_training && e < n_fwd_entries; e++)
		if (g->grad[e].node >= 0)
			consumers[graph_entry_id(g, g->grad[e])]++;
	for (int i = 0; i < n_nodes; i++) {
		const struct graph_node *node = &g->nodes[i];
		for (int j = 0; j < node->n_outputs; j++) {
			int e = node->entry_base + j;
			needed[e] = !(node->kind == NODE_BACKWARD && !consumers[e]);
			external[e] = node->kind != NODE_OP && node->kind != NODE_BACKWARD;
		}
	}
	for (int h = 0; h < g->n_heads; h++)
		external[graph_entry_id(g, g->heads[h])] = 1;
	for (int e = 0; for_training && e < n_fwd_entries; e++)
		if (g->grad[e].node >= 0)
			external[graph_entry_id(g, g->grad[e])] = 1;
	free(consumers);
	return MX_OK;
}

int executor_plan(struct graph *g, const char *const *names, const struct mx_shape *shapes, int n,
		  int for_training, unsigned plan_flags, struct mem_plan **out)
{
	struct mx_shape *sh = calloc(g->n_entries + 1, sizeof *sh);
	char *needed = calloc(g->n_entries + 1, 1), *external = calloc(g->n_entries + 1, 1);
	int n_nodes = for_training ? g->n_nodes : g->n_forward, rc = MX_OK;
	*out = NULL;
	if (!sh || !needed || !external) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (for_training && !g->grad) {
		rc = mx_error(MX_ERR_INTERNAL, "executor_plan: graph has no backward part");
		goto done;
	}
	if ((rc = bind_shapes(g, names, shapes, n, NULL, for_training, sh)) ||
	    (rc = mark_entries(g, n_nodes, for_training, needed, external)))
		goto done;
	rc = plan_memory(g, n_nodes, sh, needed, external, plan_flags, out);
done:
	free(sh);
	free(needed);
	free(external);
	return rc;
}

int executor_plan_sizes(struct graph *g, const char *const *names, const struct mx_shape *shapes, int n,
			int for_training, struct plan_sizes *out)
{
	struct mx_shape *sh = calloc(g->n_entries + 1, sizeof *sh);
	int rc = MX_OK;
	memset(out, 0, sizeof *out);
	if (!sh)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	for (unsigned flags = 0; flags < 4; flags++) {
		struct mem_plan *p;
		if ((rc = executor_plan(g, names, shapes, n, for_training, flags, &p)))
			goto done;
		out->internal[flags] = p->total_bytes;
		plan_free(p);
	}
	if ((rc = bind_shapes(g, names, shapes, n, NULL, for_training, sh)))
		goto done;
	for (int i = 0; i < g->n_forward; i++) {
		const struct graph_node *node = &g->nodes[i];
		size_t bytes = (size_t)shape_size(&sh[node->entry_base]) * sizeof(float);
		if (node->kind == NODE_ARG) {
			out->weights += bytes;
			if (for_training && g->grad[node->entry_base].node >= 0)
				out->gradients += bytes;
		} else if (node->kind == NODE_AUX) {
			out->weights += bytes;
		} else if (node->kind == NODE_DATA || node->kind == NODE_LABEL) {
			out->inputs += bytes;
		}
	}
	for (int h = 0; h < g->n_heads; h++)
		out->outputs += (size_t)shape_size(&sh[graph_entry_id(g, g->heads[h])]) * sizeof(float);
done:
	free(sh);
	return rc;
}

unsigned executor_plan_flags_from_env(void)
{
	const char *inplace = getenv("MXNET_EXEC_ENABLE_INPLACE"), *coshare = getenv("MXTRAIN_EXEC_COSHARE");
	unsigned flags = PLAN_INPLACE | PLAN_COSHARE;
	if (inplace && (!strcmp(inplace, "0") || !strcasecmp(inplace, "false")))
		flags &= ~PLAN_INPLACE;
	if (coshare && (!strcmp(coshare, "0") || !strcasecmp(coshare, "false")))
		flags &= ~PLAN_COSHARE;
	return flags;
}

/* Appends v to list[0 .. *n) unless it is there. */
static void add_var(struct engine_var **list, int *n, struct engine_var *v)
{
	for (int k = 0; k < *n; k++)
		if (list[k] == v)
			return;
	list[(*n)++] = v;
}

/* The variables that guard entry e: its pieces' when planned, else its own. Appends them
 * to list (no repeats). */
static void entry_vars(const struct executor *ex, const struct mem_plan *plan, int e, struct engine_var **list,
		       int *n)
{
	int gr = plan->group[e];
	if (gr >= 0 && !ex->vars[e]) {
		for (int k = 0; k < plan->piece_count[gr]; k++)
			add_var(list, n, ex->piece_vars[plan->piece_first[gr] + k]);
	} else if (ex->vars[e]) {
		add_var(list, n, ex->vars[e]);
	}
}

/* Fills each node's read and write lists (struct executor): its inputs' and outputs'
 * variables, the random generator's and the workspace's; forward writes auxiliary
 * states (BatchNorm's moving stats) rather than reading them. A variable written is not
 * also listed as read. Returns MX_OK or MX_ERR_NOMEM. */
static int resolve_accesses(struct executor *ex, const struct mem_plan *plan)
{
	const struct graph *g = ex->g;
	size_t total = 0;
	int n_max = 0, pos = 0;
	struct engine_var **reads = NULL, **writes = NULL;
	for (int i = 0; i < ex->n_nodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		int k = 2;
		for (int j = 0; j < n->n_inputs; j++)
			if (n->inputs[j].node >= 0) {
				int e = graph_entry_id(g, n->inputs[j]);
				k += plan->group[e] >= 0 ? plan->piece_count[plan->group[e]] : 1;
			}
		for (int j = 0; j < n->n_outputs; j++) {
			int e = n->entry_base + j;
			k += plan->group[e] >= 0 ? plan->piece_count[plan->group[e]] : 1;
		}
		total += k;
		n_max = k > n_max ? k : n_max;
	}
	ex->access = malloc((total + 1) * sizeof *ex->access);
	ex->acc_begin = calloc(ex->n_nodes + 1, sizeof *ex->acc_begin);
	ex->n_reads = calloc(ex->n_nodes + 1, sizeof *ex->n_reads);
	ex->n_writes = calloc(ex->n_nodes + 1, sizeof *ex->n_writes);
	reads = malloc((n_max + 1) * sizeof *reads);
	writes = malloc((n_max + 1) * sizeof *writes);
	if (!ex->access || !ex->acc_begin || !ex->n_reads || !ex->n_writes || !reads || !writes) {
		free(reads);
		free(writes);
		return mx_error(MX_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < ex->n_nodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		int nr = 0, nw = 0, m = 0;
		ex->acc_begin[i] = pos;
		if (n->kind != NODE_OP && n->kind != NODE_BACKWARD)
			continue;
		for (int j = 0; j < n->n_outputs; j++)
			if (ex->entry[n->entry_base + j])
				entry_vars(ex, plan, n->entry_base + j, writes, &nw);
		if (n->op->flags & OP_RANDOM && ex->rng_var)
			add_var(writes, &nw, ex->rng_var);
		if (n->op->workspace && ex->workspace_var)
			add_var(writes, &nw, ex->workspace_var);
		for (int j = 0; j < n->n_inputs; j++) {
			int e;
			if (n->inputs[j].node < 0)
				continue;
			e = graph_entry_id(g, n->inputs[j]);
			if (n->kind == NODE_OP && op_bit(n->op->aux_mask, j))
				entry_vars(ex, plan, e, writes, &nw);
			else
				entry_vars(ex, plan, e, reads, &nr);
		}
		for (int k = 0; k < nr; k++) {
			int written = 0;
			for (int w = 0; w < nw && !written; w++)
				written = reads[k] == writes[w];
			if (!written)
				reads[m++] = reads[k];
		}
		memcpy(ex->access + pos, reads, m * sizeof *reads);
		memcpy(ex->access + pos + m, writes, nw * sizeof *writes);
		ex->n_reads[i] = m;
		ex->n_writes[i] = nw;
		pos += m + nw;
	}
	free(reads);
	free(writes);
	return MX_OK;
}

int executor_bind(struct graph *g, struct engine *eng, struct mx_context ctx,
		  const char *const *names, const struct mx_shape *shapes, int n, int for_training,
		  struct executor *shared, struct mx_rng *rng, struct executor **out)
{
	return executor_bind_planned(g, eng, ctx, names, shapes, n, for_training, shared, rng,
				     executor_plan_flags_from_env(), out);
}

int executor_bind_planned(struct graph *g, struct engine *eng, struct mx_context ctx,
			  const char *const *names, const struct mx_shape *shapes, int n, int for_training,
			  struct executor *shared, struct mx_rng *rng, unsigned plan_flags, struct executor **out)
{
	struct executor *ex = calloc(1, sizeof *ex);
	int rc;
	char *needed = NULL, *external = NULL;
	struct mem_plan *plan = NULL;
	struct mx_storage *arena = NULL;
	*out = NULL;
	if (!ex)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	if (for_training && !g->grad) {
		free(ex);
		return mx_error(MX_ERR_INTERNAL, "executor_bind: graph has no backward part");
	}
	ex->g = g;
	ex->eng = eng;
	ex->ctx = ctx;
	ex->rng = rng;
	ex->n_nodes = for_training ? g->n_nodes : g->n_forward;
	ex->n_entries = for_training ? g->n_entries
				     : (g->n_forward ? g->nodes[g->n_forward - 1].entry_base +
							       g->nodes[g->n_forward - 1].n_outputs : 0);
	ex->entry = calloc(g->n_entries, sizeof *ex->entry);
	ex->zero = calloc(g->n_entries, sizeof *ex->zero);
	ex->req = calloc(g->n_entries, sizeof *ex->req);
	ex->shapes = calloc(g->n_entries, sizeof *ex->shapes);
	ex->vars = calloc(g->n_entries, sizeof *ex->vars);
	ex->var_owned = calloc(g->n_entries, 1);
	needed = calloc(g->n_entries + 1, 1);
	external = calloc(g->n_entries + 1, 1);
	if (!needed || !external || !ex->entry || !ex->zero || !ex->req || !ex->shapes || !ex->vars || !ex->var_owned) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = bind_shapes(g, names, shapes, n, shared, for_training, ex->shapes)))
		goto fail;

	if ((rc = mark_entries(g, ex->n_nodes, for_training, needed, external)))
		goto fail;
	if ((rc = plan_memory(g, ex->n_nodes, ex->shapes, needed, external, plan_flags, &plan)))
		goto fail;
	if (!(ex->piece_vars = calloc(plan->n_pieces + 1, sizeof *ex->piece_vars))) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (int k = 0; k < plan->n_pieces; k++) {
		if (!(ex->piece_vars[k] = engine_var_new(eng))) {
			rc = MX_ERR_NOMEM;
			goto fail;
		}
		ex->n_pieces = k + 1;
	}
	if (plan->total_bytes && !(arena = storage_alloc(ctx, plan->total_bytes))) {
		rc = MX_ERR_NOMEM;
		goto fail;
	}
	ex->planned_bytes = plan->total_bytes;
	ex->unplanned_bytes = plan->entry_bytes;

	for (int i = 0; i < ex->n_nodes; i++) {
		const struct graph_node *node = &g->nodes[i];
		for (int j = 0; j < node->n_outputs; j++) {
			int e = node->entry_base + j;
			struct mx_tensor *lent = NULL;
			if (shared && (node->kind == NODE_ARG || node->kind == NODE_AUX)) {
				int se = find_var_entry(shared->g, node->name);
				if (se >= 0)
					lent = shared->entry[se];
			}
			if (!needed[e]) {
				ex->req[e] = OP_REQ_NULL;
				continue;
			}
			ex->req[e] = plan->inplace[e] ? OP_REQ_INPLACE : OP_REQ_WRITE;
			if (lent) {
				ex->entry[e] = tensor_reshape(lent, &lent->shape);
				ex->vars[e] = lent->var;
			} else if (plan->group[e] >= 0) {
				/* guarded by its pieces' variables (resolve_accesses), not one of its own */
				ex->entry[e] = tensor_on_storage(arena, plan->offset[plan->group[e]], &ex->shapes[e], MX_F32);
				if (!ex->entry[e]) {
					rc = MX_ERR_NOMEM;
					goto fail;
				}
				continue;
			} else {
				ex->entry[e] = tensor_new(&ex->shapes[e], MX_F32, ctx);
				if (ex->entry[e])
					ex->bytes += tensor_bytes(ex->entry[e]);
				ex->vars[e] = engine_var_new(eng);
				ex->var_owned[e] = 1;
			}
			if (!ex->entry[e] || !ex->vars[e]) {
				rc = MX_ERR_NOMEM;
				goto fail;
			}
			ex->entry[e]->var = ex->vars[e];
		}
		if (node->kind == NODE_BACKWARD && node->forward_node >= 0) {
			/* Zero gradients for visible outputs nobody differentiated. */
			for (int j = 0; j < node->n_inputs; j++) {
				if (node->inputs[j].node != GRAPH_ZERO_GRAD)
					continue;
				int fe = g->nodes[node->forward_node].entry_base + j;
				if (!ex->zero[fe] && !(ex->zero[fe] = tensor_new(&ex->shapes[fe], MX_F32, ctx))) {
					rc = MX_ERR_NOMEM;
					goto fail;
				}
			}
		}
	}
	if (rng && !(ex->rng_var = engine_var_new(eng))) {
		rc = MX_ERR_NOMEM;
		goto fail;
	}
	{
		size_t ws = 0;
		for (int i = 0; i < ex->n_nodes; i++) {
			const struct graph_node *node = &g->nodes[i];
			const struct graph_node *f = node->forward_node >= 0 ? &g->nodes[node->forward_node] : node;
			struct mx_shape in[EXEC_MAX_IO];
			size_t need;
			if ((node->kind != NODE_OP && node->kind != NODE_BACKWARD) || !node->op->workspace)
				continue;
			for (int j = 0; j < f->n_inputs; j++)
				in[j] = ex->shapes[graph_entry_id(g, f->inputs[j])];
			need = node->op->workspace(f->param, in, f->n_inputs);
			ws = need > ws ? need : ws;
		}
		/* A shared buffer would serialise every op that uses it; with several engine
		 * workers ops take per-thread scratch instead (conv.c keeps one per thread). */
		if (ws && engine_num_workers(eng) == 1) {
			struct mx_shape s = shape_make(1, (int64_t)((ws + 3) / 4));
			if (!(ex->workspace = tensor_new(&s, MX_F32, ctx)) || !(ex->workspace_var = engine_var_new(eng))) {
				rc = MX_ERR_NOMEM;
				goto fail;
			}
			ex->bytes += tensor_bytes(ex->workspace);
		}
	}
	ex->bytes += ex->planned_bytes;
	if ((rc = resolve_accesses(ex, plan)))
		goto fail;
	free(needed);
	free(external);
	plan_free(plan);
	storage_release(arena);
	*out = ex;
	return MX_OK;
fail:
	free(needed);
	free(external);
	plan_free(plan);
	storage_release(arena);
	executor_free(ex);
	return rc;
}

static struct mx_tensor *entry_tensor(struct executor *ex, struct graph_entry e, int zero_for)
{
	if (e.node == GRAPH_ZERO_GRAD)
		return ex->zero[zero_for];
	if (e.node < 0)
		return NULL;
	return ex->entry[graph_entry_id(ex->g, e)];
}

static int run_node_body(void *arg)
{
	struct node_task *t = arg;
	struct executor *ex = t->ex;
	const struct graph_node *n = &ex->g->nodes[t->node];
	struct mx_tensor *in[EXEC_MAX_IO], *outs[EXEC_MAX_IO];
	enum op_req req[EXEC_MAX_IO];
	struct op_ctx ctx = {.is_train = t->is_train, .rng = ex->rng, .dev = ex->ctx, .pool = ex->pool};
	if (n->op->workspace && ex->workspace) {
		ctx.workspace = ex->workspace->data;
		ctx.workspace_bytes = tensor_bytes(ex->workspace);
	}
	int dev = ex->ctx.dev_type, rc;

	for (int j = 0; j < n->n_outputs; j++) {
		outs[j] = ex->entry[n->entry_base + j];
		req[j] = ex->req[n->entry_base + j];
	}
	if (n->kind == NODE_OP || n->forward_node < 0) {
		if (!n->op->forward[dev])
			return mx_error(MX_ERR_INVALID, "%s has no kernel for this device", n->op->name);
		for (int j = 0; j < n->n_inputs; j++)
			in[j] = entry_tensor(ex, n->inputs[j], 0);
		rc = n->op->forward[dev](&ctx, n->param, in, outs, req);
	} else {
		const struct graph_node *f = &ex->g->nodes[n->forward_node];
		int n_vis = n->op->flags & OP_LOSS ? 0 : n->op->n_visible_outputs;
		if (!n->op->backward[dev])
			return mx_error(MX_ERR_INVALID, "%s has no backward kernel for this device", n->op->name);
		for (int j = 0; j < n->n_inputs; j++)
			in[j] = entry_tensor(ex, n->inputs[j], f->entry_base + (j < n_vis ? j : 0));
		rc = n->op->backward[dev](&ctx, n->param, n_vis ? in : NULL, in + n_vis, in + n_vis + f->n_inputs,
					  outs, req);
	}
	return rc ? mx_error_prefix(rc, "layer %s", n->kind == NODE_OP ? n->name : n->name) : MX_OK;
}

/* run_node_body, timed into ex->profile when profiling is on (mxtrain --time). */
static int run_node(void *arg)
{
	struct node_task *t = arg;
	struct timespec a, b;
	int rc;
	exec_trace_add(t->ex->trace, t->node);
	if (!t->ex->profile)
		return run_node_body(arg);
	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = run_node_body(arg);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t->ex->profile[t->node] += (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
	return rc;
}

void executor_set_profile(struct executor *ex, double *seconds) { ex->profile = seconds; }
void executor_set_trace(struct executor *ex, struct exec_trace *trace) { ex->trace = trace; }
void executor_set_threadpool(struct executor *ex, struct mx_threadpool *pool) { ex->pool = pool; }

static int push_node(struct executor *ex, int i)
{
	struct engine_var **acc = ex->access + ex->acc_begin[i];
	struct node_task *t = malloc(sizeof *t);
	if (!t)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	t->ex = ex;
	t->node = i;
	t->is_train = ex->is_train;
	return engine_push(ex->eng, run_node, t, free, acc, ex->n_reads[i], acc + ex->n_reads[i], ex->n_writes[i],
			   0, ex->g->nodes[i].name);
}

int executor_forward(struct executor *ex, int is_train)
{
	int rc;
	ex->is_train = is_train;
	for (int i = 0; i < ex->g->n_forward; i++)
		if (ex->g->nodes[i].kind == NODE_OP && (rc = push_node(ex, i)))
			return rc;
	return MX_OK;
}

int executor_backward(struct executor *ex)
{
	int rc;
	if (ex->n_nodes == ex->g->n_forward)
		return mx_error(MX_ERR_INVALID, "executor_backward: bound for inference only");
	for (int i = ex->g->n_forward; i < ex->n_nodes; i++)
		if ((rc = push_node(ex, i)))
			return rc;
	return MX_OK;
}

struct mx_tensor *executor_var(struct executor *ex, const char *name)
{
	int e = find_var_entry(ex->g, name);
	return e >= 0 ? ex->entry[e] : NULL;
}

struct mx_tensor *executor_grad(struct executor *ex, const char *name)
{
	int e = find_var_entry(ex->g, name);
	if (e < 0 || !ex->g->grad || ex->n_nodes == ex->g->n_forward || ex->g->grad[e].node < 0)
		return NULL;
	return ex->entry[graph_entry_id(ex->g, ex->g->grad[e])];
}

struct mx_tensor *executor_output(struct executor *ex, int i)
{
	return i < ex->g->n_heads ? ex->entry[graph_entry_id(ex->g, ex->g->heads[i])] : NULL;
}

const struct mx_shape *executor_shapes(const struct executor *ex) { return ex->shapes; }
size_t executor_bytes(const struct executor *ex) { return ex->bytes; }

void executor_plan_bytes(const struct executor *ex, size_t *planned, size_t *unplanned)
{
	*planned = ex->planned_bytes;
	*unplanned = ex->unplanned_bytes;
}
