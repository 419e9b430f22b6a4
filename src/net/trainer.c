/* trainer.c: the training loop (see trainer.h). */
#include "trainer.h"

#include <cblas.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "data/iter.h"
#include "engine/engine.h"
#include "engine/threadpool.h"
#include "error.h"
#include "executor.h"
#include "initializer.h"
#include "log.h"
#include "metric.h"
#include "updater.h"

#define TRAINER_MAX_KV 128

int trainer_open_iter(const struct conf_section *s, const char *section, struct data_iter **out)
{
	const char *keys[TRAINER_MAX_KV], *values[TRAINER_MAX_KV], *origins[TRAINER_MAX_KV];
	const char *kind = NULL;
	int n = 0;
	for (int i = 0; i < s->n && n < TRAINER_MAX_KV; i++) {
		if (!strcmp(s->kv[i].key, "iter")) {
			kind = s->kv[i].value;
			continue;
		}
		keys[n] = s->kv[i].key;
		values[n] = s->kv[i].value;
		origins[n++] = s->kv[i].origin;
	}
	if (!kind)
		return mx_error(MX_ERR_INVALID, "%s%s%s: missing key \"iter\" (e.g. iter = \"mnist\";)",
				s->origin ? s->origin : "", s->origin ? ": " : "", section);
	/* Iterators whose labels come from a separate file may run without one for
	 * prediction; training and evaluation need it. */
	for (const struct iter_kind *const *k = iter_kinds(); *k; k++) {
		int given = 0;
		if (strcmp((*k)->name, kind) || !param_find((*k)->params, "label"))
			continue;
		for (int i = 0; i < n; i++)
			given |= !strcmp(keys[i], "label");
		if (!given)
			return mx_error(MX_ERR_INVALID, "%s%s%s: missing key \"label\" (the labels file)",
					s->origin ? s->origin : "", s->origin ? ": " : "", section);
	}
	return iter_create(kind, keys, values, origins, n, section, out);
}

/* Everything one run holds; freed by trainer_cleanup. */
struct run {
	struct solver_param solver;
	struct model_param model;
	struct graph *g;
	struct engine *eng;
	struct data_iter *train_it, *eval_it;
	struct executor *train_ex, *eval_ex;
	struct updater *upd;
	struct mx_threadpool *pool;
	struct metric *metric;
	struct mx_rng init_rng, op_rng;
	const char *label_name;
	long kill_at_update;   /* MXTRAIN_DEBUG_KILL_AT_UPDATE, 0: off */
	int quiet;             /* no Speed lines */
	long updates_done;
};

static void run_free(struct run *r)
{
	executor_free(r->eval_ex);
	/* after the executors: engine_free below waits for tasks, which may use the pool */
	executor_free(r->train_ex);
	iter_free(r->train_it);
	iter_free(r->eval_it);
	updater_free(r->upd);
	metric_free(r->metric);
	if (r->eng)
		engine_free(r->eng);
	threadpool_free(r->pool);
	graph_free(r->g);
}

static int bind(struct run *r, struct data_iter *it, int for_training, struct executor *shared,
		struct executor **out)
{
	const char *names[2] = {"data", r->label_name};
	struct mx_shape shapes[2] = {iter_data_shape(it), iter_label_shape(it)};
	return executor_bind(r->g, r->eng, MX_CPU, names, shapes, r->label_name ? 2 : 1, for_training, shared,
			     &r->op_rng, out);
}

/* Copies a batch into the executor's data and label arrays, checking shapes. */
static int feed(struct run *r, struct executor *ex, const struct data_batch *b)
{
	struct mx_tensor *d = executor_var(ex, "data"), *l = r->label_name ? executor_var(ex, r->label_name) : NULL;
	int rc;
	if (shape_size(&d->shape) != shape_size(&b->data->shape))
		return mx_error(MX_ERR_SHAPE, "batch data size changed");
	if (l && shape_size(&l->shape) != shape_size(&b->label->shape)) {
		char a[64], s[64];
		return mx_error(MX_ERR_SHAPE, "the iterator gives labels of shape %s, the loss layer needs %s",
				shape_str(&b->label->shape, a, sizeof a), shape_str(&l->shape, s, sizeof s));
	}
	/* The previous batch's tasks may still read these arrays. */
	if ((rc = engine_wait_to_write(r->eng, d->var)) || (l && (rc = engine_wait_to_write(r->eng, l->var))))
		return rc;
	tensor_copy(d, b->data);
	if (l)
		tensor_copy(l, b->label);
	return MX_OK;
}

