/* timing.c: `mxtrain --time`: layer-by-layer timing of a conf's network on random inputs,
 * and the sgemm rate that its GFLOP/s is read against (see timing.h). */
#include "timing.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/iter.h"
#include "engine/engine.h"
#include "engine/threadpool.h"
#include "error.h"
#include "executor.h"
#include "initializer.h"
#include "log.h"
#include "trainer.h"
#include "updater.h"

#define TIMING_MAX_KV 128
#define TIMING_MAX_IO 64
#define IDX_IMAGES_MAGIC 0x00000803u

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double timing_sgemm_gflops(int n, int reps)
{
	size_t nn = (size_t)n * n;
	float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = calloc(nn, sizeof *c);
	double *t = calloc(reps > 0 ? reps : 1, sizeof *t), rate = -1;
	struct mx_rng rng;
	if (!a || !b || !c || !t)
		goto done;
	rng_seed(&rng, 42);
	for (size_t i = 0; i < nn; i++) {
		a[i] = rng_uniform(&rng) - 0.5f;
		b[i] = rng_uniform(&rng) - 0.5f;
	}
	/* The first calls pay for thread start-up, page faults and clock ramp-up; not counted. */
	for (int r = 0; r < 2; r++)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
	for (int r = 0; r < reps; r++) {
		double t0 = mx_now_seconds();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
		t[r] = mx_now_seconds() - t0;
	}
	rate = reps > 0 ? 2.0 * n * n * (double)n / median(t, reps) * 1e-9 : -1;
done:
	free(a);
	free(b);
	free(c);
	free(t);
	return rate;
}

/* Rows and columns from an idx3 images file's header (raw or gzip), reading 16 bytes.
 * Returns 0, or -1 when the header cannot be read (the iterator will say why). */
static int idx_image_dims(const char *path, int64_t *rows, int64_t *cols)
{
	unsigned char h[16];
	gzFile gz = gzopen(path, "rb");
	int got;
	if (!gz)
		return -1;
	got = gzread(gz, h, sizeof h);
	gzclose(gz);
	if (got != (int)sizeof h)
		return -1;
	uint32_t magic = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	*rows = (int64_t)h[8] << 24 | (int64_t)h[9] << 16 | (int64_t)h[10] << 8 | h[11];
	*cols = (int64_t)h[12] << 24 | (int64_t)h[13] << 16 | (int64_t)h[14] << 8 | h[15];
	return magic == IDX_IMAGES_MAGIC && *rows > 0 && *cols > 0 ? 0 : -1;
}

static const struct iter_kind *find_kind(const char *name)
{
	for (const struct iter_kind *const *k = iter_kinds(); *k; k++)
		if (!strcmp((*k)->name, name))
			return *k;
	return NULL;
}

/* The shapes from the kind's parsed parameters without opening it: kinds with a
 * data_shape key (synthetic, image records, csv) say it, with label_width or csv's
 * label_shape for the labels; mnist's idx header says it. Returns
 * 0 with the shapes, or -1 when only opening the iterator can tell. */
