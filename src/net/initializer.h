/* initializer.h: filling parameters before training, as MXNet's initializers do.
 * The rule is chosen by the variable's name, as in MXNet: *_weight by the solver's
 * initializer (xavier, gaussian, uniform, constant); *_bias, *_beta, *_moving_mean
 * zero; *_gamma, *_moving_var one. */
#ifndef MX_INITIALIZER_H
#define MX_INITIALIZER_H

#include "rng.h"
#include "tensor.h"

struct solver_param;

/* Fills t (float32) for the variable called name. Draws from rng in element order, so
 * a fixed seed gives the same weights run to run. Returns MX_OK, or MX_ERR_INVALID
 * (e.g. xavier on a 1-d weight, naming the variable and its shape). */
int initializer_fill(const struct solver_param *p, const char *name, struct mx_tensor *t,
		     struct mx_rng *rng);

#endif
