/* optimizer.c: SGD, NAG, Adam, RMSProp and AdaGrad, as MXNet 1.9.1 updates weights.
 *
 * Each rule is the float arithmetic of the MXNet kernel that Module.fit reaches, with the
 * products grouped as the kernel groups them, so float results match bit for bit
 * (src/operator/optimizer_op-inl.h; python/mxnet/optimizer/optimizer.py):
 *
 *   sgd      multi_sgd_update / multi_sgd_mom_update (MultiSGDKernel):
 *              g = clip(rescale * grad);  mom = momentum * mom - lr*wd * w - lr * g;  w += mom
 *            without momentum mom starts from 0 each time and no state is kept.
 *   nag      nag_mom_update (NAGMomKernel), in place: mom = momentum * mom;
 *              w' = w - mom + (momentum + 1) * (mom - lr * (g + wd * w));
 *              mom = mom - lr * (g + wd * w')
 *            the second line reads the weight the first one wrote (out is the weight), so
 *            the momentum takes the decay of the new weight. Without momentum: sgd_update
 *            (SGDKernel), w' = (1 - lr*wd) * w - lr * g.
 *   adam     adam_update (AdamUpdateKernel): g = clip(rescale * grad + wd * w);
 *              mean = beta1 * mean + (1 - beta1) * g;  var = beta2 * var + (1 - beta2) * g * g;
 *              w -= lr_t * mean / (sqrt(var) + epsilon)
 *            with lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t) in Python's double, t the
 *            update count (every parameter is updated once per batch here, so t is
 *            MXNet's per-index count).
 *   rmsprop  rmsprop_update / rmspropalex_update (centered): g = clip(rescale * grad + wd * w);
 *              n = (1 - gamma1) * g*g + gamma1 * n;  w -= lr * g / sqrt(n + epsilon)
 *            centered: also gm = (1 - gamma1) * g + gamma1 * gm;
 *              delta = gamma2 * delta - lr * g / sqrt(n - gm*gm + epsilon);  w += delta
 *            then w is clipped to [-clip_weights, clip_weights] when that is > 0.
 *   adagrad  Python ndarray arithmetic, one float rounding per operation:
 *              g = clip(grad * rescale);  h = h + g*g;  div = g / sqrt(h + eps);
 *              w = w + (div + w * wd) * -lr
 *
 * lr and wd reach the kernels as floats made from Python doubles: lr (the schedule's
 * double) times lr_mult and wd times wd_mult are multiplied in double, then rounded. */
#include "optimizer.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "trainer.h"

/* lr_schedule.c, internal to this module. */
int lr_schedule_check(const struct solver_param *p, long num_batches_per_epoch);
double lr_schedule_value(const struct solver_param *p, int64_t num_update, long num_batches_per_epoch);
double lr_schedule_decimal(float f);

static const char *const kind_names[] = {"sgd", "nag", "adam", "rmsprop", "adagrad"};

struct opt_slot {
	struct mx_tensor *state[OPTIMIZER_MAX_STATES]; /* owned; NULL until the first update */
	double lr_mult, wd_mult;
};

struct optimizer {
	struct solver_param p;   /* a copy: the caller's struct may go away */
	long num_batches_per_epoch;
	float rescale_grad;      /* resolved: never 0 */
	double wd;               /* p.wd as the decimal the user wrote */
	int64_t num_update;      /* batches whose updates are done */
	double lr;               /* the schedule's lr for update num_update + 1 */
	int n_states;            /* state buffers per parameter */
	int n_params;
	struct opt_slot *slots;
};

static void refresh_lr(struct optimizer *o)
{
	o->lr = lr_schedule_value(&o->p, o->num_update + 1, o->num_batches_per_epoch);
}

static int states_of(const struct solver_param *p)
{
	switch (p->optimizer) {
	case OPT_SGD:
	case OPT_NAG:
		return p->momentum > 0;
	case OPT_ADAM:
		return 2;
	case OPT_RMSPROP:
		return p->centered ? 3 : 1;
	default:
		return 1;
	}
}

/* A setting that only another optimizer reads, changed from its default: MXNet's
 * optimizer classes refuse keywords they do not take, and so do we, naming the key. */
