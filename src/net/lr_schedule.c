/* lr_schedule.c: learning-rate schedules, as MXNet 1.9.1's FactorScheduler,
 * MultiFactorScheduler, PolyScheduler and CosineScheduler compute them, with their
 * warmup (LRScheduler.get_warmup_lr).
 *
 * num_update follows MXNet's Optimizer: it counts the update in progress, so the first
 * batch runs with num_update = 1. Both step schedulers decay when num_update is strictly
 * past a step: FactorScheduler multiplies by factor each time `num_update > count + step`
 * (count advancing by step), which gives floor((num_update - 1) / step) decays, not the
 * floor(num_update / step) of its docstring; MultiFactorScheduler decays once for each
 * step s with num_update > s. Their steps count from update 0, warmup included.
 *
 * Warmup: while num_update < warmup_steps every scheduler returns warmup_begin_lr
 * (constant) or warmup_begin_lr + (lr - warmup_begin_lr) * num_update / warmup_steps
 * (linear). lr_scheduler = none with warmup is MXNet's FactorScheduler(step=1, factor=1)
 * with that warmup: the base rate once warmup is over.
 *
 * Poly and cosine go from lr at update warmup_steps to final_lr at max_update. MXNet's
 * classes keep the last value computed and return it past max_update; called at every
 * update, as training calls them, that value is final_lr, and so is ours (a pure function
 * of num_update, so a resumed run gets what an unbroken one gets). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "optimizer.h"
#include "trainer.h"

/* FactorScheduler's stop_factor_lr: the lr never decays below this. */
#define FACTOR_STOP_LR 1e-8

/* The double a user meant by a float setting: the shortest decimal that reads back as f
 * ("0.9", not 0.89999997615814209). MXNet multiplies Python doubles parsed from that
 * decimal, and 30 decays with the float's error would be off by an ulp of the result.
 * Module-internal (optimizer.c uses it for multipliers and Adam's betas). */
double lr_schedule_decimal(float f)
{
	char buf[32];
	for (int digits = 1; digits < 9; digits++) {
		snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
		if ((float)strtod(buf, NULL) == f)
			return strtod(buf, NULL);
	}
	return f;
}

/* The base learning rate: lr, or the optimizer class's default learning_rate. */
double lr_schedule_base(const struct solver_param *p)
{
	if (p->lr > 0)
		return lr_schedule_decimal(p->lr);
	return p->optimizer == OPT_ADAM || p->optimizer == OPT_RMSPROP ? 0.001 : 0.01;
}

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

/* poly, cosine: max_update, with 0 meaning the whole run. */
static int64_t max_update(const struct solver_param *p, long num_batches_per_epoch)
{
	return p->lr_max_update > 0 ? p->lr_max_update : (int64_t)p->num_epoch * num_batches_per_epoch;
}

/* The schedule's rate for update num_update, in the double MXNet's Python computes. */
double lr_schedule_value(const struct solver_param *p, int64_t num_update, long num_batches_per_epoch)
{
	/* Python keeps the lr in a double and multiplies once per step; so do we. */
	double lr = lr_schedule_base(p), factor = lr_schedule_decimal(p->lr_factor);
	int64_t warmup = p->warmup_steps;
	if (num_update < warmup) {
		double begin = lr_schedule_decimal(p->warmup_begin_lr);
		if (p->warmup_mode == WARMUP_CONSTANT)
			return begin;
		return begin + (lr - begin) * (double)num_update / (double)warmup;
	}
	switch (p->lr_scheduler) {
	case LR_FACTOR: {
		int64_t decays;
		if (p->lr_step < 1 || num_update <= p->lr_step)
			return lr;
		decays = (num_update - 1) / p->lr_step;
		for (int64_t i = 0; i < decays; i++) {
			lr *= factor;
			if (lr < FACTOR_STOP_LR)
				return FACTOR_STOP_LR;
			if (factor == 1.0)
				break;
		}
		return lr;
	}
	case LR_MULTIFACTOR: {
		int64_t steps[MX_MAX_NDIM];
		int n = multifactor_steps(p, num_batches_per_epoch, steps);
		for (int i = 0; i < n && num_update > steps[i]; i++)
			lr *= factor;
		return lr;
	}
	case LR_POLY:
	case LR_COSINE: {
		int64_t last = max_update(p, num_batches_per_epoch);
		double final = lr_schedule_decimal(p->final_lr), max_steps = (double)(last - warmup);
		if (num_update > last || max_steps <= 0)
			return final;
		/* the expressions as MXNet writes them, evaluated in the same order */
		if (p->lr_scheduler == LR_POLY)
			return final + (lr - final) * pow(1 - (double)(num_update - warmup) / max_steps,
							   lr_schedule_decimal(p->lr_pwr));
		return final + (lr - final) * (1 + cos(M_PI * (double)(num_update - warmup) / max_steps)) / 2;
	}
	default:
		return lr;
	}
}

