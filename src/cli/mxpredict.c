/* mxpredict.c: batch inference from a checkpoint (ours or MXNet 1.x's) over an idx image
 * file, writing index, top-k classes and probabilities as CSV. */
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/iter.h"
#include "engine/engine.h"
#include "engine/threadpool.h"
#include "fileio.h"
#include "log.h"
#include "mxtrain.h"
#include "net/checkpoint.h"
#include "net/executor.h"
#include "net/symbol_json.h"

struct predict_options {
	const char *model;   /* checkpoint prefix: dir/prefix */
	int epoch;           /* -1: the newest */
	const char *image, *label, *output;
	int top_k, batch_size, threads;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mxpredict --model PREFIX [--epoch N] --image FILE [--label FILE]\n"
		"                 [--output FILE] [--top-k K] [--batch-size N] [--threads N]\n"
		"Runs the checkpoint PREFIX-symbol.json + PREFIX-NNNN.params over an idx image file\n"
		"(raw or .gz) and writes CSV: index, the top-k classes, their probabilities.\n"
		"With --label, prints accuracy=<top-1 accuracy>. See mxpredict(1).\n");
}

/* The newest epoch N with PREFIX-NNNN.params, or -1; PREFIX may hold a directory. */
static int newest_params(const char *model)
{
	char dir[1024];
	const char *slash = strrchr(model, '/');
	if (!slash)
		return checkpoint_newest(".", model, "params", NULL);
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - model), model);
	return checkpoint_newest(dir[0] ? dir : "/", slash + 1, "params", NULL);
}

static int predict(const struct predict_options *o)
{
	char path[1200];
	struct graph *full = NULL, *g = NULL;
	struct engine *eng = NULL;
	struct data_iter *it = NULL;
	struct executor *ex = NULL;
	struct mx_rng rng;
	struct mx_threadpool *pool = NULL;
	FILE *out = stdout;   /* or output.f */
	struct file_writer output = {0};
	const char *keys[8], *values[8];
	char bs[32];
	int n = 0, rc, epoch = o->epoch, labels[4], n_labels;
	long correct = 0, total = 0, index = 0;

	snprintf(path, sizeof path, "%s-symbol.json", o->model);
	if ((rc = symbol_json_load(path, &full)))
		return rc;
	if (!(g = graph_prune(full, full->heads, full->n_heads))) {
		rc = MX_ERR_NOMEM;
		goto done;
	}
	if (epoch < 0 && (epoch = newest_params(o->model)) < 0) {
		rc = mx_error(MX_ERR_IO, "%s-NNNN.params: no parameter file found", o->model);
		goto done;
	}
	snprintf(bs, sizeof bs, "%d", o->batch_size);
	keys[n] = "image", values[n++] = o->image;
	if (o->label)
		keys[n] = "label", values[n++] = o->label;
	keys[n] = "batch_size", values[n++] = bs;
	if ((rc = iter_create("mnist", keys, values, NULL, n, "input", &it)))
		goto done;
	if (!(eng = engine_create(ENGINE_NAIVE, o->threads))) {
		rc = MX_ERR_NOMEM;
		goto done;
	}
	rng_seed(&rng, 0);
	{
		const char *names[2] = {"data", NULL};
		struct mx_shape shapes[2] = {iter_data_shape(it), iter_label_shape(it)};
		n_labels = graph_list_vars(g, NODE_LABEL, labels, 4);
		if (n_labels > 0)
			names[1] = g->nodes[labels[0]].name;
		if ((rc = executor_bind(g, eng, MX_CPU, names, shapes, n_labels > 0 ? 2 : 1, 0, NULL, &rng, &ex)))
			goto done;
	}
	if (!(pool = threadpool_create(o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN)))) {
		rc = mx_error(MX_ERR_NOMEM, "cannot start threads");
		goto done;
	}
	executor_set_threadpool(ex, pool);
	snprintf(path, sizeof path, "%s-%04d.params", o->model, epoch);
	if ((rc = checkpoint_load_params(path, g, ex)))
		goto done;
	if (o->output) {
		if ((rc = file_writer_open(&output, o->output, "w")))
			goto done;
		out = output.f;
	}
	{
		struct mx_tensor *prob = executor_output(ex, 0);
		int classes = prob->shape.ndim >= 2 ? (int)(shape_size(&prob->shape) / prob->shape.dim[0]) : 1;
		int k = o->top_k < classes ? o->top_k : classes;
		struct data_batch b;
		fprintf(out, "index");
		for (int j = 0; j < k; j++)
			fprintf(out, ",class%d", j + 1);
		for (int j = 0; j < k; j++)
			fprintf(out, ",prob%d", j + 1);
		fputc('\n', out);
		if ((rc = iter_reset(it, 0)))
			goto done;
		while ((rc = iter_next(it, &b)) == MX_OK) {
			int rows = (int)b.data->shape.dim[0] - b.pad;
			tensor_copy(executor_var(ex, "data"), b.data);
			if ((rc = executor_forward(ex, 0)) || (rc = engine_wait_all(eng)))
				goto done;
			for (int r = 0; r < rows; r++, index++) {
				const float *p = tensor_f32(prob) + (size_t)r * classes;
				int top[64];
				for (int j = 0; j < k; j++) {
					int best = -1;
					for (int c = 0; c < classes; c++) {
						int used = 0;
						for (int q = 0; q < j; q++)
							used |= top[q] == c;
						if (!used && (best < 0 || p[c] > p[best]))
							best = c;
					}
					top[j] = best;
				}
				fprintf(out, "%ld", index);
				for (int j = 0; j < k; j++)
					fprintf(out, ",%d", top[j]);
				for (int j = 0; j < k; j++)
					fprintf(out, ",%.6f", p[top[j]]);
				fputc('\n', out);
				if (o->label) {
					correct += top[0] == (int)tensor_f32(b.label)[r];
					total++;
				}
			}
		}
		if (rc != MX_END)
			goto done;
		rc = MX_OK;
	}
	if (o->output) {
		if ((rc = file_writer_commit(&output)))
			goto done;
	}
	if (o->label)
		printf("accuracy=%f\n", total ? (double)correct / total : 0.0);