static int shapes_from_param(const struct iter_kind *kind, const void *param, struct mx_shape *data,
			     struct mx_shape *label)
{
	const struct param_spec *bs = param_find(kind->params, "batch_size");
	const struct param_spec *ds = param_find(kind->params, "data_shape");
	const struct param_spec *lw = param_find(kind->params, "label_width");
	const struct param_spec *ls = param_find(kind->params, "label_shape");
	const char *p = param;
	int64_t batch;
	if (!bs || bs->type != PARAM_INT)
		return -1;
	batch = *(const int *)(p + bs->offset);
	if (batch < 1)  /* a required key left out: iter_create says so */
		return -1;
	*label = shape_make(1, batch);
	if (lw && lw->type == PARAM_INT && *(const int *)(p + lw->offset) > 1)
		*label = shape_make(2, batch, (int64_t) * (const int *)(p + lw->offset));
	if (ls && ls->type == PARAM_SHAPE) {  /* csv: (1,) gives (batch), others (batch, ...) */
		const struct mx_shape *l = (const struct mx_shape *)(p + ls->offset);
		if (l->ndim < 1 || l->ndim >= MX_MAX_NDIM)
			return -1;
		if (!(l->ndim == 1 && l->dim[0] == 1)) {
			label->ndim = l->ndim + 1;
			for (int i = 0; i < l->ndim; i++)
				label->dim[i + 1] = l->dim[i];
		}
	}
	if (ds && ds->type == PARAM_SHAPE) {
		const struct mx_shape *s = (const struct mx_shape *)(p + ds->offset);
		if (s->ndim < 1 || s->ndim >= MX_MAX_NDIM)
			return -1;
		data->ndim = s->ndim + 1;
		data->dim[0] = batch;
		for (int i = 0; i < s->ndim; i++)
			data->dim[i + 1] = s->dim[i];
		return 0;
	}
	if (!strcmp(kind->name, "mnist")) {
		const struct param_spec *image = param_find(kind->params, "image");
		const struct param_spec *flat = param_find(kind->params, "flat");
		int64_t rows, cols;
		if (!image || !flat || idx_image_dims(p + image->offset, &rows, &cols))
			return -1;
		*data = *(const int *)(p + flat->offset) ? shape_make(2, batch, rows * cols)
							 : shape_make(4, batch, (int64_t)1, rows, cols);
		return 0;
	}
	return -1;
}

int timing_input_shapes(const struct conf_section *s, const char *section, struct mx_shape *data,
			struct mx_shape *label)
{
	const char *keys[TIMING_MAX_KV], *values[TIMING_MAX_KV], *origins[TIMING_MAX_KV];
	const char *kind_name = NULL;
	const struct iter_kind *kind;
	struct data_iter *it = NULL;
	void *param = NULL;
	int n = 0, rc, quick = 1;

	for (int i = 0; i < s->n && n < TIMING_MAX_KV; i++) {
		if (!strcmp(s->kv[i].key, "iter")) {
			kind_name = s->kv[i].value;
			continue;
		}
		keys[n] = s->kv[i].key;
		values[n] = s->kv[i].value;
		origins[n++] = s->kv[i].origin;
	}
	if (!kind_name)
		return mx_error(MX_ERR_INVALID, "%s%s%s: missing key \"iter\" (e.g. iter = \"mnist\";)",
				s->origin ? s->origin : "", s->origin ? ": " : "", section);
	/* Parse the keys with the kind's own table; anything it does not take (a typo, a
	 * generic key) goes the long way, so errors read exactly as iter_create's. */
	kind = find_kind(kind_name);
	if (kind && (param = calloc(1, kind->param_size))) {
		param_defaults(kind->params, param);
		for (int i = 0; i < n && quick; i++) {
			if (!strcmp(keys[i], "prefetch_buffer"))
				continue;
			quick = param_find(kind->params, keys[i]) && !param_set(kind->params, param, keys[i], values[i]);
		}
		if (quick && !shapes_from_param(kind, param, data, label)) {
			free(param);
			mx_error_clear();
			return MX_OK;
		}
		mx_error_clear();
	}
	free(param);
	mx_debug("--time: opening %s's iterator to learn its shapes", section);
	if ((rc = iter_create(kind_name, keys, values, origins, n, section, &it)))
		return rc;
	*data = iter_data_shape(it);
	*label = iter_label_shape(it);
	iter_free(it);
	return MX_OK;
}

/* Everything one timing run holds; freed by bench_free. */
struct bench {
	struct solver_param solver;
	int threads;
	struct mx_threadpool *pool;   /* the operators' threads, as in training */
	struct graph *g;
	struct engine *eng;
	struct executor *ex;
	struct updater *upd;
	struct mx_rng init_rng, op_rng, data_rng;
	const char *label_name;
	double *profile;     /* per node, seconds over the timed iterations */
	double *phase[4];    /* per timed iteration: forward, backward, update, total seconds */
};

