/* optimizer.c: SGD with momentum and weight decay, as MXNet 1.9.1 updates weights.
 *
 * Module.fit updates through multi_sgd_update / multi_sgd_mom_update
 * (src/operator/optimizer_op-inl.h, MultiSGDKernel), element by element:
 *     g   = rescale_grad * grad, clipped to [-clip, clip] when clip_gradient > 0
 *     mom = momentum * mom - lr*wd * weight - lr * g      (mom = 0 without momentum)
 *     weight = weight + mom
 * with lr and wd times the parameter's multipliers. Without momentum no state is kept.
 * The products are grouped as MXNet's kernel groups them, so float results match. */
#include "optimizer.h"

#include <assert.h>
#include <stdlib.h>

#include "error.h"
#include "trainer.h"

/* lr_schedule.c, internal to this module: validates the schedule settings. */
int lr_schedule_check(const struct solver_param *p, long num_batches_per_epoch);

struct opt_slot {
	struct mx_tensor *mom;   /* owned; NULL until the first update (or without momentum) */
	float lr_mult, wd_mult;
};

struct optimizer {
	struct solver_param p;   /* a copy: the caller's struct may go away */
	long num_batches_per_epoch;
	float rescale_grad;      /* resolved: never 0 */
	int64_t num_update;      /* batches whose updates are done */
	float lr;                /* the schedule's lr for update num_update + 1 */
	int n_params;
	struct opt_slot *slots;
};

static void refresh_lr(struct optimizer *o)
{
	o->lr = lr_schedule_at(&o->p, o->num_update + 1, o->num_batches_per_epoch);
}

struct optimizer *optimizer_create(const struct solver_param *p, int n_params, int batch_size,
				   long num_batches_per_epoch)
{
	struct optimizer *o;
	if (p->optimizer != OPT_SGD) {
		mx_error(MX_ERR_INVALID, "solver: unknown optimizer %d", p->optimizer);
		return NULL;
	}
	if (p->rescale_grad == 0 && batch_size <= 0) {
		mx_error(MX_ERR_INVALID, "solver: rescale_grad = 0 means 1/batch_size, but batch_size is %d",
			 batch_size);
		return NULL;
	}
	if (n_params < 0) {
		mx_error(MX_ERR_INVALID, "solver: %d parameters", n_params);
		return NULL;
	}
	if (lr_schedule_check(p, num_batches_per_epoch))
		return NULL;
	o = calloc(1, sizeof *o);
	if (!o || !(o->slots = calloc(n_params ? n_params : 1, sizeof *o->slots))) {
		free(o);
		mx_error(MX_ERR_NOMEM, "solver: out of memory for %d parameters", n_params);
		return NULL;
	}
	o->p = *p;
	o->num_batches_per_epoch = num_batches_per_epoch;
	o->rescale_grad = p->rescale_grad != 0 ? p->rescale_grad : 1.0f / (float)batch_size;
	o->n_params = n_params;
	for (int i = 0; i < n_params; i++)
		o->slots[i].lr_mult = o->slots[i].wd_mult = 1.0f;
	refresh_lr(o);
	return o;
}

void optimizer_free(struct optimizer *o)
{
	if (!o)
		return;
	for (int i = 0; i < o->n_params; i++)
		tensor_free(o->slots[i].mom);
	free(o->slots);
	free(o);
}

void optimizer_set_mult(struct optimizer *o, int index, float lr_mult, float wd_mult)
{
	assert(index >= 0 && index < o->n_params);
	o->slots[index].lr_mult = lr_mult;
	o->slots[index].wd_mult = wd_mult;
}

/* The kernels work in blocks of 8 with restrict pointers: each block is a fixed-size
 * loop that GCC vectorizes at -O2 (its "very cheap" cost model will not vectorize the
 * open-ended loop), and the tail runs the same expression one at a time. */
#define BLOCK 8

static inline float clip(float x, float bound)
{
	return x > bound ? bound : x < -bound ? -bound : x;
}

static void sgd_plain(float *restrict w, const float *restrict g, int64_t n, float lr_wd, float lr_rescale)
{
	int64_t i = 0;
	for (; i + BLOCK <= n; i += BLOCK)
		for (int j = 0; j < BLOCK; j++)
			w[i + j] = w[i + j] + (-lr_wd * w[i + j] - lr_rescale * g[i + j]);
	for (; i < n; i++)
		w[i] = w[i] + (-lr_wd * w[i] - lr_rescale * g[i]);
}

static void sgd_plain_clip(float *restrict w, const float *restrict g, int64_t n, float lr_wd, float lr,
			   float rescale, float bound)
{
	int64_t i = 0;
	for (; i + BLOCK <= n; i += BLOCK)
		for (int j = 0; j < BLOCK; j++)
			w[i + j] = w[i + j] + (-lr_wd * w[i + j] - lr * clip(rescale * g[i + j], bound));
	for (; i < n; i++)
		w[i] = w[i] + (-lr_wd * w[i] - lr * clip(rescale * g[i], bound));
}

