/* initializer.c: filling parameters by name before training, with MXNet 1.9.1's rules. */
#include "initializer.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "trainer.h"

/* The rule for a variable, chosen by the end of its name as mx.init.Initializer.__call__
 * does (it tests "weight", "bias", "gamma", "beta", "min", "max" in that order; BatchNorm's
 * aux states get zeros/ones through their __init__ attribute, so they come first here).
 * MXNet raises for any other name; we fill it like a weight when it has >= 2 dims (a
 * matrix or a filter bank) and with zeros otherwise, so custom variables still train. */
enum init_rule { RULE_WEIGHT, RULE_ZERO, RULE_ONE };

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

static enum init_rule rule_for(const char *name, int ndim)
{
	static const struct {
		const char *suffix;
		enum init_rule rule;
	} table[] = {
		{"moving_mean", RULE_ZERO}, {"running_mean", RULE_ZERO},
		{"moving_var", RULE_ONE},   {"running_var", RULE_ONE},
		{"weight", RULE_WEIGHT},    {"bias", RULE_ZERO},
		{"gamma", RULE_ONE},        {"beta", RULE_ZERO},
		{"min", RULE_ZERO},         {"max", RULE_ONE},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (ends_with(name, table[i].suffix))
			return table[i].rule;
	return ndim >= 2 ? RULE_WEIGHT : RULE_ZERO;
}

static void fill_uniform(float *x, int64_t n, float low, float high, struct mx_rng *rng)
{
	float width = high - low;
	for (int64_t i = 0; i < n; i++)
		x[i] = low + width * rng_uniform(rng);
}

static void fill_normal(float *x, int64_t n, float sigma, struct mx_rng *rng)
{
	for (int64_t i = 0; i < n; i++)
		x[i] = sigma * rng_normal(rng);
}

/* Xavier as mx.init.Xavier: fans from dims 0 and 1 times the receptive field. */
static int fill_xavier(const struct solver_param *p, const char *name, struct mx_tensor *t,
		       struct mx_rng *rng)
{
	const struct mx_shape *s = &t->shape;
	double field = 1, fan_in, fan_out, factor, scale;
	if (s->ndim < 2) {
		char buf[64];
		return mx_error(MX_ERR_INVALID,
				"initializer xavier: %s has shape %s; xavier needs at least 2 dims "
				"(use initializer = \"gaussian\" or \"uniform\", or name it *_bias)",
				name, shape_str(s, buf, sizeof buf));
	}
	for (int i = 2; i < s->ndim; i++)
		field *= (double)s->dim[i];
	fan_in = (double)s->dim[1] * field;
	fan_out = (double)s->dim[0] * field;
	switch (p->xavier_factor_type) {
	case 1: factor = fan_in; break;
	case 2: factor = fan_out; break;
	default: factor = (fan_in + fan_out) / 2.0; break;
	}
	scale = sqrt((double)p->xavier_magnitude / factor);
	if (p->xavier_rnd_type == 1)
		fill_normal(tensor_f32(t), shape_size(s), (float)scale, rng);
	else
		fill_uniform(tensor_f32(t), shape_size(s), (float)-scale, (float)scale, rng);
	return MX_OK;
}

int initializer_fill(const struct solver_param *p, const char *name, struct mx_tensor *t,
		     struct mx_rng *rng)
{
	int64_t n = shape_size(&t->shape);
	if (t->dtype != MX_F32 || t->ctx.dev_type != MX_DEV_CPU)
		return mx_error(MX_ERR_INVALID, "initializer: %s is %s on device %d; only float32 on the cpu is filled",
				name, dtype_name(t->dtype), t->ctx.dev_type);
	switch (rule_for(name, t->shape.ndim)) {
	case RULE_ZERO:
		tensor_fill(t, 0.0f);
		return MX_OK;
	case RULE_ONE:
		tensor_fill(t, 1.0f);
		return MX_OK;
	case RULE_WEIGHT:
		break;
	}
	switch (p->initializer) {
	case INIT_XAVIER:
		return fill_xavier(p, name, t, rng);
	case INIT_GAUSSIAN:
		fill_normal(tensor_f32(t), n, p->init_sigma, rng);
		return MX_OK;
	case INIT_UNIFORM:
		fill_uniform(tensor_f32(t), n, -p->init_scale, p->init_scale, rng);
		return MX_OK;
	case INIT_CONSTANT:
		tensor_fill(t, p->init_value);
		return MX_OK;
	}
	return mx_error(MX_ERR_INTERNAL, "initializer: unknown kind %d for %s", p->initializer, name);
}
