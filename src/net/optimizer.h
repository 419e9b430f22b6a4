/* optimizer.h: weight updates (SGD with momentum and weight decay), the learning-rate
 * schedules, and the optimizer state that checkpoints carry.
 *
 *   struct optimizer *o = optimizer_create(solver, n_params, batch_size);
 *   for each batch: for each param i: optimizer_update(o, i, weight, grad);
 *                   optimizer_step_done(o);          // counts one update for schedules
 *   optimizer_free(o);
 */
#ifndef MX_OPTIMIZER_H
#define MX_OPTIMIZER_H

#include <stdint.h>

#include "tensor.h"

struct solver_param;
struct optimizer;

/* Returns a new optimizer for n_params parameters (state made lazily on first update),
 * or NULL with an error set. batch_size and num_batches_per_epoch resolve the defaults
 * that depend on them (rescale_grad = 1/batch_size, lr_step_epochs). */
struct optimizer *optimizer_create(const struct solver_param *p, int n_params, int batch_size,
				   long num_batches_per_epoch);
void optimizer_free(struct optimizer *o);

/* Per-parameter multipliers (default 1). MXNet's __lr_mult__ / __wd_mult__. */
void optimizer_set_mult(struct optimizer *o, int index, float lr_mult, float wd_mult);
/* Updates weight in place from grad for parameter index with the current lr.
 * Returns MX_OK or an error (shape mismatch with earlier state). */
int optimizer_update(struct optimizer *o, int index, struct mx_tensor *weight,
		     const struct mx_tensor *grad);
/* Marks the end of one batch's updates: advances the update count that the lr
 * schedule reads. */
void optimizer_step_done(struct optimizer *o);
float optimizer_current_lr(const struct optimizer *o);
int64_t optimizer_num_update(const struct optimizer *o);

/* State for checkpoints: the per-parameter buffers (momentum; NULL where none was made
 * yet) and the update count. optimizer_state() returns a borrowed pointer. */
struct mx_tensor *optimizer_state(struct optimizer *o, int index);
/* Installs a state buffer (copied) for parameter index and sets the update count. */
int optimizer_set_state(struct optimizer *o, int index, const struct mx_tensor *state);
void optimizer_set_num_update(struct optimizer *o, int64_t num_update);

/* The learning rate after num_update updates under the solver's schedule
 * (factor: lr * factor^floor(num_update / step); multifactor: times factor at each step
 * passed). Exposed for tests. */
float lr_schedule_at(const struct solver_param *p, int64_t num_update, long num_batches_per_epoch);

#endif