static int check_foreign_keys(const struct solver_param *p)
{
	struct solver_param d = {0};
	const char *name = kind_names[p->optimizer];
	int k = p->optimizer;
	param_defaults(solver_params, &d);
#define FOREIGN(cond, key, owners)                                                                   \
	if (cond)                                                                                    \
		return mx_error(MX_ERR_INVALID, "solver: " key " is set, but it is a setting of " owners \
				" and optimizer = %s", name)
	FOREIGN(k != OPT_SGD && k != OPT_NAG && p->momentum != d.momentum, "momentum", "sgd and nag");
	FOREIGN(k != OPT_ADAM && p->beta1 != d.beta1, "beta1", "adam");
	FOREIGN(k != OPT_ADAM && p->beta2 != d.beta2, "beta2", "adam");
	FOREIGN(k != OPT_ADAM && k != OPT_RMSPROP && p->epsilon != d.epsilon, "epsilon",
		"adam and rmsprop (adagrad's is eps)");
	FOREIGN(k != OPT_RMSPROP && p->gamma1 != d.gamma1, "gamma1", "rmsprop");
	FOREIGN(k != OPT_RMSPROP && p->gamma2 != d.gamma2, "gamma2", "rmsprop");
	FOREIGN(k != OPT_RMSPROP && p->centered, "centered", "rmsprop");
	FOREIGN(k != OPT_RMSPROP && p->clip_weights > 0, "clip_weights", "rmsprop");
	FOREIGN(k != OPT_ADAGRAD && p->eps != d.eps, "eps", "adagrad (adam's and rmsprop's is epsilon)");
#undef FOREIGN
	return MX_OK;
}