static void sgd_mom(float *restrict w, const float *restrict g, float *restrict m, int64_t n, float momentum,
		    float lr_wd, float lr_rescale)
{
	int64_t i = 0;
	for (; i + BLOCK <= n; i += BLOCK) {
		for (int j = 0; j < BLOCK; j++) {
			float v = momentum * m[i + j] - lr_wd * w[i + j] - lr_rescale * g[i + j];
			m[i + j] = v;
			w[i + j] = w[i + j] + v;
		}
	}
	for (; i < n; i++) {
		float v = momentum * m[i] - lr_wd * w[i] - lr_rescale * g[i];
		m[i] = v;
		w[i] = w[i] + v;
	}
}

static void sgd_mom_clip(float *restrict w, const float *restrict g, float *restrict m, int64_t n,
			 float momentum, float lr_wd, float lr, float rescale, float bound)
{
	int64_t i = 0;
	for (; i + BLOCK <= n; i += BLOCK) {
		for (int j = 0; j < BLOCK; j++) {
			float v = momentum * m[i + j] - lr_wd * w[i + j] - lr * clip(rescale * g[i + j], bound);
			m[i + j] = v;
			w[i + j] = w[i + j] + v;
		}
	}
	for (; i < n; i++) {
		float v = momentum * m[i] - lr_wd * w[i] - lr * clip(rescale * g[i], bound);
		m[i] = v;
		w[i] = w[i] + v;
	}
}

static int check_f32_cpu(const char *what, int index, const struct mx_tensor *t)
{
	if (t->dtype != MX_F32 || t->ctx.dev_type != MX_DEV_CPU)
		return mx_error(MX_ERR_INVALID, "optimizer: parameter %d: %s is %s on device %d; "
				"only float32 on the cpu is updated", index, what, dtype_name(t->dtype),
				t->ctx.dev_type);
	return MX_OK;
}

int optimizer_update(struct optimizer *o, int index, struct mx_tensor *weight, const struct mx_tensor *grad)
{
	struct opt_slot *slot;
	int64_t n = shape_size(&weight->shape);
	float lr, lr_wd, momentum = o->p.momentum, bound = o->p.clip_gradient;
	char a[64], b[64];
	if (index < 0 || index >= o->n_params)
		return mx_error(MX_ERR_INTERNAL, "optimizer: parameter index %d of %d", index, o->n_params);
	if (check_f32_cpu("weight", index, weight) || check_f32_cpu("gradient", index, grad))
		return MX_ERR_INVALID;
	if (shape_size(&grad->shape) != n)
		return mx_error(MX_ERR_SHAPE, "optimizer: parameter %d: weight %s and gradient %s differ", index,
				shape_str(&weight->shape, a, sizeof a), shape_str(&grad->shape, b, sizeof b));
	slot = &o->slots[index];
	lr = o->lr * slot->lr_mult;
	/* lr*wd as one float product, as the kernel receives lrs[i] and wds[i] */
	lr_wd = lr * (o->p.wd * slot->wd_mult);
	if (momentum > 0) {
		if (!slot->mom && !(slot->mom = tensor_new(&weight->shape, MX_F32, MX_CPU)))
			return mx_error_prefix(MX_ERR_NOMEM, "optimizer: parameter %d momentum", index);
		if (shape_size(&slot->mom->shape) != n)
			return mx_error(MX_ERR_SHAPE, "optimizer: parameter %d: weight %s does not match its state %s",
					index, shape_str(&weight->shape, a, sizeof a),
					shape_str(&slot->mom->shape, b, sizeof b));
		if (bound > 0)
			sgd_mom_clip(tensor_f32(weight), tensor_f32(grad), tensor_f32(slot->mom), n, momentum, lr_wd,
				     lr, o->rescale_grad, bound);
		else
			sgd_mom(tensor_f32(weight), tensor_f32(grad), tensor_f32(slot->mom), n, momentum, lr_wd,
				lr * o->rescale_grad);
	} else if (bound > 0) {
		sgd_plain_clip(tensor_f32(weight), tensor_f32(grad), n, lr_wd, lr, o->rescale_grad, bound);
	} else {
		sgd_plain(tensor_f32(weight), tensor_f32(grad), n, lr_wd, lr * o->rescale_grad);
	}
	return MX_OK;
}

void optimizer_step_done(struct optimizer *o)
{
	o->num_update++;
	refresh_lr(o);
}

float optimizer_current_lr(const struct optimizer *o) { return o->lr; }

int64_t optimizer_num_update(const struct optimizer *o) { return o->num_update; }

struct mx_tensor *optimizer_state(struct optimizer *o, int index)
{
	assert(index >= 0 && index < o->n_params);
	return o->slots[index].mom;
}

int optimizer_set_state(struct optimizer *o, int index, const struct mx_tensor *state)
{
	struct mx_tensor *copy = NULL;
	if (index < 0 || index >= o->n_params)
		return mx_error(MX_ERR_INVALID, "optimizer: state for parameter %d, but there are %d", index,
				o->n_params);
	if (state) {
		if (check_f32_cpu("state", index, state))
			return MX_ERR_INVALID;
		if (!(copy = tensor_new(&state->shape, MX_F32, MX_CPU)))
			return mx_error_prefix(MX_ERR_NOMEM, "optimizer: parameter %d state", index);
		tensor_copy(copy, state);
	}
	tensor_free(o->slots[index].mom);
	o->slots[index].mom = copy;
	return MX_OK;
}

void optimizer_set_num_update(struct optimizer *o, int64_t num_update)
{
	o->num_update = num_update;
	refresh_lr(o);
}