static void bench_free(struct bench *b)
{
	executor_free(b->ex);
	updater_free(b->upd);
	if (b->eng)
		engine_free(b->eng);
	threadpool_free(b->pool);
	graph_free(b->g);
	free(b->profile);
	for (int i = 0; i < 4; i++)
		free(b->phase[i]);
}

/* The number of classes the label feeds, for losses that take class indices
 * (SoftmaxOutput: the class axis of its input); 0 for real-valued labels. */
static int64_t label_classes(const struct bench *b)
{
	const struct graph *g = b->g;
	const struct mx_shape *shapes = executor_shapes(b->ex);
	int label = graph_find(g, b->label_name);
	for (int i = 0; i < g->n_forward; i++) {
		const struct graph_node *n = &g->nodes[i];
		if (n->kind != NODE_OP || strcmp(n->op->name, "SoftmaxOutput"))
			continue;
		for (int j = 0; j < n->n_inputs; j++)
			if (n->inputs[j].node == label) {
				const struct mx_shape *x = &shapes[graph_entry_id(g, n->inputs[0])];
				return x->ndim >= 2 ? x->dim[1] : 0;
			}
	}
	return 0;
}

/* Random data in [0, 1) and labels in range; weights as the solver initializes them. */
static int fill_inputs(struct bench *b)
{
	struct mx_tensor *data = executor_var(b->ex, "data");
	struct mx_tensor *label = b->label_name ? executor_var(b->ex, b->label_name) : NULL;
	int rc;
	for (int i = 0; i < b->g->n_forward; i++) {
		const struct graph_node *n = &b->g->nodes[i];
		if ((n->kind == NODE_ARG || n->kind == NODE_AUX) &&
		    (rc = initializer_fill(&b->solver, n->name, executor_var(b->ex, n->name), &b->init_rng)))
			return rc;
	}
	for (int64_t i = 0; i < shape_size(&data->shape); i++)
		tensor_f32(data)[i] = rng_uniform(&b->data_rng);
	if (label) {
		int64_t classes = label_classes(b);
		for (int64_t i = 0; i < shape_size(&label->shape); i++)
			tensor_f32(label)[i] = classes > 0 ? (float)rng_below(&b->data_rng, (uint32_t)classes)
							   : rng_uniform(&b->data_rng);
	}
	return MX_OK;
}

/* One iteration; adds its phases' seconds to t[0..4) when t is not NULL. */
static int step(struct bench *b, int inference, double *t)
{
	double t0 = mx_now_seconds(), t1, t2, t3;
	int rc;
	if ((rc = executor_forward(b->ex, !inference)) || (rc = engine_wait_all(b->eng)))
		return rc;
	t1 = t2 = t3 = mx_now_seconds();
	if (!inference) {
		if ((rc = executor_backward(b->ex)) || (rc = engine_wait_all(b->eng)))
			return rc;
		t2 = mx_now_seconds();
		if ((rc = updater_push(b->upd)))
			return rc;
		if ((rc = engine_wait_all(b->eng)))
			return rc;
		t3 = mx_now_seconds();
	}
	if (t) {
		t[0] = t1 - t0;
		t[1] = t2 - t1;
		t[2] = t3 - t2;
		t[3] = t3 - t0;
	}
	return MX_OK;
}

/* Forward GFLOP of node i from its descriptor; -1 when the op does not count its flops. */
static double node_gflop(const struct bench *b, int i)
{
	const struct graph_node *n = &b->g->nodes[i];
	const struct mx_shape *shapes = executor_shapes(b->ex);
	struct mx_shape in[TIMING_MAX_IO], out[TIMING_MAX_IO];
	if (!n->op->flops || n->n_inputs > TIMING_MAX_IO || n->n_outputs > TIMING_MAX_IO)
		return -1;
	for (int j = 0; j < n->n_inputs; j++)
		in[j] = shapes[graph_entry_id(b->g, n->inputs[j])];
	for (int j = 0; j < n->n_outputs; j++)
		out[j] = shapes[n->entry_base + j];
	return n->op->flops(n->param, in, n->n_inputs, out, n->n_outputs) * 1e-9;
}

