/* mxtrain.c: the trainer's command line: mxtrain [options] net.conf [key=value ...]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "data/iter.h"
#include "error.h"
#include "log.h"
#include "mxtrain.h"
#include "net/conf.h"
#include "net/timing.h"
#include "net/report.h"
#include "net/trainer.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mxtrain [options] net.conf [section.key=value ...]\n"
		"Trains the network that net.conf describes (see mxtrain.conf(5)).\n"
		"\n"
		"options:\n"
		"  --resume      continue from the newest complete checkpoint in model.dir\n"
		"  --time        do not train: time forward, backward and update per layer on random\n"
		"                inputs of data.train's shapes (like `caffe time`), print a table\n"
		"  --time-inference  the same for the forward pass of a prediction binding\n"
		"  --time-iters N    timed iterations (default 10)\n"
		"  --time-warmup N   untimed iterations first (default 2)\n"
		"  --plan        do not train: print the memory the network needs (training and\n"
		"                inference, each sharing strategy), ending in `plan ...` lines\n"
		"  --graph       do not train: write the forward graph as Graphviz dot\n"
		"  --graph-backward  the same with the backward graph\n"
		"  --test-io     do not train: run data.train's iterator alone for solver.num_epoch\n"
		"                epochs and print images/s per epoch, then the peak memory and the\n"
		"                prefetch queue's bound on one `test-io ...` line\n"
		"  -q, --quiet   no Speed lines and no info messages: epoch summaries and errors only\n"
		"  -v, --verbose print debug messages\n"
		"  -h, --help    show this help\n"
		"  --version     print the version\n"
		"\n"
		"Overrides use dotted paths: solver.num_epoch=1 data.train.batch_size=64 net.fc1.num_hidden=512\n");
}

static const char *section_value(const struct conf_section *s, const char *key)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].value;
	return "?";
}

/* CPU seconds the process has used so far: user + system time of all its threads. */
static double cpu_seconds(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) {
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru))
			return 0;
		return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
	}
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The process's peak resident memory in MB: VmHWM of /proc/self/status, or getrusage's
 * maximum where there is no /proc. */
static double peak_rss_mb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	if (kb < 0) {
		struct rusage ru;
		kb = getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_maxrss;
	}
	return kb / 1024.0;
}

/* --test-io: runs data.train's iterator through solver.num_epoch epochs with nothing
 * behind it (no graph is built and no weights are allocated), as cxxnet's test_io did,
 * and prints a line per epoch and one `test-io key=value ...` line at the end. Images
 * are real examples (padding rows are not counted), so images = examples per epoch x
 * epochs. CPU time is the whole process's (user + system, every thread) over the same
 * spans as the wall clock: each epoch, and all epochs (cpu_seconds). Returns MX_OK or the
 * iterator's error. */
