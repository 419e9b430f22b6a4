/* updater.h: the weight updates of one bound training executor, as engine tasks.
 *
 * Shared by the training loop and `mxtrain --time`: the learnable variables in
 * MXNet's list_arguments order, an optimizer with their lr/wd multipliers, and per batch
 * one update task per parameter (reads its gradient and the optimizer variable, writes
 * the weight) followed by the schedule step (writes the optimizer variable). Parameter
 * i updates at engine priority -i, so the first layers, which the next batch's forward
 * needs first, update first, and that forward overtakes the later layers' updates.
 *
 *   struct updater *u;
 *   updater_create(&solver, g, ex, eng, batch_size, batches_per_epoch, &u);
 *   per batch, after executor_backward(ex): updater_push(u);
 *   updater_free(u);
 */
#ifndef MX_UPDATER_H
#define MX_UPDATER_H

#include "executor.h"
#include "graph.h"

struct engine;
struct optimizer;
struct solver_param;
struct updater;

/* Returns MX_OK and a new updater (free with updater_free(), before the engine), or an
 * error: a bad solver setting, or an __lr_mult__ / __wd_mult__ that is not a number
 * >= 0 (naming the conf line of the layer that made the variable). */
int updater_create(const struct solver_param *p, const struct graph *g, struct executor *ex,
		   struct engine *eng, int batch_size, long batches_per_epoch, struct updater **out);
void updater_free(struct updater *u);
/* Pushes one batch's updates and the schedule step. */
int updater_push(struct updater *u);
/* Tracing (tests): while trace is not NULL, the update of parameter i records -1 - i
 * when it starts (executor.h's exec_trace; borrowed). */
void updater_set_trace(struct updater *u, struct exec_trace *trace);
/* The optimizer (borrowed), for checkpoints. */
struct optimizer *updater_optimizer(struct updater *u);

#endif