float lr_schedule_at(const struct solver_param *p, int64_t num_update, long num_batches_per_epoch)
{
	return (float)lr_schedule_value(p, num_update, num_batches_per_epoch);
}

static const char *const sched_names[] = {"none", "factor", "multifactor", "poly", "cosine"};

/* A key of another scheduler that is not at its default. Returns MX_OK or the error. */
static int check_foreign_keys(const struct solver_param *p)
{
	const char *name = sched_names[p->lr_scheduler];
	int step_kind = p->lr_scheduler == LR_FACTOR || p->lr_scheduler == LR_MULTIFACTOR;
	int decay_kind = p->lr_scheduler == LR_POLY || p->lr_scheduler == LR_COSINE;
	if (!step_kind && p->lr_factor != 1.0f)
		return mx_error(MX_ERR_INVALID, "solver: lr_factor is set but lr_scheduler = %s "
				"(lr_factor is for factor and multifactor)", name);
	if (!decay_kind && p->lr_max_update != 0)
		return mx_error(MX_ERR_INVALID, "solver: lr_max_update is set but lr_scheduler = %s "
				"(lr_max_update is for poly and cosine)", name);
	if (!decay_kind && p->final_lr != 0)
		return mx_error(MX_ERR_INVALID, "solver: final_lr is set but lr_scheduler = %s "
				"(final_lr is for poly and cosine)", name);
	if (p->lr_scheduler != LR_POLY && p->lr_pwr != 2.0f)
		return mx_error(MX_ERR_INVALID, "solver: lr_pwr is set but lr_scheduler = %s (lr_pwr is for poly)",
				name);
	if (!step_kind && (p->lr_steps.ndim || p->lr_step_epochs.ndim || p->lr_step))
		return mx_error(MX_ERR_INVALID,
				"solver: lr_step%s is set but lr_scheduler = %s "
				"(set lr_scheduler = \"factor\" or \"multifactor\")",
				p->lr_step ? "" : p->lr_steps.ndim ? "s" : "_epochs", name);
	if (!p->warmup_steps && (p->warmup_begin_lr != 0 || p->warmup_mode != WARMUP_LINEAR))
		return mx_error(MX_ERR_INVALID, "solver: %s is set but warmup_steps = 0",
				p->warmup_begin_lr != 0 ? "warmup_begin_lr" : "warmup_mode");
	return MX_OK;
}

/* Checks the schedule settings once, when the optimizer is made (optimizer.c). */
int lr_schedule_check(const struct solver_param *p, long num_batches_per_epoch)
{
	int rc;
	if (p->lr_scheduler < LR_NONE || p->lr_scheduler > LR_COSINE)
		return mx_error(MX_ERR_INTERNAL, "solver: unknown lr_scheduler %d", p->lr_scheduler);
	if ((rc = check_foreign_keys(p)))
		return rc;
	if (p->warmup_steps > 0 && lr_schedule_decimal(p->warmup_begin_lr) > lr_schedule_base(p))
		return mx_error(MX_ERR_INVALID, "solver: warmup_begin_lr = %g is above the base lr %g "
				"(warmup goes up to lr)", p->warmup_begin_lr, lr_schedule_base(p));
	switch (p->lr_scheduler) {
	case LR_NONE:
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
		if (p->lr_step)
			return mx_error(MX_ERR_INVALID, "solver: lr_scheduler = multifactor takes lr_steps or "
					"lr_step_epochs, not lr_step (that is for factor)");
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
	case LR_POLY:
	case LR_COSINE: {
		int64_t last;
		if (!p->lr_max_update && num_batches_per_epoch <= 0)
			return mx_error(MX_ERR_INVALID, "solver: lr_max_update = 0 means num_epoch times the batches "
					"per epoch, which is unknown here; set lr_max_update");
		last = max_update(p, num_batches_per_epoch);
		if (last <= p->warmup_steps)
			return mx_error(MX_ERR_INVALID, "solver: lr_scheduler = %s decays from update warmup_steps = "
					"%d to lr_max_update = %lld, which must come later",
					sched_names[p->lr_scheduler], p->warmup_steps, (long long)last);
		return MX_OK;
	}
	}
	return MX_OK;
}
