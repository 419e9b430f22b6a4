/* executor.h: a graph bound to arrays on a device, run through the engine.
 *
 * Binding infers every shape from the data and label shapes, allocates the arrays,
 * and gives each array an engine variable; forward and backward push one task per
 * node that reads its input arrays and writes its outputs.
 *
 *   struct executor *ex;
 *   executor_bind(g, eng, MX_CPU, names, shapes, 2, 1, NULL, &rng, &ex);
 *   tensor_copy(executor_var(ex, "data"), batch.data); ...
 *   executor_forward(ex, 1); executor_backward(ex);
 *   ... executor_grad(ex, "fc1_weight") ...
 *   executor_free(ex);
 */
#ifndef MX_EXECUTOR_H
#define MX_EXECUTOR_H

#include <stdatomic.h>

#include "graph.h"
#include "rng.h"
#include "tensor.h"

struct engine;
struct executor;

/* Binds g (borrowed: it must outlive the executor). names/shapes give the shapes of the
 * data and label variables. for_training: also bind the backward nodes (the graph must
 * have them: graph_build_backward). shared, when not NULL, lends its learnable and
 * auxiliary arrays (same names, same shapes), so a training and an evaluation executor
 * share weights. rng (borrowed) feeds random operators. Returns MX_OK and a new
 * executor, or an error (shape errors name the layer). */
int executor_bind(struct graph *g, struct engine *eng, struct mx_context ctx,
		  const char *const *names, const struct mx_shape *shapes, int n, int for_training,
		  struct executor *shared, struct mx_rng *rng, struct executor **out);
/* executor_bind with an explicit memory plan: flags of enum plan_flags (plan.h), 0 for
 * one buffer per entry. executor_bind uses both strategies unless MXNet's variable
 * MXNET_EXEC_ENABLE_INPLACE=0 or MXTRAIN_EXEC_COSHARE=0 turns one off. */
int executor_bind_planned(struct graph *g, struct engine *eng, struct mx_context ctx,
			  const char *const *names, const struct mx_shape *shapes, int n, int for_training,
			  struct executor *shared, struct mx_rng *rng, unsigned plan_flags, struct executor **out);
unsigned executor_plan_flags_from_env(void);
struct mx_threadpool;
/* Lends the threads that operators split their work over (borrowed). */
void executor_set_threadpool(struct executor *ex, struct mx_threadpool *pool);
void executor_free(struct executor *ex);

/* Pushes the forward nodes (is_train: training mode for Dropout, BatchNorm). Errors
 * inside an operator come back from the next wait (engine_wait_*) or from here. */
int executor_forward(struct executor *ex, int is_train);
/* Pushes the backward nodes; gradients land in executor_grad() arrays (overwritten). */
int executor_backward(struct executor *ex);

/* The array of a variable (data, label, learnable, auxiliary) by name, or NULL. */
struct mx_tensor *executor_var(struct executor *ex, const char *name);
/* The gradient array of a learnable variable, or NULL when none is computed. */
struct mx_tensor *executor_grad(struct executor *ex, const char *name);
/* Head i's array (e.g. SoftmaxOutput's probabilities). */
struct mx_tensor *executor_output(struct executor *ex, int i);
/* The shape every entry was bound with (graph entry order), for reports and tests. */
const struct mx_shape *executor_shapes(const struct executor *ex);
/* Bytes of all arrays this executor allocated itself (not the shared ones). */
size_t executor_bytes(const struct executor *ex);
/* What a network needs, from shapes alone (nothing is allocated): bytes of the internal
 * entries under each plan (index: enum plan_flags bits, 0 none .. 3 in-place and
 * co-share), and of the weights (learnable and auxiliary), their gradients, the inputs
 * and the outputs. */
struct plan_sizes {
	size_t internal[4];
	size_t weights, gradients, inputs, outputs;
};
int executor_plan_sizes(struct graph *g, const char *const *names, const struct mx_shape *shapes, int n,
			int for_training, struct plan_sizes *out);
struct mem_plan;
/* The memory plan (plan.h) that binding with plan_flags would use, from shapes alone,
 * for reports and tests. Returns MX_OK and a new plan (free with plan_free()), or an
 * error (shape errors name the layer). */
int executor_plan(struct graph *g, const char *const *names, const struct mx_shape *shapes, int n,
		  int for_training, unsigned plan_flags, struct mem_plan **out);
/* Bytes of the planned internal entries: as planned, and with one buffer per entry. */
void executor_plan_bytes(const struct executor *ex, size_t *planned, size_t *unplanned);
/* Profiling (mxtrain --time): while seconds is not NULL, each node's run adds its
 * wall-clock seconds to seconds[node id] (g->n_nodes slots; caller-owned, zeroed by the
 * caller, borrowed until set back to NULL). With the naive engine the times are exact and
 * do not overlap. */
void executor_set_profile(struct executor *ex, double *seconds);

/* The order tasks ran in (tests, traces): each traced task records one event when it
 * starts, a node id for the executor's nodes (updater.h records its updates as -1 - i).
 * The caller owns it; events past cap are counted in n and dropped. */
struct exec_trace {
	int *events;
	int cap;
	atomic_int n;
};
static inline void exec_trace_add(struct exec_trace *t, int event)
{
	int k;
	if (!t)
		return;
	k = atomic_fetch_add(&t->n, 1);
	if (k < t->cap)
		t->events[k] = event;
}
/* While trace is not NULL (borrowed), each node's task records its node id. */
void executor_set_trace(struct executor *ex, struct exec_trace *trace);

#endif