static int test_io(const struct mx_conf *c, FILE *out)
{
	struct solver_param solver;
	struct data_iter *it = NULL;
	struct data_batch b;
	struct mx_shape ds, ls;
	long batches = 0, images = 0;
	double t0, open_seconds, seconds = 0, cpu = 0, batch_mb, queue_mb;
	int rc, prefetch;

	param_defaults(solver_params, &solver);
	if ((rc = conf_apply_section(&c->solver, "solver", solver_params, &solver)))
		return rc;
	if (!c->train.present)
		return mx_error(MX_ERR_INVALID, "%s: no data.train section", c->path);
	t0 = mx_now_seconds();
	if ((rc = trainer_open_iter(&c->train, "data.train", &it)))
		return rc;
	open_seconds = mx_now_seconds() - t0;
	ds = iter_data_shape(it);
	ls = iter_label_shape(it);
	batch_mb = (double)(shape_size(&ds) + shape_size(&ls)) * sizeof(float) / (1 << 20);
	prefetch = iter_prefetch_buffer(it);
	/* the batches waiting in the queue and the one the caller holds */
	queue_mb = (prefetch > 0 ? prefetch + 1 : 1) * batch_mb;
	for (int epoch = 0; epoch < solver.num_epoch; epoch++) {
		long epoch_batches = 0, epoch_images = 0;
		double t = mx_now_seconds(), c = cpu_seconds(), dt, dc;
		if ((rc = iter_reset(it, epoch)))
			goto done;
		while ((rc = iter_next(it, &b)) == MX_OK) {
			epoch_batches++;
			epoch_images += iter_batch_size(it) - b.pad;
		}
		if (rc != MX_END)
			goto done;
		rc = MX_OK;
		dt = mx_now_seconds() - t;
		dc = cpu_seconds() - c;
		fprintf(out, "Epoch[%d] test-io: %ld images in %ld batches, %.3f s, %.1f images/sec, %.3f s CPU\n",
			epoch, epoch_images, epoch_batches, dt, dt > 0 ? epoch_images / dt : 0.0, dc);
		fflush(out);
		batches += epoch_batches;
		images += epoch_images;
		seconds += dt;
		cpu += dc;
	}
	fprintf(out,
		"test-io iter=%s epochs=%d batches=%ld images=%ld seconds=%.3f images_per_sec=%.1f cpu_seconds=%.3f "
		"open_seconds=%.3f batch_mb=%.3f prefetch_buffer=%d queue_mb=%.3f peak_rss_mb=%.1f\n",
		section_value(&c->train, "iter"), solver.num_epoch, batches, images, seconds,
		seconds > 0 ? images / seconds : 0.0, cpu, open_seconds, batch_mb, prefetch, queue_mb, peak_rss_mb());
done:
	iter_free(it);
	return rc;
}

int main(int argc, char **argv)
{
	struct trainer_options opt = {0};
	const char *conf_path = NULL;
	const char **overrides = calloc(argc, sizeof *overrides);
	struct mx_conf *conf = NULL;
	struct timing_options timing = {.iters = 10, .warmup = 2, .sgemm_reps = 5};
	int n_over = 0, rc, time_mode = 0, plan_mode = 0, graph_mode = 0, io_mode = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("mxtrain %s\n", mxtrain_version);
			return 0;
		} else if (!strcmp(a, "--resume")) {
			opt.resume = 1;
		} else if (!strcmp(a, "--plan")) {
			plan_mode = 1;
		} else if (!strcmp(a, "--test-io")) {
			io_mode = 1;
		} else if (!strcmp(a, "--graph") || !strcmp(a, "--graph-backward")) {
			graph_mode = strcmp(a, "--graph") ? 2 : 1;
		} else if (!strcmp(a, "--time") || !strcmp(a, "--time-inference")) {
			time_mode = 1;
			timing.inference = !strcmp(a, "--time-inference");
		} else if (!strcmp(a, "--time-iters") || !strcmp(a, "--time-warmup")) {
			int is_iters = !strcmp(a, "--time-iters");
			char *end = NULL;
			long x = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
			if (i + 1 >= argc || *end || x < is_iters || x > 1000000) {
				fprintf(stderr, "mxtrain: %s needs a count from %d to 1000000\n", a, is_iters);
				return 2;
			}
			*(is_iters ? &timing.iters : &timing.warmup) = (int)x;
			i++;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			opt.quiet = 1;
			mx_log_set_level(MX_LOG_WARN);
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			mx_log_set_level(MX_LOG_DEBUG);
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "mxtrain: unknown option %s (try --help)\n", a);
			return 2;
		} else if (strchr(a, '=')) {
			overrides[n_over++] = a;
		} else if (!conf_path) {
			conf_path = a;
		} else {
			fprintf(stderr, "mxtrain: more than one conf file (%s, %s); overrides are key=value\n", conf_path, a);
			return 2;
		}
	}
	if (!conf_path) {
		usage(stderr);
		return 2;
	}
	rc = conf_load(conf_path, overrides, n_over, &conf);
	if (!rc)
		rc = io_mode ? test_io(conf, stdout)
		     : plan_mode ? report_plan(conf, stdout)
		     : graph_mode ? report_graph(conf, graph_mode == 2, stdout)
		     : time_mode ? timing_run(conf, &timing, stdout) : trainer_run(conf, &opt);
	if (rc)
		fprintf(stderr, "mxtrain: %s\n", mx_error_message());
	conf_free(conf);
	free(overrides);
	return rc ? 2 : 0;
}