struct optimizer *optimizer_create(const struct solver_param *p, int n_params, int batch_size,
				   long num_batches_per_epoch)
{
	struct optimizer *o;
	if (p->optimizer < OPT_SGD || p->optimizer > OPT_ADAGRAD) {
		mx_error(MX_ERR_INVALID, "solver: unknown optimizer %d", p->optimizer);
		return NULL;
	}
	if (check_foreign_keys(p))
		return NULL;
	if (p->optimizer == OPT_ADAM && p->beta1 >= 1) {
		mx_error(MX_ERR_INVALID, "solver: beta1 = %g: Adam's bias correction divides by 1 - beta1^t, "
			 "so beta1 must be below 1", p->beta1);
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
	o->wd = lr_schedule_decimal(p->wd);
	o->n_states = states_of(p);
	o->n_params = n_params;
	for (int i = 0; i < n_params; i++)
		o->slots[i].lr_mult = o->slots[i].wd_mult = 1.0;
	refresh_lr(o);
	return o;
}

void optimizer_free(struct optimizer *o)
{
	if (!o)
		return;
	for (int i = 0; i < o->n_params; i++)
		for (int k = 0; k < OPTIMIZER_MAX_STATES; k++)
			tensor_free(o->slots[i].state[k]);
	free(o->slots);
	free(o);
}

const char *optimizer_name(const struct optimizer *o) { return kind_names[o->p.optimizer]; }

void optimizer_set_mult(struct optimizer *o, int index, float lr_mult, float wd_mult)
{
	assert(index >= 0 && index < o->n_params);
	o->slots[index].lr_mult = lr_schedule_decimal(lr_mult);
	o->slots[index].wd_mult = lr_schedule_decimal(wd_mult);
}

/* ---- kernels ----
 * The SGD and NAG kernels work in blocks of 8 with restrict pointers: each block is a fixed-size
 * loop that GCC vectorizes at -O2 (its "very cheap" cost model will not vectorize the
 * open-ended loop), and the tail runs the same expression one at a time. Vector and
 * scalar code round alike: nothing is reassociated. */
#define BLOCK 8

/* mshadow_op::clip */
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

/* The scalars one update hands its kernel, as MXNet's kernels receive them. */
struct step {
	float lr, wd, rescale, clip; /* no clipping: clip is infinite */
};

static void sgd_update(const struct optimizer *o, const struct step *s, float *w, const float *g, float **st,
		       int64_t n)
{
	float lr_wd = s->lr * s->wd; /* as the kernel receives lrs[i] and wds[i] */
	float momentum = o->p.momentum;
	if (momentum > 0) {
		if (s->clip < INFINITY)
			sgd_mom_clip(w, g, st[0], n, momentum, lr_wd, s->lr, s->rescale, s->clip);
		else
			sgd_mom(w, g, st[0], n, momentum, lr_wd, s->lr * s->rescale);
	} else if (s->clip < INFINITY) {
		sgd_plain_clip(w, g, n, lr_wd, s->lr, s->rescale, s->clip);
	} else {
		sgd_plain(w, g, n, lr_wd, s->lr * s->rescale);
	}
}

/* nag_mom_update's NAGMomKernel; the momentum takes the decay of the new weight, as
 * MXNet's does in place (its out is the weight). A macro over the kernel's variables:
 * as an inline function taking the arrays, GCC loses their restrict and will not
 * vectorize the block. */
#define NAG_ELEM(k)                                                                 \
	do {                                                                        \
		float gr = clip(rescale * g[k], bound), mk = momentum * m[k];       \
		float wk = w[k] - mk + (momentum + 1) * (mk - lr * (gr + wd * w[k])); \
		w[k] = wk;                                                          \
		m[k] = mk - lr * (gr + wd * wk);                                    \
	} while (0)

static void nag_mom_kernel(float *restrict w, const float *restrict g, float *restrict m, int64_t n,
			   float momentum, float lr, float wd, float rescale, float bound)
{
	int64_t i = 0;
	for (; i + BLOCK <= n; i += BLOCK)
		for (int j = 0; j < BLOCK; j++)
			NAG_ELEM(i + j);
	for (; i < n; i++)
		NAG_ELEM(i);
}

/* sgd_update's SGDKernel (NAG without momentum): unclipped, it multiplies lr * rescale
 * first. */
static void sgd_single_kernel(float *restrict w, const float *restrict g, int64_t n, float lr, float wd,
			      float rescale, float bound)
{
	float decay = 1.f - lr * wd, lr_rescale = lr * rescale;
	int64_t i = 0;
	if (bound < INFINITY) {
		for (; i + BLOCK <= n; i += BLOCK)
			for (int j = 0; j < BLOCK; j++)
				w[i + j] = decay * w[i + j] - lr * clip(rescale * g[i + j], bound);
		for (; i < n; i++)
			w[i] = decay * w[i] - lr * clip(rescale * g[i], bound);
	} else {
		for (; i + BLOCK <= n; i += BLOCK)
			for (int j = 0; j < BLOCK; j++)
				w[i + j] = decay * w[i + j] - lr_rescale * g[i + j];
		for (; i < n; i++)
			w[i] = decay * w[i] - lr_rescale * g[i];
	}
}

/* The adaptive rules run one element at a time: their square roots are calls that may
 * set errno, which keeps GCC from vectorizing them (for Adam on a 784x256 weight that
 * costs about a millisecond). clip_gradient <= 0 comes in as an infinite bound, which
 * clip() passes through unchanged. */
static void adam_kernel(float *restrict w, const float *restrict g, float *restrict mean, float *restrict var,
			int64_t n, struct step s, float b1, float b2, float eps)
{
	for (int64_t i = 0; i < n; i++) {
		float gr = clip(g[i] * s.rescale + w[i] * s.wd, s.clip);
		mean[i] = b1 * mean[i] + (1.f - b1) * gr;
		var[i] = b2 * var[i] + (1.f - b2) * gr * gr;
		w[i] = w[i] - s.lr * mean[i] / (sqrtf(var[i]) + eps);
	}
}

static void rmsprop_kernel(float *restrict w, const float *restrict g, float *restrict sn, int64_t n,
			   struct step s, float g1, float eps, float cw)
{
	for (int64_t i = 0; i < n; i++) {
		float gr = clip(s.rescale * g[i] + s.wd * w[i], s.clip);
		sn[i] = (1.f - g1) * (gr * gr) + g1 * sn[i];
		w[i] = clip(w[i] - s.lr * (gr / sqrtf(sn[i] + eps)), cw);
	}
}

static void rmsprop_centered_kernel(float *restrict w, const float *restrict g, float *restrict sn,
				    float *restrict sg, float *restrict delta, int64_t n, struct step s, float g1,
				    float g2, float eps, float cw)
{
	for (int64_t i = 0; i < n; i++) {
		float gr = clip(s.rescale * g[i] + s.wd * w[i], s.clip);
		sn[i] = (1.f - g1) * gr * gr + g1 * sn[i];
		sg[i] = (1.f - g1) * gr + g1 * sg[i];
		delta[i] = g2 * delta[i] - s.lr * gr / sqrtf(sn[i] - sg[i] * sg[i] + eps);
		w[i] = clip(w[i] + delta[i], cw);
	}
}

static void adagrad_kernel(float *restrict w, const float *restrict g, float *restrict h, int64_t n,
			   struct step s, float eps)
{
	for (int64_t i = 0; i < n; i++) {
		float gr = clip(g[i] * s.rescale, s.clip), div;
		h[i] = h[i] + gr * gr;
		div = gr / sqrtf(h[i] + eps);
		w[i] = w[i] + (div + w[i] * s.wd) * -s.lr;
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
	float *st[OPTIMIZER_MAX_STATES] = {NULL}, *w;
	const float *g;
	double lr;
	struct step s;
	char a[64], b[64];
	if (index < 0 || index >= o->n_params)
		return mx_error(MX_ERR_INTERNAL, "optimizer: parameter index %d of %d", index, o->n_params);
	if (check_f32_cpu("weight", index, weight) || check_f32_cpu("gradient", index, grad))
		return MX_ERR_INVALID;
	if (shape_size(&grad->shape) != n)
		return mx_error(MX_ERR_SHAPE, "optimizer: parameter %d: weight %s and gradient %s differ", index,
				shape_str(&weight->shape, a, sizeof a), shape_str(&grad->shape, b, sizeof b));
	slot = &o->slots[index];
	for (int k = 0; k < o->n_states; k++) {
		struct mx_tensor **t = &slot->state[k];
		if (!*t && !(*t = tensor_new(&weight->shape, MX_F32, MX_CPU)))
			return mx_error_prefix(MX_ERR_NOMEM, "optimizer: parameter %d state", index);
		if (shape_size(&(*t)->shape) != n)
			return mx_error(MX_ERR_SHAPE, "optimizer: parameter %d: weight %s does not match its state %s",
					index, shape_str(&weight->shape, a, sizeof a),
					shape_str(&(*t)->shape, b, sizeof b));
		st[k] = tensor_f32(*t);
	}
	lr = o->lr * slot->lr_mult;
	if (o->p.optimizer == OPT_ADAM) {
		/* Adam.update: t counts this update; coef in Python's double */
		double t = (double)(o->num_update + 1);
		double coef1 = 1. - pow(lr_schedule_decimal(o->p.beta1), t);
		double coef2 = 1. - pow(lr_schedule_decimal(o->p.beta2), t);
		lr *= sqrt(coef2) / coef1;
	}
	s.lr = (float)lr;
	s.wd = (float)(o->wd * slot->wd_mult);
	s.rescale = o->rescale_grad;
	s.clip = o->p.clip_gradient > 0 ? o->p.clip_gradient : INFINITY;
	w = tensor_f32(weight);
	g = tensor_f32(grad);
	switch (o->p.optimizer) {
	case OPT_SGD:
		sgd_update(o, &s, w, g, st, n);
		break;
	case OPT_NAG:
		if (o->p.momentum > 0)
			nag_mom_kernel(w, g, st[0], n, o->p.momentum, s.lr, s.wd, s.rescale, s.clip);
		else
			sgd_single_kernel(w, g, n, s.lr, s.wd, s.rescale, s.clip);
		break;
	case OPT_ADAM:
		adam_kernel(w, g, st[0], st[1], n, s, o->p.beta1, o->p.beta2, o->p.epsilon);
		break;
	case OPT_RMSPROP: {
		float bound = o->p.clip_weights > 0 ? o->p.clip_weights : INFINITY;
		if (o->p.centered)
			rmsprop_centered_kernel(w, g, st[0], st[1], st[2], n, s, o->p.gamma1, o->p.gamma2,
						o->p.epsilon, bound);
		else
			rmsprop_kernel(w, g, st[0], n, s, o->p.gamma1, o->p.epsilon, bound);
		break;
	}
	case OPT_ADAGRAD:
		adagrad_kernel(w, g, st[0], n, s, o->p.eps);
		break;
	}
	return MX_OK;
}

void optimizer_step_done(struct optimizer *o)
{
	o->num_update++;
	refresh_lr(o);
}

float optimizer_current_lr(const struct optimizer *o) { return (float)o->lr; }

int64_t optimizer_num_update(const struct optimizer *o) { return o->num_update; }

int optimizer_num_states(const struct optimizer *o) { return o->n_states; }

struct mx_tensor *optimizer_state(struct optimizer *o, int index, int k)
{
	assert(index >= 0 && index < o->n_params);
	return k >= 0 && k < o->n_states ? o->slots[index].state[k] : NULL;
}

int optimizer_set_state(struct optimizer *o, int index, int k, const struct mx_tensor *state)
{
	struct mx_tensor *copy = NULL;
	if (index < 0 || index >= o->n_params)
		return mx_error(MX_ERR_INVALID, "optimizer: state for parameter %d, but there are %d", index,
				o->n_params);
	if (k < 0 || k >= o->n_states)
		return mx_error(MX_ERR_INVALID, "optimizer: state %d for parameter %d, but %s keeps %d state%s "
				"per parameter", k, index, optimizer_name(o), o->n_states, o->n_states == 1 ? "" : "s");
	if (state) {
		if (check_f32_cpu("state", index, state))
			return MX_ERR_INVALID;
		if (!(copy = tensor_new(&state->shape, MX_F32, MX_CPU)))
			return mx_error_prefix(MX_ERR_NOMEM, "optimizer: parameter %d state", index);
		tensor_copy(copy, state);
	}
	tensor_free(o->slots[index].state[k]);
	o->slots[index].state[k] = copy;
	return MX_OK;
}

void optimizer_set_num_update(struct optimizer *o, int64_t num_update)
{
	o->num_update = num_update;
	refresh_lr(o);
}