done:
	file_writer_abort(&output);
	executor_free(ex);
	iter_free(it);
	if (eng)
		engine_free(eng);
	threadpool_free(pool);
	graph_free(g);
	graph_free(full);
	return rc;
}

int main(int argc, char **argv)
{
	struct predict_options o = {.epoch = -1, .top_k = 5, .batch_size = 100};
	int rc;
	mx_log_set_program("mxpredict");
	mx_log_set_level(MX_LOG_WARN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("mxpredict %s\n", mxtrain_version);
			return 0;
		}
		if (!v) {
			fprintf(stderr, "mxpredict: %s needs a value (try --help)\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--model"))
			o.model = v;
		else if (!strcmp(a, "--image"))
			o.image = v;
		else if (!strcmp(a, "--label"))
			o.label = v;
		else if (!strcmp(a, "--output"))
			o.output = v;
		else if (!strcmp(a, "--epoch") || !strcmp(a, "--top-k") || !strcmp(a, "--batch-size") ||
			 !strcmp(a, "--threads")) {
			long x = strtol(v, &end, 10);
			if (*end || x < (strcmp(a, "--epoch") ? 1 : 0) || x > 1000000) {
				fprintf(stderr, "mxpredict: %s: \"%s\" is not a valid number\n", a, v);
				return 2;
			}
			if (!strcmp(a, "--epoch"))
				o.epoch = (int)x;
			else if (!strcmp(a, "--top-k"))
				o.top_k = (int)(x > 64 ? 64 : x);
			else if (!strcmp(a, "--batch-size"))
				o.batch_size = (int)x;
			else
				o.threads = (int)x;
		} else {
			fprintf(stderr, "mxpredict: unknown option %s (try --help)\n", a);
			return 2;
		}
	}
	if (!o.model || !o.image) {
		fprintf(stderr, "mxpredict: --model and --image are required (try --help)\n");
		return 2;
	}
	openblas_set_num_threads(1); /* operators split their work over the pool instead */
	rc = predict(&o);
	if (rc)
		fprintf(stderr, "mxpredict: %s\n", mx_error_message());
	return rc ? 2 : 0;
}
