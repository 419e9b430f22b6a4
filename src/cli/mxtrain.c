/* mxtrain.c: the trainer's command line: mxtrain [options] net.conf [key=value ...]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		"  -q, --quiet   no Speed lines and no info messages: epoch summaries and errors only\n"
		"  -v, --verbose print debug messages\n"
		"  -h, --help    show this help\n"
		"  --version     print the version\n"
		"\n"
		"Overrides use dotted paths: solver.num_epoch=1 data.train.batch_size=64 net.fc1.num_hidden=512\n");
}

int main(int argc, char **argv)
{
	struct trainer_options opt = {0};
	const char *conf_path = NULL;
	const char **overrides = calloc(argc, sizeof *overrides);
	struct mx_conf *conf = NULL;
	struct timing_options timing = {.iters = 10, .warmup = 2, .sgemm_reps = 5};
	int n_over = 0, rc, time_mode = 0, plan_mode = 0, graph_mode = 0;

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
		rc = plan_mode ? report_plan(conf, stdout)
		     : graph_mode ? report_graph(conf, graph_mode == 2, stdout)
		     : time_mode ? timing_run(conf, &timing, stdout) : trainer_run(conf, &opt);
	if (rc)
		fprintf(stderr, "mxtrain: %s\n", mx_error_message());
	conf_free(conf);
	free(overrides);
	return rc ? 2 : 0;
}
