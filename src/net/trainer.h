/* trainer.h: the training loop and its settings (the solver and model sections).
 *
 * trainer_run() binds the conf's graph for training (and evaluation, sharing weights),
 * initializes or resumes parameters, runs epochs of forward/backward/update through the
 * engine, prints MXNet-format log lines, evaluates after each epoch and writes
 * checkpoints every save_period epochs (to a temporary name, then renamed). */
#ifndef MX_TRAINER_H
#define MX_TRAINER_H

#include <stdint.h>

#include "conf.h"
#include "param.h"
#include "tensor.h"

enum optimizer_kind { OPT_SGD = 0 };
enum init_kind { INIT_XAVIER = 0, INIT_GAUSSIAN, INIT_UNIFORM, INIT_CONSTANT };
enum lr_sched_kind { LR_NONE = 0, LR_FACTOR, LR_MULTIFACTOR };

struct solver_param {
	int optimizer;           /* enum optimizer_kind */
	float lr;
	float momentum;
	float wd;
	float rescale_grad;      /* 0: 1 / batch_size, as MXNet's Module does */
	float clip_gradient;     /* <= 0: no clipping */
	int num_epoch;
	int initializer;         /* enum init_kind */
	int xavier_rnd_type;     /* 0 uniform, 1 gaussian */
	int xavier_factor_type;  /* 0 avg, 1 in, 2 out */
	float xavier_magnitude;
	float init_sigma;        /* gaussian */
	float init_scale;        /* uniform: [-scale, scale] */
	float init_value;        /* constant */
	int64_t seed;
	int lr_scheduler;        /* enum lr_sched_kind */
	float lr_factor;
	int lr_step;             /* factor: multiply by lr_factor every lr_step updates */
	struct mx_shape lr_steps;       /* multifactor: at these update counts */
	struct mx_shape lr_step_epochs; /* multifactor, in epochs (converted to updates) */
	char eval_metric[128];   /* comma-separated: accuracy, top_k_accuracy, ce */
	int top_k;
	int disp_batches;        /* a Speed line every this many batches */
	int num_threads;         /* 0: all cores */
};

struct model_param {
	char dir[512];
	char prefix[128];
	int save_period;         /* epochs between checkpoints; 0: only the last */
};

extern const struct param_spec solver_params[];
extern const struct param_spec model_params[];

struct trainer_options {
	int resume;         /* continue from the newest complete checkpoint */
	int quiet;
};

/* Trains as the conf says. Returns MX_OK, or an error with the message set (the CLI
 * prints it and exits 2). */
int trainer_run(const struct mx_conf *c, const struct trainer_options *opt);

#endif