static void print_metrics(const struct metric *m, const char *sep, const char *prefix, int epoch, FILE *f)
{
	for (int i = 0; i < metric_count(m); i++) {
		if (epoch >= 0)
			fprintf(f, "Epoch[%d] %s%s=%f\n", epoch, prefix, metric_name(m, i), metric_value(m, i));
		else
			fprintf(f, "%s%s=%f", sep, metric_name(m, i), metric_value(m, i));
	}
}

static int evaluate(struct run *r, int epoch)
{
	struct data_batch b;
	int rc;
	metric_reset(r->metric);
	if ((rc = iter_reset(r->eval_it, 0)))
		return rc;
	while ((rc = iter_next(r->eval_it, &b)) == MX_OK) {
		struct mx_tensor *out;
		if ((rc = feed(r, r->eval_ex, &b)) || (rc = executor_forward(r->eval_ex, 0)))
			return rc;
		out = executor_output(r->eval_ex, 0);
		if ((rc = engine_wait_var(r->eng, out->var)) ||
		    (rc = metric_update(r->metric, out, executor_var(r->eval_ex, r->label_name), b.pad)))
			return rc;
	}
	if (rc != MX_END)
		return rc;
	print_metrics(r->metric, "", "Validation-", epoch, stdout);
	return MX_OK;
}

static int train_epoch(struct run *r, int epoch)
{
	struct data_batch b;
	double t0 = mx_now_seconds(), tic = t0;
	int nbatch = 0, rc, bs = iter_batch_size(r->train_it);
	metric_reset(r->metric);
	if ((rc = iter_reset(r->train_it, epoch)))
		return rc;
	while ((rc = iter_next(r->train_it, &b)) == MX_OK) {
		struct mx_tensor *out;
		if ((rc = feed(r, r->train_ex, &b)) || (rc = executor_forward(r->train_ex, 1)) ||
		    (rc = executor_backward(r->train_ex)))
			return rc;
		if ((rc = updater_push(r->upd)))
			return rc;
		/* Test hook: die without any cleanup after this many updates, as a crash or
		 * `kill -9` would (tests/resume.sh). */
		if (r->kill_at_update > 0 && ++r->updates_done == r->kill_at_update)
			raise(SIGKILL);
		out = executor_output(r->train_ex, 0);
		if ((rc = engine_wait_var(r->eng, out->var)) ||
		    (rc = metric_update(r->metric, out, executor_var(r->train_ex, r->label_name), b.pad)))
			return rc;
		nbatch++;
		if (!r->quiet && r->solver.disp_batches > 0 && nbatch % r->solver.disp_batches == 0) {
			double t = mx_now_seconds();
			printf("Epoch[%d] Batch [%d]\tSpeed: %.2f samples/sec", epoch, nbatch,
			       r->solver.disp_batches * bs / (t - tic));
			print_metrics(r->metric, "\t", "", -1, stdout);
			printf("\n");
			fflush(stdout);
			tic = t;
		}
	}
	if (rc != MX_END)
		return rc;
	if ((rc = engine_wait_all(r->eng)))
		return rc;
	print_metrics(r->metric, "", "Train-", epoch, stdout);
	printf("Epoch[%d] Time cost=%.3f\n", epoch, mx_now_seconds() - t0);
	fflush(stdout);
	return MX_OK;
}

static int init_params(struct run *r)
{
	for (int i = 0; i < r->g->n_forward; i++) {
		const struct graph_node *n = &r->g->nodes[i];
		int rc;
		if (n->kind != NODE_ARG && n->kind != NODE_AUX)
			continue;
		if ((rc = initializer_fill(&r->solver, n->name, executor_var(r->train_ex, n->name), &r->init_rng)))
			return rc;
	}
	return MX_OK;
}

