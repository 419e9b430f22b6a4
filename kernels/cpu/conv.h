/* conv.h: CPU kernels for convolution (im2col/col2im around OpenBLAS sgemm) and pooling,
 * on NC(D)HW float32 arrays; 1-D and 2-D layers use the same code with leading spatial
 * dimensions of size 1.
 *
 * Like kernels.h, these never allocate or fail: the operator files (src/net/op_conv.c,
 * op_pool.c) check shapes and parameters, and hand convolution a scratch buffer of
 * cpu_conv_scratch_bytes() (their ctx->workspace, or cpu_conv_scratch()'s per-thread one).
 * `accumulate` is 0 to overwrite the result, 1 to add to it. Results must not overlap
 * their sources. */
#ifndef MX_KERNELS_CPU_CONV_H
#define MX_KERNELS_CPU_CONV_H

#include <stddef.h>
#include <stdint.h>

/* One convolution's geometry. Spatial arrays are (depth, height, width): a 2-D layer has
 * depth 1 (kernel 1, stride 1, pad 0, dilate 1), a 1-D layer also height 1.
 * Images are independent, so a batch may be split (across threads, say): images
 * [n0, n1) are this geometry with batch n1 - n0 and the image arrays offset by n0 images;
 * the parts' weight and bias gradients then add up (the accumulate flags). */
struct cpu_conv_shape {
	int64_t batch, channels, filters, groups;
	int64_t in[3], out[3];
	int64_t kernel[3], stride[3], pad[3], dilate[3];
};

/* Bytes of scratch cpu_conv_forward and cpu_conv_backward need for this geometry; 0 when
 * they need none (a 1x1, stride 1, unpadded convolution of images large enough to take
 * one at a time). */
size_t cpu_conv_scratch_bytes(const struct cpu_conv_shape *s);

/* A grow-only scratch buffer of at least `bytes`, one per thread, kept until the thread
 * exits (then freed). Valid until this thread's next call. NULL when out of memory.
 * For callers without a workspace (op_ctx.workspace NULL or too small): benchmarks,
 * tests, and several threads each convolving part of a batch. */
float *cpu_conv_scratch(size_t bytes);

/* A second grow-only buffer of this thread's, apart from cpu_conv_scratch's, with the same
 * rules: for what a caller keeps across a threadpool_run whose pieces (some on the calling
 * thread) take cpu_conv_scratch, such as the pieces' partial weight gradients. */
float *cpu_conv_partials(size_t bytes);

/* y (N, K, out) = conv(x (N, C, in), w (K, C/groups, kernel)) + b (K); b may be NULL.
 * scratch: cpu_conv_scratch_bytes(s) bytes (may be NULL when that is 0). */
void cpu_conv_forward(const struct cpu_conv_shape *s, const float *x, const float *w,
		      const float *b, float *y, int accumulate, float *scratch);

/* From dy (N, K, out): dx (N, C, in), dw (K, C/groups, kernel) and db (K); each may be
 * NULL (not wanted), each with its own accumulate flag. x is read only for dw, w only
 * for dx (either may be NULL when not needed). scratch as for cpu_conv_forward. */
void cpu_conv_backward(const struct cpu_conv_shape *s, const float *x, const float *w,
		       const float *dy, float *dx, int acc_dx, float *dw, int acc_dw,
		       float *db, int acc_db, float *scratch);

/* ---- pool.c ---- */

enum cpu_pool_type { CPU_POOL_MAX, CPU_POOL_AVG, CPU_POOL_SUM, CPU_POOL_LP };

/* One pooling's geometry, spatial arrays as in cpu_conv_shape. Windows start at
 * o * stride - pad and may reach past the padded input (pooling_convention full). */
struct cpu_pool_shape {
	int64_t batch, channels;
	int64_t in[3], out[3];
	int64_t kernel[3], stride[3], pad[3];
	enum cpu_pool_type type;
	int count_include_pad; /* avg: divide by the window clipped to the padded input
	                          (1) or to the input (0) */
	int p_value;           /* lp: 1, 2 or 3 */
};

/* y (N, C, out) = pool(x (N, C, in)), as MXNet 1.9.1 computes it on the CPU: max ignores
 * padding (a window holding no input gives -FLT_MAX), avg and sum count padding as 0,
 * lp is (sum x^p)^(1/p). */
void cpu_pool_forward(const struct cpu_pool_shape *s, const float *x, float *y, int accumulate);

/* dx (N, C, in) from dy (N, C, out) and x: max routes each window's gradient to its
 * first maximum (in row-major order, as MXNet), avg and sum spread it over the window,
 * lp multiplies it by (x / y)^(p-1), recomputing y from x (0 where y is 0). x is not
 * read for avg and sum (may be NULL). */
void cpu_pool_backward(const struct cpu_pool_shape *s, const float *x, const float *dy,
		       float *dx, int accumulate);

#endif
