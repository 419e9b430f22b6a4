/* timing.h: `mxtrain --time`: per-layer forward and backward times of a conf's network on
 * random inputs (as `caffe time`), with each layer's GFLOP, and the machine's measured
 * sgemm rate to read the achieved GFLOP/s against.
 *
 *   struct timing_options o = {.iters = 10, .warmup = 2};
 *   if (timing_run(conf, &o, stdout)) fprintf(stderr, "%s\n", mx_error_message());
 */
#ifndef MX_TIMING_H
#define MX_TIMING_H

#include <stdio.h>

#include "conf.h"
#include "tensor.h"

struct timing_options {
	int iters;      /* timed iterations (>= 1) */
	int warmup;     /* untimed iterations before them (>= 0) */
	int inference;  /* time the forward pass of a prediction binding (no backward, no update) */
	int sgemm_reps; /* timed sgemm calls per thread count; 0: skip the sgemm measurement */
};

/* Builds the conf's network, binds it at data.train's batch size and shapes (for training,
 * unless opt->inference), fills the inputs with random values (labels in range) without
 * reading the dataset, runs opt->warmup then opt->iters iterations of forward, backward and
 * the optimizer's update, and prints to out one row per layer (name, type, output shape,
 * forward and backward ms per batch, forward and backward GFLOP: op->flops, and backward one
 * forward's worth for the weights' gradients plus one for the data's unless the data is the
 * network's input), a total row, then the per-batch wall-clock times, images/sec, the
 * achieved GFLOP/s and the sgemm rate at 1 and at solver.num_threads threads. Sets OpenBLAS's thread count to solver.num_threads.
 * Returns MX_OK, or an error with the message set (a bad key names its file:line). */
int timing_run(const struct mx_conf *c, const struct timing_options *opt, FILE *out);

/* The data and label shapes (batch dimension first) that data section s's iterator would
 * give, found from its keys and, for idx files, their 16-byte headers; only an iterator
 * kind this knows nothing about is opened (and so reads its source). Returns MX_OK, or
 * the error iter_create() would give for the section's keys. */
int timing_input_shapes(const struct conf_section *s, const char *section, struct mx_shape *data,
			struct mx_shape *label);

/* cblas_sgemm's rate at OpenBLAS's current thread count: C = A B with n x n matrices,
 * two untimed calls, then reps timed calls. Returns the median in GFLOP/s (2 n^3 flops a call),
 * or -1 when out of memory. */
double timing_sgemm_gflops(int n, int reps);

#endif