int trainer_run(const struct mx_conf *c, const struct trainer_options *opt)
{
	struct run r;
	int rc, begin = 0, labels[4];
	long batches_per_epoch;

	memset(&r, 0, sizeof r);
	r.quiet = opt->quiet;
	if (getenv("MXTRAIN_DEBUG_KILL_AT_UPDATE"))
		r.kill_at_update = atol(getenv("MXTRAIN_DEBUG_KILL_AT_UPDATE"));
	param_defaults(solver_params, &r.solver);
	param_defaults(model_params, &r.model);
	if ((rc = conf_apply_section(&c->solver, "solver", solver_params, &r.solver)) ||
	    (rc = conf_apply_section(&c->model, "model", model_params, &r.model)))
		return rc;
	if (strcmp(c->device, "cpu") && c->device[0])
		return mx_error(MX_ERR_INVALID, "%s%sdevice \"%s\" is not available: this build trains on the cpu",
				c->device_origin ? c->device_origin : "", c->device_origin ? ": " : "", c->device);
	if (!c->train.present)
		return mx_error(MX_ERR_INVALID, "%s: no data.train section", c->path);
	/* The thread policy (engine/threadpool.h): operators split their work over a pool of
	 * num_threads threads and call OpenBLAS single-threaded. */
	openblas_set_num_threads(1);
	if (!(r.pool = threadpool_create(r.solver.num_threads > 0 ? r.solver.num_threads
								   : (int)sysconf(_SC_NPROCESSORS_ONLN)))) {
		rc = mx_error(MX_ERR_NOMEM, "cannot start %d threads", r.solver.num_threads);
		goto done;
	}
	rng_seed(&r.init_rng, (uint64_t)r.solver.seed);
	rng_seed(&r.op_rng, (uint64_t)r.solver.seed ^ 0x5DEECE66DULL);

	if ((rc = conf_build_graph(c, &r.g)))
		goto done;
	if (graph_list_vars(r.g, NODE_LABEL, NULL, 0) > 1) {
		rc = mx_error(MX_ERR_INVALID, "%s: the network has several label inputs; one loss layer is supported", c->path);
		goto done;
	}
	if (graph_list_vars(r.g, NODE_LABEL, labels, 4) == 1)
		r.label_name = r.g->nodes[labels[0]].name;
	if ((rc = graph_build_backward(r.g)))
		goto done;
	if (!(r.eng = engine_create_from_env(r.solver.engine, r.solver.engine_threads))) {
		rc = MX_ERR_INVALID;
		goto done;
	}
	if ((rc = trainer_open_iter(&c->train, "data.train", &r.train_it)))
		goto done;
	if (c->eval.present && (rc = trainer_open_iter(&c->eval, "data.eval", &r.eval_it)))
		goto done;
	if ((rc = bind(&r, r.train_it, 1, NULL, &r.train_ex)))
		goto done;
	if (r.eval_it && (rc = bind(&r, r.eval_it, 0, r.train_ex, &r.eval_ex)))
		goto done;
	executor_set_threadpool(r.train_ex, r.pool);
	if (r.eval_ex)
		executor_set_threadpool(r.eval_ex, r.pool);

	batches_per_epoch = (iter_num_examples(r.train_it) + iter_batch_size(r.train_it) - 1) / iter_batch_size(r.train_it);
	if ((rc = updater_create(&r.solver, r.g, r.train_ex, r.eng, iter_batch_size(r.train_it), batches_per_epoch,
				 &r.upd)))
		goto done;
	if (!(r.metric = metric_create(r.solver.eval_metric, r.solver.top_k))) {
		rc = MX_ERR_INVALID;
		goto done;
	}
	if ((rc = init_params(&r)))
		goto done;
	if (opt->resume) {
		char path[1200];
		int latest = checkpoint_latest(r.model.dir, r.model.prefix);
		if (latest > 0) {
			checkpoint_path(path, sizeof path, r.model.dir, r.model.prefix, latest, "params");
			if ((rc = checkpoint_load_params(path, r.g, r.train_ex)))
				goto done;
			checkpoint_path(path, sizeof path, r.model.dir, r.model.prefix, latest, "states");
			if ((rc = checkpoint_load_states(path, r.g, updater_optimizer(r.upd), &r.op_rng, &begin)))
				goto done;
			mx_info("resuming from %s/%s-%04d (epoch %d done)", r.model.dir, r.model.prefix, latest, begin);
		} else {
			mx_info("--resume: no complete checkpoint %s/%s-NNNN.states; starting from epoch 0",
				r.model.dir, r.model.prefix);
		}
	}
	if (r.solver.num_epoch == 0 && !begin) {
		/* MXNet's convention: epoch 0 is the initialized model. */
		if ((rc = checkpoint_save(r.model.dir, r.model.prefix, 0, r.g, r.train_ex, updater_optimizer(r.upd), &r.op_rng)))
			goto done;
		mx_info("Saved the initialized model to \"%s/%s-0000.params\"", r.model.dir, r.model.prefix);
	}
	for (int epoch = begin; epoch < r.solver.num_epoch; epoch++) {
		if ((rc = train_epoch(&r, epoch)))
			goto done;
		if (r.eval_ex && (rc = evaluate(&r, epoch)))
			goto done;
		if ((r.model.save_period > 0 && (epoch + 1) % r.model.save_period == 0) || epoch + 1 == r.solver.num_epoch) {
			if ((rc = checkpoint_save(r.model.dir, r.model.prefix, epoch + 1, r.g, r.train_ex, updater_optimizer(r.upd), &r.op_rng)))
				goto done;
			mx_info("Saved checkpoint to \"%s/%s-%04d.params\"", r.model.dir, r.model.prefix, epoch + 1);
		}
	}
done:
	run_free(&r);
	return rc;
}