/* Backward flops over forward flops for node i: one forward's worth for the gradients of its
 * learnable inputs (a GEMM of the same size for a weight), and one for its data inputs'
 * unless they are all the network's own inputs, whose gradient nobody computes. So a
 * hidden conv or fc counts 2x (op.h's rule), the first conv 1x, a pool or relu 1x. */
static int backward_factor(const struct graph *g, int i)
{
	const struct graph_node *n = &g->nodes[i];
	int learnable = 0, data_grad = 0;
	for (int j = 0; j < n->n_inputs; j++) {
		if (n->inputs[j].node < 0)
			continue;
		switch (g->nodes[n->inputs[j].node].kind) {
		case NODE_ARG: learnable = 1; break;
		case NODE_OP: data_grad = 1; break;
		default: break;
		}
	}
	return learnable + data_grad;
}

static void print_gflop(FILE *out, double v)
{
	if (v < 0)
		fprintf(out, " %10s", "-");
	else
		fprintf(out, " %10.4f", v);
}

static void report(struct bench *b, const struct mx_conf *c, const struct timing_options *opt,
		   const struct mx_shape *data_shape, double sgemm1, double sgemm_n, FILE *out)
{
	const struct graph *g = b->g;
	const struct mx_shape *shapes = executor_shapes(b->ex);
	int n_it = opt->iters, name_w = 5, type_w = 4, with_bw = !opt->inference;
	double *bw = calloc(g->n_nodes, sizeof *bw), sum_sec = 0, gf_f = 0, gf_b = 0, fw_ms = 0, bw_ms = 0;
	double ph[4], total_med, total_min, total_max;
	char *has_bw = calloc(g->n_nodes, 1);
	int uncounted = 0;
	char buf[64];

	if (!bw || !has_bw) {
		free(bw);
		free(has_bw);
		return;
	}
	for (int i = g->n_forward; i < g->n_nodes; i++) {
		int f = g->nodes[i].forward_node;
		if (f >= 0) {
			bw[f] += b->profile[i];
			has_bw[f] = 1;
		} else {
			sum_sec += b->profile[i];
		}
	}
	for (int i = 0; i < g->n_forward; i++)
		if (g->nodes[i].kind == NODE_OP) {
			int ln = (int)strlen(g->nodes[i].name), lt = (int)strlen(g->nodes[i].op->name);
			name_w = ln > name_w ? ln : name_w;
			type_w = lt > type_w ? lt : type_w;
		}
	shape_str(data_shape, buf, sizeof buf);
	fprintf(out, "mxtrain --time %s: %s, batch %lld, data %s, %d thread%s, %d warm-up + %d timed iterations, random inputs\n",
		c->path, opt->inference ? "inference (forward only)" : "training (forward, backward, update)",
		(long long)data_shape->dim[0], buf, b->threads, b->threads == 1 ? "" : "s", opt->warmup, n_it);
	fprintf(out, "%-*s  %-*s  %-16s %9s %9s %10s %10s\n", name_w, "layer", type_w, "type", "output", "fwd ms",
		"bwd ms", "fwd GFLOP", "bwd GFLOP");
	for (int i = 0; i < g->n_forward; i++) {
		const struct graph_node *n = &g->nodes[i];
		double gf, gb = -1, f_ms, b_ms;
		if (n->kind != NODE_OP)
			continue;
		gf = node_gflop(b, i);
		if (gf < 0)
			uncounted++;
		if (gf >= 0 && has_bw[i])
			gb = gf * backward_factor(g, i);
		f_ms = b->profile[i] * 1e3 / n_it;
		b_ms = bw[i] * 1e3 / n_it;
		fw_ms += f_ms;
		bw_ms += b_ms;
		gf_f += gf > 0 ? gf : 0;
		gf_b += gb > 0 ? gb : 0;
		shape_str(&shapes[n->entry_base], buf, sizeof buf);
		fprintf(out, "%-*s  %-*s  %-16s %9.3f", name_w, n->name, type_w, n->op->name, buf, f_ms);
		if (has_bw[i])
			fprintf(out, " %9.3f", b_ms);
		else
			fprintf(out, " %9s", "-");
		print_gflop(out, gf);
		if (has_bw[i])
			print_gflop(out, gb);
		else
			fprintf(out, " %10s", "-");
		fprintf(out, "\n");
	}
	if (sum_sec > 0) {
		fprintf(out, "%-*s  %-*s  %-16s %9s %9.3f %10s %10s\n", name_w, "(grad sums)", type_w, "add_n", "", "-",
			sum_sec * 1e3 / n_it, "-", "-");
		bw_ms += sum_sec * 1e3 / n_it;
	}
	fprintf(out, "%-*s  %-*s  %-16s %9.3f", name_w, "total", type_w, "", "", fw_ms);
	if (with_bw)
		fprintf(out, " %9.3f %10.4f %10.4f\n", bw_ms, gf_f, gf_b);
	else
		fprintf(out, " %9s %10.4f %10s\n", "-", gf_f, "-");

	for (int k = 0; k < 4; k++) {
		double s = 0;
		for (int r = 0; r < n_it; r++)
			s += b->phase[k][r];
		ph[k] = s / n_it * 1e3;
	}
	total_med = median(b->phase[3], n_it) * 1e3;
	total_min = b->phase[3][0] * 1e3;  /* sorted by median() */
	total_max = b->phase[3][n_it - 1] * 1e3;
	fprintf(out, "\nper batch (mean of %d): forward %.3f ms", n_it, ph[0]);
	if (with_bw)
		fprintf(out, ", backward %.3f ms, update %.3f ms", ph[1], ph[2]);
	fprintf(out, ", total %.3f ms (median %.3f, min %.3f, max %.3f)\n", ph[3], total_med, total_min, total_max);
	fprintf(out, "images/sec: %.1f (batch %lld / mean total)\n", data_shape->dim[0] / (ph[3] * 1e-3),
		(long long)data_shape->dim[0]);
	{
		double gflop = gf_f + (with_bw ? gf_b : 0), rate = gflop / (ph[3] * 1e-3);
		fprintf(out, "GFLOP per batch: %.4f (forward %.4f%s", gflop, gf_f, with_bw ? "" : ")");
		if (with_bw)
			fprintf(out, " + backward %.4f)", gf_b);
		if (uncounted)
			fprintf(out, "; %d layer%s without a flop count left out", uncounted, uncounted == 1 ? "" : "s");
		fprintf(out, "\nachieved: %.2f GFLOP/s\n", rate);
		if (sgemm_n > 0) {
			fprintf(out, "sgemm 1024x1024x1024 (median of %d): %.2f GFLOP/s at 1 thread", opt->sgemm_reps, sgemm1);
			if (b->threads != 1)
				fprintf(out, ", %.2f GFLOP/s at %d threads", sgemm_n, b->threads);
			fprintf(out, "\nachieved/sgemm: %.3f at %d thread%s", rate / sgemm_n, b->threads, b->threads == 1 ? "" : "s");
			if (b->threads != 1)
				fprintf(out, " (%.3f of the 1-thread rate)", rate / sgemm1);
			fprintf(out, "\n");
		}
	}
	fprintf(out, "arrays: %.1f MiB\n", executor_bytes(b->ex) / 1048576.0);
	free(bw);
	free(has_bw);
}

