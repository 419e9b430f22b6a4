/* layers.h: CPU kernels for the layers of convolutional networks: BatchNorm, LRN, the
 * LeakyReLU family, Concat, softmax's backward, and the regression losses.
 *
 * Same rules as kernels.h: plain float32 arrays, no allocation, no failure (the operator
 * files check shapes first), and `accumulate` 0 overwrites dst while 1 adds to it.
 *
 * Channel layouts are MXNet's (outer, channels, inner) blocks: channel c of item o is the
 * contiguous plane x + (o * channels + c) * inner. For NCHW data and axis 1 that is
 * outer = N, inner = H * W; for (N, C) it is inner = 1. */
#ifndef MX_KERNELS_CPU_LAYERS_H
#define MX_KERNELS_CPU_LAYERS_H

#include <stdint.h>

#include "rng.h"

/* ---- BatchNorm ----
 * Each works on channels [c0, c1) only, leaving the others alone (threads split the
 * channels); the per-channel arrays are indexed by channel, for all `channels`. */

/* Per-channel mean and biased variance (sum of squared deviations / (outer * inner)),
 * two passes over each channel's planes. */
void cpu_bn_mean_var(const float *x, float *mean, float *var, int64_t outer, int64_t channels,
		     int64_t inner, int64_t c0, int64_t c1);
/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]; gamma NULL means 1 (fix_gamma).
 * y may be x. */
void cpu_bn_forward(const float *x, float *y, const float *mean, const float *invstd,
		    const float *gamma, const float *beta, int64_t outer, int64_t channels,
		    int64_t inner, int64_t c0, int64_t c1, int accumulate);
/* Gradients of cpu_bn_forward, as MXNet 1.9.1's CPU kernel. With batch_stats (training
 * with batch statistics; mean and invstd are the batch's) the statistics' dependence on x
 * is included:
 *   dx = (dy - mean(dy) - xhat * mean(dy * xhat)) * invstd * gamma,  xhat = (x - mean) * invstd
 * otherwise (global statistics) dx = dy * invstd * gamma. Always
 *   dgamma = sum(dy * xhat), dbeta = sum(dy), over each channel's planes.
 * gamma NULL means 1. dx, dgamma or dbeta NULL: not wanted. dx may be dy (each channel's
 * sums are taken before its dx is written), but must not be x. */
void cpu_bn_backward(const float *x, const float *dy, const float *mean, const float *invstd,
		     const float *gamma, float *dx, float *dgamma, float *dbeta, int64_t outer,
		     int64_t channels, int64_t inner, int64_t c0, int64_t c1, int batch_stats,
		     int acc_dx, int acc_dgamma, int acc_dbeta);

/* ---- LRN (across channels, as MXNet and Caffe) ---- */

/* norm = knorm + alpha / nsize * sum of x^2 over the nsize channels centred on c (nsize
 * odd; missing channels at the edges count as 0), y = x * norm^-beta. norm must not
 * overlap x; y may be x. */
void cpu_lrn_forward(const float *x, float *y, float *norm, int64_t outer, int64_t channels,
		     int64_t inner, int nsize, float alpha, float beta, float knorm, int accumulate);
/* dx = dy * norm^-beta - 2 * beta * alpha / nsize * x * sum over the window of
 * dy * y / norm (y / norm = x * norm^(-beta-1); the window is symmetric, so channel c
 * collects from the channels whose window holds c). y must be the forward's written
 * output. dx must not overlap x, y, dy or norm. */
void cpu_lrn_backward(const float *x, const float *y, const float *norm, const float *dy,
		      float *dx, int64_t outer, int64_t channels, int64_t inner, int nsize,
		      float alpha, float beta, int accumulate);

/* ---- LeakyReLU family ---- */

/* leaky: x > 0 ? x : slope * x;  elu: x > 0 ? x : slope * (e^x - 1);
 * selu: lambda * (x > 0 ? x : alpha * (e^x - 1)) with Klambauer et al.'s constants;
 * gelu: x * Phi(x) (the exact erf form, as MXNet 1.9.1). */
enum cpu_leaky { CPU_LEAKY, CPU_ELU, CPU_SELU, CPU_GELU };
/* y may be x. */
void cpu_leaky_forward(enum cpu_leaky act, const float *x, float *y, int64_t n, float slope,
		       int accumulate);
/* dx = dy * f'(x), from x alone; dx may be dy or x. */
void cpu_leaky_backward(enum cpu_leaky act, const float *x, const float *dy, float *dx,
			int64_t n, float slope, int accumulate);
/* PReLU: y = x > 0 ? x : gamma[c] * x, with one learnable slope per channel (or gamma[0]
 * for every channel when shared). y may be x. */
void cpu_prelu_forward(const float *x, const float *gamma, float *y, int64_t outer,
		       int64_t channels, int64_t inner, int shared, int accumulate);
/* dx = dy * (x > 0 ? 1 : gamma[c]); dgamma[c] = sum of dy * x where x <= 0 (a single sum
 * when shared). dx or dgamma NULL: not wanted. dx may be dy, but must not be x. */
void cpu_prelu_backward(const float *x, const float *gamma, const float *dy, float *dx,
			float *dgamma, int64_t outer, int64_t channels, int64_t inner, int shared,
			int acc_dx, int acc_dgamma);
/* RReLU: y = x > 0 ? x : s * x, where s is drawn uniform in [lower, upper) per element
 * (one rng_uniform() draw per element, in order) when rng is not NULL (training), and
 * s = (lower + upper) / 2 otherwise. y may be x only when accumulate is 0. */
void cpu_rrelu_forward(const float *x, float *y, int64_t n, float lower, float upper,
		       struct mx_rng *rng, int accumulate);
/* dx = dy * (x > 0 ? 1 : y / x): the slope each element was given, read back from the
 * forward's written output, so no mask is kept (0 where x is exactly 0). dx may be dy. */
void cpu_rrelu_backward(const float *x, const float *y, const float *dy, float *dx, int64_t n,
			int accumulate);

/* ---- Concat ---- */

/* Joins n arrays along one axis: input k is `outer` rows of row[k] floats, the output
 * `outer` rows of sum(row) floats (the rows of one outer index side by side). */
void cpu_concat(const float *const *src, const int64_t *row, int n, float *dst, int64_t outer,
		int accumulate);
/* The reverse: dst[k] gets its rows back out of src; dst[k] NULL skips input k, and
 * accumulate[k] says whether input k's rows are added or written. */
void cpu_split(const float *src, float *const *dst, const int64_t *row, const int *accumulate,
	       int n, int64_t outer);

/* ---- softmax along an axis, backward ---- */

/* dx = y * (dy - sum over classes of dy * y), in cpu_softmax's (outer, classes, inner)
 * layout. dx may be dy. */
void cpu_softmax_backward(const float *y, const float *dy, float *dx, int64_t outer,
			  int64_t classes, int64_t inner, int accumulate);

/* ---- regression losses ---- */

/* linear and logistic: dx = (y - label) * scale; mae: dx = sign(y - label) * scale, where
 * the sign of 0 is -1 (MXNet's minus_sign). dx may be y. */
enum cpu_regression { CPU_REG_LINEAR, CPU_REG_LOGISTIC, CPU_REG_MAE };
void cpu_regression_backward(enum cpu_regression kind, const float *y, const float *label,
			     float *dx, int64_t n, float scale, int accumulate);

#endif
