/* optimizer.h: weight updates (SGD, NAG, Adam, RMSProp, AdaGrad, as MXNet 1.9.1 applies
 * them), the learning-rate schedules, and the optimizer state that checkpoints carry.
 *
 *   struct optimizer *o = optimizer_create(solver, n_params, batch_size, batches_per_epoch);
 *   optimizer_set_mult(o, i, lr_mult, wd_mult);     // optional, per parameter
 *   for each batch: for each param i: optimizer_update(o, i, weight, grad);
 *                   optimizer_step_done(o);          // counts one update for schedules
 *   optimizer_free(o);
 *
 * Updates of different parameters may run at the same time (they share only read-only
 * settings); optimizer_step_done runs after all of a batch's updates.
 */
#ifndef MX_OPTIMIZER_H
#define MX_OPTIMIZER_H

#include <stdint.h>

#include "tensor.h"

struct solver_param;
struct optimizer;

/* The most state buffers one parameter has (centered RMSProp: n, g, delta). */
#define OPTIMIZER_MAX_STATES 3

/* Returns a new optimizer for n_params parameters (state made lazily on first update),
 * or NULL with an error set: an unknown optimizer, a setting of another optimizer or
 * scheduler changed from its default, a bad schedule. batch_size and
 * num_batches_per_epoch resolve the defaults that depend on them (rescale_grad =
 * 1/batch_size, lr_step_epochs, lr_max_update = 0); num_batches_per_epoch may be 0 when
 * nothing needs it. */
struct optimizer *optimizer_create(const struct solver_param *p, int n_params, int batch_size,
				   long num_batches_per_epoch);
void optimizer_free(struct optimizer *o);
/* MXNet's name of the update rule ("sgd", "adam", ...). A static string. */
const char *optimizer_name(const struct optimizer *o);

/* Per-parameter multipliers (default 1): MXNet's __lr_mult__ / __wd_mult__. The rate
 * used is lr * lr_mult and the decay wd * wd_mult, multiplied in double as MXNet does. */
void optimizer_set_mult(struct optimizer *o, int index, float lr_mult, float wd_mult);
/* Updates weight in place from grad for parameter index with the current lr.
 * Returns MX_OK or an error (not float32 on the cpu, shape mismatch with grad or with
 * earlier state, out of memory for the state). */
int optimizer_update(struct optimizer *o, int index, struct mx_tensor *weight,
		     const struct mx_tensor *grad);
/* Marks the end of one batch's updates: advances the update count that the lr
 * schedule (and Adam's bias correction) reads. */
void optimizer_step_done(struct optimizer *o);
/* The schedule's rate for the next update (before lr_mult and Adam's correction). */
float optimizer_current_lr(const struct optimizer *o);
int64_t optimizer_num_update(const struct optimizer *o);

/* State for checkpoints. Each parameter has optimizer_num_states() buffers, in the order
 * of MXNet's create_state: sgd and nag with momentum: (momentum), else none; adam:
 * (mean, var); rmsprop: (n) or, centered, (n, g, delta); adagrad: (history).
 * optimizer_state() returns a borrowed pointer, NULL where none was made yet (before the
 * first update) or k is not below optimizer_num_states(). */
int optimizer_num_states(const struct optimizer *o);
struct mx_tensor *optimizer_state(struct optimizer *o, int index, int k);
/* Installs a copy of state as buffer k of parameter index (NULL: drops it, the next
 * update starts from zeros). Returns MX_OK, or MX_ERR_INVALID for an index or k out of
 * range or a state that is not float32 on the cpu (its size is checked at the update). */
int optimizer_set_state(struct optimizer *o, int index, int k, const struct mx_tensor *state);
/* Sets the update count (the number of batches done), as a resumed run does. */
void optimizer_set_num_update(struct optimizer *o, int64_t num_update);

/* The learning rate of update num_update (the first update is 1) under the solver's
 * schedule and warmup, as MXNet's schedulers give it (lr_schedule.c). Exposed for tests. */
float lr_schedule_at(const struct solver_param *p, int64_t num_update, long num_batches_per_epoch);

#endif