int timing_run(const struct mx_conf *c, const struct timing_options *opt, FILE *out)
{
	struct bench b;
	struct mx_shape shapes[2];
	const char *names[2] = {"data", NULL};
	double sgemm1 = -1, sgemm_n = -1;
	int rc, labels[4], n_labels;

	memset(&b, 0, sizeof b);
	if (opt->iters < 1 || opt->warmup < 0)
		return mx_error(MX_ERR_INVALID, "--time: iterations must be >= 1 and warm-up >= 0 (got %d, %d)",
				opt->iters, opt->warmup);
	param_defaults(solver_params, &b.solver);
	if ((rc = conf_apply_section(&c->solver, "solver", solver_params, &b.solver)))
		return rc;
	if (strcmp(c->device, "cpu") && c->device[0])
		return mx_error(MX_ERR_INVALID, "%s%sdevice \"%s\" is not available: this build runs on the cpu",
				c->device_origin ? c->device_origin : "", c->device_origin ? ": " : "", c->device);
	if (!c->train.present)
		return mx_error(MX_ERR_INVALID, "%s: no data.train section (--time takes its batch size and shapes)",
				c->path);
	if ((rc = timing_input_shapes(&c->train, "data.train", &shapes[0], &shapes[1])))
		return rc;
	b.threads = b.solver.num_threads > 0 ? b.solver.num_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	rng_seed(&b.init_rng, (uint64_t)b.solver.seed);
	rng_seed(&b.op_rng, (uint64_t)b.solver.seed ^ 0x5DEECE66DULL);
	rng_seed(&b.data_rng, (uint64_t)b.solver.seed + 1);

	if ((rc = conf_build_graph(c, &b.g)))
		goto done;
	n_labels = graph_list_vars(b.g, NODE_LABEL, labels, 4);
	if (n_labels > 1) {
		rc = mx_error(MX_ERR_INVALID, "%s: the network has several label inputs; one loss layer is supported", c->path);
		goto done;
	}
	if (n_labels == 1)
		names[1] = b.label_name = b.g->nodes[labels[0]].name;
	if (!opt->inference && (rc = graph_build_backward(b.g)))
		goto done;
	if (!(b.eng = engine_create(ENGINE_NAIVE, b.threads))) {
		rc = MX_ERR_NOMEM;
		goto done;
	}
	if ((rc = executor_bind(b.g, b.eng, MX_CPU, names, shapes, b.label_name ? 2 : 1, !opt->inference, NULL,
				&b.op_rng, &b.ex)))
		goto done;
	if ((rc = fill_inputs(&b)) || (!opt->inference && (rc = updater_create(&b.solver, b.g, b.ex, b.eng,
							   (int)executor_var(b.ex, "data")->shape.dim[0], 1000, &b.upd))))
		goto done;
	b.profile = calloc(b.g->n_nodes, sizeof *b.profile);
	for (int k = 0; k < 4; k++)
		b.phase[k] = calloc(opt->iters, sizeof *b.phase[k]);
	if (!b.profile || !b.phase[0] || !b.phase[1] || !b.phase[2] || !b.phase[3]) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}

	if (opt->sgemm_reps > 0) {
		openblas_set_num_threads(1);
		sgemm1 = timing_sgemm_gflops(1024, opt->sgemm_reps);
		openblas_set_num_threads(b.threads);
		sgemm_n = b.threads == 1 ? sgemm1 : timing_sgemm_gflops(1024, opt->sgemm_reps);
	}
	/* The trainer's thread policy: operators split over the pool, OpenBLAS single-threaded. */
	openblas_set_num_threads(1);
	if (!(b.pool = threadpool_create(b.threads))) {
		rc = mx_error(MX_ERR_NOMEM, "cannot start %d threads", b.threads);
		goto done;
	}
	executor_set_threadpool(b.ex, b.pool);
	for (int r = 0; r < opt->warmup; r++)
		if ((rc = step(&b, opt->inference, NULL)))
			goto done;
	executor_set_profile(b.ex, b.profile);
	for (int r = 0; r < opt->iters; r++) {
		double t[4];
		if ((rc = step(&b, opt->inference, t)))
			goto done;
		for (int k = 0; k < 4; k++)
			b.phase[k][r] = t[k];
	}
	executor_set_profile(b.ex, NULL);
	report(&b, c, opt, &shapes[0], sgemm1, sgemm_n, out);
	fflush(out);
done:
	bench_free(&b);
	return rc;
}
