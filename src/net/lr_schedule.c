/* lr_schedule.c: learning-rate schedules, as MXNet 1.9.1's FactorScheduler and
 * MultiFactorScheduler compute them.
 *
 * num_update follows MXNet's Optimizer: it counts the update in progress, so the first
 * batch runs with num_update = 1. Both schedulers decay when num_update is strictly past
 * a step: FactorScheduler multiplies by factor each time `num_update > count + step`
 * (count advancing by step), which gives floor((num_update - 1) / step) decays, not the
 * floor(num_update / step) of its docstring; MultiFactorScheduler decays once for each
 * step s with num_update > s. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "optimizer.h"
#include "trainer.h"

/* FactorScheduler's stop_factor_lr: the lr never decays below this. */
#define FACTOR_STOP_LR 1e-8

/* The multifactor steps in updates: lr_steps, or lr_step_epochs times batches per epoch
 * (as MXNet's fit.py converts them). Returns the count written to steps. */
static int multifactor_steps(const struct solver_param *p, long num_batches_per_epoch,
			     int64_t steps[MX_MAX_NDIM])
{
	if (p->lr_steps.ndim > 0) {
		for (int i = 0; i < p->lr_steps.ndim; i++)
			steps[i] = p->lr_steps.dim[i];
		return p->lr_steps.ndim;
	}
	for (int i = 0; i < p->lr_step_epochs.ndim; i++)
		steps[i] = p->lr_step_epochs.dim[i] * (int64_t)num_batches_per_epoch;
	return p->lr_step_epochs.ndim;
}

/* The double a user meant by a float setting: the shortest decimal that reads back as f
 * ("0.9", not 0.89999997615814209). MXNet multiplies Python doubles parsed from that
 * decimal, and 30 decays with the float's error would be off by an ulp of the result. */
static double float_decimal(float f)
{
	char buf[32];
	for (int digits = 1; digits < 9; digits++) {
		snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
		if ((float)strtod(buf, NULL) == f)
			return strtod(buf, NULL);
	}
	return f;
}

float lr_schedule_at(const struct solver_param *p, int64_t num_update, long num_batches_per_epoch)
{
	/* Python keeps the lr in a double and multiplies once per step; so do we. */
	double lr = float_decimal(p->lr), factor = float_decimal(p->lr_factor);
	switch (p->lr_scheduler) {
	case LR_FACTOR: {
		int64_t decays;
		if (p->lr_step < 1 || num_update <= p->lr_step)
			return (float)lr;
		decays = (num_update - 1) / p->lr_step;
		for (int64_t i = 0; i < decays; i++) {
			lr *= factor;
			if (lr < FACTOR_STOP_LR)
				return (float)FACTOR_STOP_LR;
			if (factor == 1.0)
				break;
		}
		return (float)lr;
	}
	case LR_MULTIFACTOR: {
		int64_t steps[MX_MAX_NDIM];
		int n = multifactor_steps(p, num_batches_per_epoch, steps);
		for (int i = 0; i < n && num_update > steps[i]; i++)
			lr *= factor;
		return (float)lr;
	}
	default:
		return (float)lr;
	}
}

/* Checks the schedule settings once, when the optimizer is made (optimizer.c). */
int lr_schedule_check(const struct solver_param *p, long num_batches_per_epoch)
{
	switch (p->lr_scheduler) {
	case LR_NONE:
		if (p->lr_steps.ndim || p->lr_step_epochs.ndim || p->lr_step)
			return mx_error(MX_ERR_INVALID,
					"solver: lr_step%s is set but lr_scheduler = none "
					"(set lr_scheduler = \"factor\" or \"multifactor\")",
					p->lr_step ? "" : p->lr_steps.ndim ? "s" : "_epochs");
		return MX_OK;
	case LR_FACTOR:
		if (p->lr_step < 1)
			return mx_error(MX_ERR_INVALID, "solver: lr_scheduler = factor needs lr_step >= 1 (updates "
					"between decays)");
		if (p->lr_steps.ndim || p->lr_step_epochs.ndim)
			return mx_error(MX_ERR_INVALID, "solver: lr_scheduler = factor takes lr_step, not lr_steps "
					"or lr_step_epochs (those are for multifactor)");
		return MX_OK;
	case LR_MULTIFACTOR: {
		int64_t steps[MX_MAX_NDIM];
		int n;
		if (p->lr_steps.ndim && p->lr_step_epochs.ndim)
			return mx_error(MX_ERR_INVALID, "solver: give lr_steps or lr_step_epochs, not both");
		if (!p->lr_steps.ndim && !p->lr_step_epochs.ndim)
			return mx_error(MX_ERR_INVALID, "solver: lr_scheduler = multifactor needs lr_steps "
					"(updates) or lr_step_epochs (epochs)");
		if (p->lr_step_epochs.ndim && num_batches_per_epoch <= 0)
			return mx_error(MX_ERR_INVALID, "solver: lr_step_epochs needs the number of batches per "
					"epoch, which is unknown here; use lr_steps (updates)");
		n = multifactor_steps(p, num_batches_per_epoch, steps);
		for (int i = 0; i < n; i++) {
			if (steps[i] < 1 || (i && steps[i] <= steps[i - 1]))
				return mx_error(MX_ERR_INVALID, "solver: %s must be increasing integers >= 1",
						p->lr_steps.ndim ? "lr_steps" : "lr_step_epochs");
		}
		return MX_OK;
	}
	}
	return mx_error(MX_ERR_INTERNAL, "solver: unknown lr_scheduler %d", p->lr_scheduler);
}
