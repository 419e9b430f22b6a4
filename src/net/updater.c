/* updater.c: weight updates as engine tasks (see updater.h). */
#include "updater.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "error.h"
#include "optimizer.h"

struct update_task {
	struct updater *u;
	int index;
	struct mx_tensor *weight, *grad;
	const char *name;
};

struct updater {
	struct engine *eng;
	struct optimizer *opt;
	struct engine_var *opt_var;   /* the optimizer's update count and learning rate */
	int n;
	struct update_task *tasks;
	struct exec_trace *trace;     /* borrowed, or NULL */
};

/* One parameter's update: reads its gradient and the optimizer's schedule (opt_var),
 * writes the weight (and its optimizer state, which only this task touches). */
static int run_update(void *arg)
{
	struct update_task *t = arg;
	exec_trace_add(t->u->trace, -1 - t->index);
	return optimizer_update(t->u->opt, t->index, t->weight, t->grad);
}

/* Advances the schedule after a batch's updates: writes opt_var, so it runs after every
 * update of this batch and before any of the next. */
static int run_step_done(void *arg)
{
	optimizer_step_done(arg);
	return MX_OK;
}

/* MXNet's multipliers of variable var: its __lr_mult__ (default 1) and __wd_mult__,
 * whose default is no weight decay on anything but weights and BN gammas. */
static int read_mults(const struct graph *g, int var_id, float mult[2])
{
	const struct graph_node *var = &g->nodes[var_id];
	size_t len = strlen(var->name);
	mult[0] = 1.0f;
	mult[1] = (len > 7 && !strcmp(var->name + len - 7, "_weight")) ||
			  (len > 6 && !strcmp(var->name + len - 6, "_gamma")) ? 1.0f : 0.0f;
	for (int a = 0; a < var->n_attrs; a++) {
		const char *key = var->attrs[a].key, *value = var->attrs[a].value;
		int m = !strcmp(key, "__lr_mult__") ? 0 : !strcmp(key, "__wd_mult__") ? 1 : -1;
		char *end;
		if (m < 0)
			continue;
		mult[m] = strtof(value, &end);
		if (end == value || *end || !(mult[m] >= 0 && mult[m] < 1e30f)) {
			/* the place: the conf line of the layer that made the variable */
			const char *where = var->origin;
			for (int j = 0; !where && j < g->n_forward; j++)
				for (int k = 0; k < g->nodes[j].n_inputs; k++)
					if (g->nodes[j].inputs[k].node == var_id)
						where = g->nodes[j].origin;
			return mx_error(MX_ERR_INVALID, "%s%svariable %s: %s (%s) = \"%s\" is not a number >= 0",
					where ? where : "", where ? ": " : "", var->name, m ? "wd_mult" : "lr_mult", key,
					value);
		}
	}
	return MX_OK;
}

int updater_create(const struct solver_param *p, const struct graph *g, struct executor *ex,
		   struct engine *eng, int batch_size, long batches_per_epoch, struct updater **out)
{
	struct updater *u = calloc(1, sizeof *u);
	int *ids = NULL, rc = MX_OK;
	*out = NULL;
	if (!u)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	u->eng = eng;
	u->n = graph_list_vars(g, NODE_ARG, NULL, 0);
	ids = calloc(u->n ? u->n : 1, sizeof *ids);
	u->tasks = calloc(u->n ? u->n : 1, sizeof *u->tasks);
	if (!ids || !u->tasks || !(u->opt_var = engine_var_new(eng))) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto fail;
	}
	graph_list_vars(g, NODE_ARG, ids, u->n);
	if (!(u->opt = optimizer_create(p, u->n, batch_size, batches_per_epoch))) {
		rc = MX_ERR_INVALID;
		goto fail;
	}
	for (int i = 0; i < u->n; i++) {
		const char *name = g->nodes[ids[i]].name;
		float mult[2];
		if ((rc = read_mults(g, ids[i], mult)))
			goto fail;
		optimizer_set_mult(u->opt, i, mult[0], mult[1]);
		u->tasks[i] = (struct update_task){u, i, executor_var(ex, name), executor_grad(ex, name), name};
	}
	free(ids);
	*out = u;
	return MX_OK;
fail:
	free(ids);
	updater_free(u);
	return rc;
}

void updater_free(struct updater *u)
{
	if (!u)
		return;
	if (u->opt_var)
		engine_var_free(u->eng, u->opt_var);
	optimizer_free(u->opt);
	free(u->tasks);
	free(u);
}

/* Priorities as MXNet's module gives its kvstore pushes and pulls: parameter i (in
 * list_arguments order, which is forward order) updates at priority -i, so among the
 * updates ready at once the first layer's goes first, and the next batch's forward
 * (pushed at 0, executor.c) runs ahead of the later layers' updates it does not need
 * yet instead of after all of them. */
int updater_push(struct updater *u)
{
	int rc;
	for (int i = 0; i < u->n; i++) {
		struct update_task *t = &u->tasks[i];
		struct engine_var *reads[2];
		if (!t->grad)
			continue;
		reads[0] = t->grad->var;
		reads[1] = u->opt_var;
		if ((rc = engine_push(u->eng, run_update, t, NULL, reads, 2, &t->weight->var, 1, -i, t->name)))
			return rc;
	}
	return engine_push(u->eng, run_step_done, u->opt, NULL, NULL, 0, &u->opt_var, 1, 0, "lr schedule");
}

void updater_set_trace(struct updater *u, struct exec_trace *trace) { u->trace = trace; }

struct optimizer *updater_optimizer(struct updater *u) { return u->opt; }
