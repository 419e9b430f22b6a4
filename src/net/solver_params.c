/* solver_params.c: the `solver` and `model` sections' keys (trainer.h), with defaults.
 *
 * The keys are MXNet's spellings (the arguments of mx.optimizer.SGD, NAG, Adam, RMSProp,
 * AdaGrad, of mx.lr_scheduler.*, Xavier, fit.py), and the defaults are those classes'
 * defaults, so a conf that says nothing trains as Module.fit(optimizer='sgd') does. lr = 0
 * stands for the chosen optimizer's own default (Adam and RMSProp use 0.001, the others
 * 0.01). MXNet's example fit.py passes wd = 0.0001 explicitly, and so should a conf that
 * wants it. Keys of an optimizer or scheduler other than the chosen one must stay at their
 * defaults (optimizer_create refuses them, as MXNet refuses an unknown keyword). */
#include <stddef.h>

#include "trainer.h"

#define BIG 1e30 /* an upper bound of BIG means "no upper bound" (param.c) */

static const char *const optimizer_names[] = {"sgd", "nag", "adam", "rmsprop", "adagrad", NULL};
static const char *const init_names[] = {"xavier", "gaussian", "uniform", "constant", NULL};
static const char *const xavier_rnd_names[] = {"uniform", "gaussian", NULL};
static const char *const xavier_factor_names[] = {"avg", "in", "out", NULL};
static const char *const lr_sched_names[] = {"none", "factor", "multifactor", "poly", "cosine", NULL};
static const char *const warmup_mode_names[] = {"linear", "constant", NULL};

#define S(field) offsetof(struct solver_param, field)

/* Index = enum engine_kind. */
static const char *const engine_names[] = {"naive", "threaded", NULL};

