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

enum optimizer_kind { OPT_SGD = 0, OPT_NAG, OPT_ADAM, OPT_RMSPROP, OPT_ADAGRAD };
enum init_kind { INIT_XAVIER = 0, INIT_GAUSSIAN, INIT_UNIFORM, INIT_CONSTANT };
enum lr_sched_kind { LR_NONE = 0, LR_FACTOR, LR_MULTIFACTOR, LR_POLY, LR_COSINE };
enum warmup_mode { WARMUP_LINEAR = 0, WARMUP_CONSTANT };

struct solver_param {
	int optimizer;           /* enum optimizer_kind */
	float lr;                /* 0: the optimizer's MXNet default (0.01; adam, rmsprop 0.001) */
	float momentum;          /* sgd, nag */
	float wd;
	float rescale_grad;      /* 0: 1 / batch_size, as MXNet's Module does */
	float clip_gradient;     /* <= 0: no clipping */
	float beta1, beta2;      /* adam */
	float epsilon;           /* adam, rmsprop */
	float gamma1, gamma2;    /* rmsprop (gamma2: centered only) */
	int centered;            /* rmsprop: Graves's version with three states */
	float clip_weights;      /* rmsprop: <= 0: no clipping */
	float eps;               /* adagrad: MXNet's float_stable_eps */
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
	int lr_max_update;       /* poly, cosine: 0 means num_epoch * batches per epoch */
	float final_lr;          /* poly, cosine */
	float lr_pwr;            /* poly */
	int warmup_steps;        /* every scheduler: updates before the schedule starts */
	float warmup_begin_lr;
	int warmup_mode;         /* enum warmup_mode */
	char eval_metric[128];   /* comma-separated: accuracy, top_k_accuracy, ce */
	int top_k;
	int disp_batches;        /* a Speed line every this many batches */
	int num_threads;         /* 0: all cores */
	int engine;              /* enum engine_kind: threaded (default) or naive */
	int engine_threads;      /* engine worker threads */
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

struct data_iter;
/* Creates the iterator a data section describes ("data.train"). Errors name the place. */
int trainer_open_iter(const struct conf_section *s, const char *section, struct data_iter **out);

/* Trains as the conf says. Returns MX_OK, or an error with the message set (the CLI
 * prints it and exits 2). */
int trainer_run(const struct mx_conf *c, const struct trainer_options *opt);

#endif
