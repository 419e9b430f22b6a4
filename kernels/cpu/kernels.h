/* kernels.h: the CPU compute kernels behind the operators (OpenBLAS sgemm, elementwise
 * loops, softmax). They work on plain float32 arrays and never allocate or fail; the
 * operator files (src/net/op_*.c) check shapes and unpack tensors before calling them.
 *
 * Every kernel that writes a result takes `accumulate`: 0 overwrites dst, 1 adds to it
 * (an op's OP_REQ_WRITE/INPLACE versus OP_REQ_ADD). Unless a kernel says otherwise, dst
 * may be the same array as a source (in-place), but must not partly overlap it. */
#ifndef MX_KERNELS_CPU_H
#define MX_KERNELS_CPU_H

#include <stdint.h>

#include "rng.h"

/* ---- blas.c: fully connected layers on row-major matrices ---- */

/* y (n, m) = x (n, k) . w (m, k)^T + b (m); b may be NULL (no bias).
 * y must not overlap x or w. */
void cpu_fc_forward(const float *x, const float *w, const float *b, float *y,
		    int64_t n, int64_t k, int64_t m, int accumulate);
/* dx (n, k) = dy (n, m) . w (m, k). */
void cpu_fc_backward_data(const float *dy, const float *w, float *dx,
			  int64_t n, int64_t k, int64_t m, int accumulate);
/* dw (m, k) = dy (n, m)^T . x (n, k). */
void cpu_fc_backward_weight(const float *dy, const float *x, float *dw,
			    int64_t n, int64_t k, int64_t m, int accumulate);
/* Rows [a, b) of the weight gradient only (threads split the output features). */
void cpu_fc_backward_weight_rows(const float *dy, const float *x, float *dw, int64_t n, int64_t k, int64_t m,
				 int64_t a, int64_t b, int accumulate);
/* db (m) = sum over rows of dy (n, m). */
void cpu_sum_rows(const float *dy, float *db, int64_t n, int64_t m, int accumulate);

/* ---- elemwise.c: elementwise loops ---- */

/* dst = src (a no-op when they are the same array), or dst += src. */
void cpu_assign(float *dst, const float *src, int64_t n, int accumulate);
/* dst = a + b, or dst += a + b. */
void cpu_add(float *dst, const float *a, const float *b, int64_t n, int accumulate);
/* dst = a * b, or dst += a * b. */
void cpu_mul(float *dst, const float *a, const float *b, int64_t n, int accumulate);

/* Activations: forward y = f(x); backward dx = dy * f'(x), written from y alone
 * (relu: y > 0; sigmoid: y(1-y); tanh: 1-y^2; softrelu: 1-exp(-y); softsign: (1-|y|)^2).
 * dx may share dy's memory. */
enum cpu_act { CPU_ACT_RELU, CPU_ACT_SIGMOID, CPU_ACT_TANH, CPU_ACT_SOFTRELU, CPU_ACT_SOFTSIGN };
void cpu_act_forward(enum cpu_act act, const float *x, float *y, int64_t n, int accumulate);
void cpu_act_backward(enum cpu_act act, const float *y, const float *dy, float *dx, int64_t n,
		      int accumulate);

/* Inverted dropout mask: mask[i] = 1/(1-p) when the i-th rng_uniform() draw (in element
 * order) is below 1-p, else 0. Advances rng by exactly n draws. */
void cpu_dropout_mask(float *mask, int64_t n, float p, struct mx_rng *rng);

/* ---- softmax.c ---- */

/* Softmax of rows x rows of `classes` entries, the classes `stride` floats apart and
 * rows laid out as MXNet's (outer, classes, inner) block: row r = (o, i) starts at
 * o * classes * inner + i, stride = inner. For a plain (rows, classes) matrix use
 * outer = rows, inner = 1. y may be x. */
void cpu_softmax(const float *x, float *y, int64_t outer, int64_t classes, int64_t inner);
/* SoftmaxOutput's gradient in the same layout: dx = (y - target) * scale, where target
 * is one-hot of label (row r's label is label[o * inner + i]) smoothed by alpha
 * (the label's class gets 1 - alpha, each other class alpha / (classes - 1)), times
 * ograd elementwise when ograd is not NULL. Rows whose label equals ignore (compared as
 * integers, when use_ignore) get zero. Labels must lie in [0, classes) (the caller checks).
 * dx may be y. */
void cpu_softmax_output_grad(const float *y, const float *label, const float *ograd, float *dx,
			     int64_t outer, int64_t classes, int64_t inner, float scale,
			     float alpha, int use_ignore, float ignore, int accumulate);

#endif