const struct param_spec solver_params[] = {
	{"optimizer", PARAM_ENUM, S(optimizer), 0, "sgd", optimizer_names, 0, 0,
	 "update rule, as mx.optimizer: sgd (momentum, weight decay), nag (Nesterov momentum), "
	 "adam, rmsprop, adagrad"},
	{"lr", PARAM_FLOAT, S(lr), 0, "0", NULL, 0, BIG,
	 "base learning rate; 0: the optimizer's MXNet default, 0.01 (sgd, nag, adagrad) or 0.001 "
	 "(adam, rmsprop)"},
	{"momentum", PARAM_FLOAT, S(momentum), 0, "0", NULL, 0, 1,
	 "sgd, nag: momentum; 0 keeps no state (plain SGD)"},
	{"wd", PARAM_FLOAT, S(wd), 0, "0", NULL, 0, BIG,
	 "weight decay (L2), mx.optimizer.SGD's default 0; MXNet's fit.py uses 0.0001"},
	{"rescale_grad", PARAM_FLOAT, S(rescale_grad), 0, "0", NULL, 0, BIG,
	 "gradient scale; 0: 1/batch_size, as MXNet's Module sets it"},
	{"clip_gradient", PARAM_FLOAT, S(clip_gradient), 0, "-1", NULL, 0, 0,
	 "clip the rescaled gradient to [-c, c] (adam, rmsprop: after adding wd * weight); "
	 "0 or negative (MXNet: -1) turns it off"},
	{"beta1", PARAM_FLOAT, S(beta1), 0, "0.9", NULL, 0, 1,
	 "adam: decay rate of the first moment (mean) estimate"},
	{"beta2", PARAM_FLOAT, S(beta2), 0, "0.999", NULL, 0, 1,
	 "adam: decay rate of the second moment (variance) estimate"},
	{"epsilon", PARAM_FLOAT, S(epsilon), 0, "1e-08", NULL, 0, BIG,
	 "adam, rmsprop: small constant added to the denominator"},
	{"gamma1", PARAM_FLOAT, S(gamma1), 0, "0.9", NULL, 0, 1,
	 "rmsprop: decay rate of the moving average of squared gradients"},
	{"gamma2", PARAM_FLOAT, S(gamma2), 0, "0.9", NULL, 0, 1,
	 "rmsprop with centered = true: momentum of the update"},
	{"centered", PARAM_BOOL, S(centered), 0, "false", NULL, 0, 0,
	 "rmsprop: Graves's centered version (three state buffers) instead of Tieleman and Hinton's"},
	{"clip_weights", PARAM_FLOAT, S(clip_weights), 0, "-1", NULL, 0, 0,
	 "rmsprop: clip the updated weights to [-c, c]; 0 or negative turns it off"},
	{"eps", PARAM_FLOAT, S(eps), 0, "1e-07", NULL, 0, BIG,
	 "adagrad: added to the history under the square root (MXNet's float_stable_eps)"},
	{"num_epoch", PARAM_INT, S(num_epoch), 0, "10", NULL, 0, 1e9,
	 "epochs to train; 0: only initialize and save the model as epoch 0 (prefix-0000.params)"},
	{"initializer", PARAM_ENUM, S(initializer), 0, "xavier", init_names, 0, 0,
	 "how *_weight is filled: xavier, gaussian (init_sigma), uniform (init_scale), constant (init_value)"},
	{"xavier_rnd_type", PARAM_ENUM, S(xavier_rnd_type), 0, "uniform", xavier_rnd_names, 0, 0,
	 "xavier: draw uniform in [-s, s] or gaussian with sigma s"},
	{"xavier_factor_type", PARAM_ENUM, S(xavier_factor_type), 0, "avg", xavier_factor_names, 0, 0,
	 "xavier: divide magnitude by (fan_in + fan_out) / 2, fan_in or fan_out"},
	{"xavier_magnitude", PARAM_FLOAT, S(xavier_magnitude), 0, "3", NULL, 0, BIG,
	 "xavier: s = sqrt(magnitude / factor)"},
	{"init_sigma", PARAM_FLOAT, S(init_sigma), 0, "0.01", NULL, 0, BIG,
	 "gaussian: standard deviation (mx.init.Normal)"},
	{"init_scale", PARAM_FLOAT, S(init_scale), 0, "0.07", NULL, 0, BIG,
	 "uniform: draw in [-scale, scale] (mx.init.Uniform)"},
	{"init_value", PARAM_FLOAT, S(init_value), 0, "0", NULL, 0, 0, "constant: the value"},
	{"seed", PARAM_INT64, S(seed), 0, "0", NULL, 0, 0,
	 "random seed of the initializers and of Dropout (data.train.seed shuffles the data)"},
	{"lr_scheduler", PARAM_ENUM, S(lr_scheduler), 0, "none", lr_sched_names, 0, 0,
	 "none; factor (lr_factor every lr_step updates); multifactor (at lr_steps or lr_step_epochs); "
	 "poly (to final_lr by (1 - u/lr_max_update)^lr_pwr); cosine (to final_lr along a half cosine)"},
	{"lr_factor", PARAM_FLOAT, S(lr_factor), 0, "1", NULL, 0, 1,
	 "factor/multifactor: multiply lr by this at each step"},
	{"lr_step", PARAM_INT, S(lr_step), 0, "0", NULL, 0, 2147483647.0,
	 "factor: updates between steps (required, >= 1)"},
	{"lr_steps", PARAM_SHAPE, S(lr_steps), 0, "()", NULL, 1, BIG,
	 "multifactor: increasing update counts (at most 6), e.g. (2000, 4000)"},
	{"lr_step_epochs", PARAM_SHAPE, S(lr_step_epochs), 0, "()", NULL, 1, BIG,
	 "multifactor: increasing epochs (at most 6), e.g. (10, 20), instead of lr_steps"},
	{"lr_max_update", PARAM_INT, S(lr_max_update), 0, "0", NULL, 0, 2147483647.0,
	 "poly, cosine: the update at which lr reaches final_lr (MXNet's max_update); "
	 "0: num_epoch times the batches per epoch"},
	{"final_lr", PARAM_FLOAT, S(final_lr), 0, "0", NULL, 0, BIG,
	 "poly, cosine: the learning rate at lr_max_update and after"},
	{"lr_pwr", PARAM_FLOAT, S(lr_pwr), 0, "2", NULL, 0, BIG, "poly: the power of the decay (MXNet's pwr)"},
	{"warmup_steps", PARAM_INT, S(warmup_steps), 0, "0", NULL, 0, 2147483647.0,
	 "any scheduler: updates 1 .. warmup_steps-1 run at the warmup rate before the schedule"},
	{"warmup_begin_lr", PARAM_FLOAT, S(warmup_begin_lr), 0, "0", NULL, 0, BIG,
	 "warmup: the learning rate at update 0 (at most lr)"},
	{"warmup_mode", PARAM_ENUM, S(warmup_mode), 0, "linear", warmup_mode_names, 0, 0,
	 "warmup: linear (from warmup_begin_lr up to lr in equal steps) or constant (warmup_begin_lr)"},
	{"eval_metric", PARAM_STRING, S(eval_metric), sizeof(((struct solver_param *)0)->eval_metric),
	 "accuracy", NULL, 0, 0, "comma-separated: accuracy (acc), top_k_accuracy, cross-entropy (ce)"},
	{"top_k", PARAM_INT, S(top_k), 0, "5", NULL, 1, 1e9, "k of top_k_accuracy"},
	{"disp_batches", PARAM_INT, S(disp_batches), 0, "50", NULL, 0, 1e9,
	 "print a Speed line every this many batches; 0: never"},
	{"num_threads", PARAM_INT, S(num_threads), 0, "0", NULL, 0, 4096,
	 "threads inside each operator (OpenBLAS); 0: all cores"},
	{"engine", PARAM_ENUM, S(engine), 0, "threaded", engine_names, 0, 0,
	 "threaded: operators, updates and copies run as soon as their inputs are ready; naive: one at a "
	 "time in order (debugging). MXNET_ENGINE_TYPE=NaiveEngine overrides"},
	{"engine_threads", PARAM_INT, S(engine_threads), 0, "1", NULL, 1, 1024,
	 "worker threads of the threaded engine (MXNET_CPU_WORKER_NTHREADS overrides)"},
	PARAM_END,
};

#define M(field) offsetof(struct model_param, field)

const struct param_spec model_params[] = {
	{"dir", PARAM_STRING, M(dir), sizeof(((struct model_param *)0)->dir), "model", NULL, 0, 0,
	 "directory for checkpoints"},
	{"prefix", PARAM_STRING, M(prefix), sizeof(((struct model_param *)0)->prefix), "model", NULL, 0, 0,
	 "checkpoint names: <prefix>-symbol.json, <prefix>-<epoch %04d>.params"},
	{"save_period", PARAM_INT, M(save_period), 0, "1", NULL, 0, 1e9,
	 "epochs between checkpoints; 0: only after the last epoch"},
	PARAM_END,
};
