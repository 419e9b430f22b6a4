/* conv.c: convolution on the CPU as large OpenBLAS sgemm calls around im2col/col2im.
 *
 * A chunk of `nb` images is unfolded into one column matrix col (C*kernel, nb*P), P the
 * output pixels of one image, image i's pixels in columns [i*P, (i+1)*P). Then per group
 *     forward          yT (K, nb*P)      = W (K, C*kernel) . col
 *     backward weight  dW (K, C*kernel) += dyT (K, nb*P) . col^T
 *     backward data    dcol              = W^T . dyT,  then col2im adds dcol into dx
 * yT/dyT are (K, nb*P): they differ from y's (N, K, P) layout, so they are copied out/in
 * (bias added, bias gradient summed on the way). With nb = 1 that copy is not needed and
 * the GEMMs work on y and dy directly; a 1x1, stride 1, unpadded convolution then needs
 * no im2col either. nb is chosen so that the GEMMs are wide (small images are batched,
 * where per-image GEMMs of a few dozen columns run far below the machine's sgemm rate)
 * and the scratch stays within a few MB (see conv_chunk). */
#include "cpu/conv.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Columns (images x output pixels) to aim for per GEMM, forward and backward, and the
 * scratch a chunk may take unless one image alone needs more. Measured on LeNet's and
 * VGG's layers (issue 4): forward gains from batching small images (the weights are
 * packed once per chunk, and the GEMMs get wide enough to split across threads), while
 * backward is fastest one image at a time, its data gradient staying in cache for
 * col2im, unless the images are tiny. */
#ifndef CONV_FORWARD_COLUMNS /* benchmarks may set these */
#define CONV_FORWARD_COLUMNS 512
#endif
#ifndef CONV_BACKWARD_COLUMNS
#define CONV_BACKWARD_COLUMNS 64
#endif
#ifndef CONV_SCRATCH_BUDGET
#define CONV_SCRATCH_BUDGET (8u << 20)
#endif

/* ---------------------------------------------------------------- scratch */

/* Two grow-only buffers per thread: im2col's scratch, and the partial sums a caller keeps
 * while its own thread also runs pieces that use the first. */
struct thread_buffer {
	float *buf;
	size_t cap;
};

static pthread_key_t buffer_key[2];
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static __thread struct thread_buffer buffers[2];

static void buffer_keys_make(void)
{
	pthread_key_create(&buffer_key[0], free);
	pthread_key_create(&buffer_key[1], free);
}

static float *thread_buffer(int slot, size_t bytes)
{
	struct thread_buffer *b = &buffers[slot];
	if (bytes <= b->cap)
		return b->buf;
	pthread_once(&buffer_once, buffer_keys_make);
	/* grow by half again, so a sequence of slightly larger layers does not realloc each time */
	if (bytes < b->cap + b->cap / 2)
		bytes = b->cap + b->cap / 2;
	free(b->buf);
	b->buf = malloc(bytes);
	b->cap = b->buf ? bytes : 0;
	/* the key's destructor frees the buffer when the thread exits */
	pthread_setspecific(buffer_key[slot], b->buf);
	return b->buf;
}

float *cpu_conv_scratch(size_t bytes) { return thread_buffer(0, bytes); }

float *cpu_conv_partials(size_t bytes) { return thread_buffer(1, bytes); }

/* ---------------------------------------------------------------- geometry */

static int64_t spatial(const int64_t *d) { return d[0] * d[1] * d[2]; }

static int is_pointwise(const struct cpu_conv_shape *s)
{
	for (int i = 0; i < 3; i++)
		if (s->kernel[i] != 1 || s->stride[i] != 1 || s->pad[i] != 0)
			return 0;
	return 1;
}

/* Images per chunk for GEMMs about `columns` wide. */
static int64_t conv_chunk(const struct cpu_conv_shape *s, int64_t columns)
{
	int64_t P = spatial(s->out), rows = s->channels * spatial(s->kernel);
	int64_t nb = (columns + P - 1) / P;
	if (nb > s->batch)
		nb = s->batch;
	while (nb > 1 && (size_t)(rows + s->filters) * nb * P * sizeof(float) > CONV_SCRATCH_BUDGET)
		nb--;
	return nb < 1 ? 1 : nb;
}

static size_t chunk_scratch_bytes(const struct cpu_conv_shape *s, int64_t nb)
{
	int64_t P = spatial(s->out), rows = s->channels * spatial(s->kernel);
	if (nb == 1)
		return is_pointwise(s) ? 0 : (size_t)rows * P * sizeof(float);
	return (size_t)(rows + s->filters) * nb * P * sizeof(float);
}

size_t cpu_conv_scratch_bytes(const struct cpu_conv_shape *s)
{
	size_t f = chunk_scratch_bytes(s, conv_chunk(s, CONV_FORWARD_COLUMNS));
	size_t b = chunk_scratch_bytes(s, conv_chunk(s, CONV_BACKWARD_COLUMNS));
	return f > b ? f : b;
}

static inline int64_t div_floor(int64_t a, int64_t d) { return a >= 0 ? a / d : -((-a + d - 1) / d); }

/* Output positions o in [0, n_out) whose input o * stride + off lies in [0, n_in):
 * [*lo, *hi). */
static inline void valid_range(int64_t n_out, int64_t n_in, int64_t stride, int64_t off,
			       int64_t *lo, int64_t *hi)
{
	int64_t a, b;
	if (stride == 1) { /* no division: it would cost more than copying a short row */
		a = -off;
		b = n_in - off;
	} else {
		a = -div_floor(off, stride);
		b = div_floor(n_in - 1 - off, stride) + 1;
	}
	a = a < 0 ? 0 : a > n_out ? n_out : a;
	b = b < a ? a : b > n_out ? n_out : b;
	*lo = a;
	*hi = b;
}

/* ---------------------------------------------------------------- short rows */

/* im2col's rows are often short (8 to 56 floats), so the copies below are written with
 * GCC/clang vector types (4 floats: SSE2 on any x86-64, NEON on arm64); at -O2 GCC copies
 * such loops one float at a time. */
typedef float v4f __attribute__((vector_size(16)));

/* GCC turns a copy loop into a call to memcpy, which for rows of 8 to 32 floats costs more
 * than the copy itself (9% of LeNet's second layer). */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_MEMCPY_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_MEMCPY_CALLS
#endif

static inline v4f load4(const float *p)
{
	v4f v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

static inline void copy_floats(float *restrict dst, const float *restrict src, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		store4(dst + i, load4(src + i));
		store4(dst + i + 4, load4(src + i + 4));
	}
	for (; i + 4 <= n; i += 4)
		store4(dst + i, load4(src + i));
	for (; i < n; i++)
		dst[i] = src[i];
}

static inline void add_floats(float *restrict dst, const float *restrict src, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		store4(dst + i, load4(dst + i) + load4(src + i));
		store4(dst + i + 4, load4(dst + i + 4) + load4(src + i + 4));
	}
	for (; i + 4 <= n; i += 4)
		store4(dst + i, load4(dst + i) + load4(src + i));
	for (; i < n; i++)
		dst[i] += src[i];
}

static inline void zero_floats(float *dst, int64_t n)
{
	int64_t i = 0;
	v4f z = {0, 0, 0, 0};
	for (; i + 4 <= n; i += 4)
		store4(dst + i, z);
	for (; i < n; i++)
		dst[i] = 0.0f;
}

/* ---------------------------------------------------------------- im2col, col2im */

/* One spatial window's range over one output plane: rows [h_lo, h_hi) and columns
 * [w_lo, w_hi) of the output read input, the rest read padding. */
struct plane_range {
	int64_t h_lo, h_hi, w_lo, w_hi;
};

/* Unfolds one (Ho, Wo) output plane of one im2col row: dst[oh][ow] = src[oh * sh][ow * sw]
 * for the valid pixels, 0 elsewhere. src points at input row 0 of the plane shifted by the
 * kernel offset: src_off is that shift, taken only inside the valid range (so no pointer
 * ever leaves the input). Kept apart from im2col's loop nest so its few variables stay in
 * registers: the rows are short and loop overhead is most of the cost. */
static NO_MEMCPY_CALLS void im2col_plane(float *restrict dst, const float *restrict src,
					 int64_t src_off, const struct plane_range *r, int64_t Ho,
					 int64_t Wo, int64_t W, int64_t sh, int64_t sw)
{
	const int64_t n = r->w_hi - r->w_lo;
	const float *in;
	if (r->h_lo >= r->h_hi || n <= 0) {
		zero_floats(dst, Ho * Wo);
		return;
	}
	in = src + (r->h_lo * sh * W + src_off + r->w_lo * sw); /* >= 0 in the valid range */
	zero_floats(dst, r->h_lo * Wo);
	dst += r->h_lo * Wo;
	if (sw == 1 && n == Wo && Wo % 4 == 0) {
		/* the common interior case: whole rows of vectors, no remainder loops */
		for (int64_t oh = r->h_lo; oh < r->h_hi; oh++, dst += Wo, in += sh * W)
			for (int64_t i = 0; i < Wo; i += 4)
				store4(dst + i, load4(in + i));
	} else if (sw == 1 && n == Wo) {
		for (int64_t oh = r->h_lo; oh < r->h_hi; oh++, dst += Wo, in += sh * W)
			copy_floats(dst, in, Wo);
	} else {
		for (int64_t oh = r->h_lo; oh < r->h_hi; oh++, dst += Wo, in += sh * W) {
			zero_floats(dst, r->w_lo);
			if (sw == 1)
				copy_floats(dst + r->w_lo, in, n);
			else
				for (int64_t i = 0; i < n; i++)
					dst[r->w_lo + i] = in[i * sw];
			zero_floats(dst + r->w_hi, Wo - r->w_hi);
		}
	}
	zero_floats(dst, (Ho - r->h_hi) * Wo);
}

/* Row r = ((c * kd + a) * kh + b) * kw + e of col (ld floats apart) holds, for every
 * output pixel, the input at kernel offset (a, b, e) of channel c, or 0 in the padding. */
static void im2col(const struct cpu_conv_shape *s, const float *restrict x, float *restrict col,
		   int64_t ld)
{
	const int64_t D = s->in[0], H = s->in[1], W = s->in[2];
	const int64_t Do = s->out[0], Ho = s->out[1], Wo = s->out[2];
	float *row = col;
	for (int64_t c = 0; c < s->channels; c++)
		for (int64_t a = 0; a < s->kernel[0]; a++) {
			int64_t od_lo, od_hi, off_d = a * s->dilate[0] - s->pad[0];
			valid_range(Do, D, s->stride[0], off_d, &od_lo, &od_hi);
			for (int64_t b = 0; b < s->kernel[1]; b++) {
				struct plane_range r;
				int64_t off_h = b * s->dilate[1] - s->pad[1];
				valid_range(Ho, H, s->stride[1], off_h, &r.h_lo, &r.h_hi);
				for (int64_t e = 0; e < s->kernel[2]; e++, row += ld) {
					int64_t off_w = e * s->dilate[2] - s->pad[2];
					valid_range(Wo, W, s->stride[2], off_w, &r.w_lo, &r.w_hi);
					zero_floats(row, od_lo * Ho * Wo);
					for (int64_t od = od_lo; od < od_hi; od++)
						im2col_plane(row + od * Ho * Wo,
							     x + (c * D + od * s->stride[0] + off_d) * H * W,
							     off_h * W + off_w, &r, Ho, Wo, W, s->stride[1],
							     s->stride[2]);
					zero_floats(row + od_hi * Ho * Wo, (Do - od_hi) * Ho * Wo);
				}
			}
		}
}

/* The adjoint of im2col_plane: adds the valid pixels of one plane back into the input. */
static void col2im_plane(float *restrict dst, const float *restrict src, int64_t dst_off,
			 const struct plane_range *r, int64_t Wo, int64_t W, int64_t sh, int64_t sw)
{
	const int64_t n = r->w_hi - r->w_lo;
	float *out;
	if (r->h_lo >= r->h_hi || n <= 0)
		return;
	out = dst + (r->h_lo * sh * W + dst_off + r->w_lo * sw);
	src += r->h_lo * Wo + r->w_lo;
	for (int64_t oh = r->h_lo; oh < r->h_hi; oh++, src += Wo, out += sh * W)
		if (sw == 1)
			add_floats(out, src, n);
		else
			for (int64_t i = 0; i < n; i++)
				out[i * sw] += src[i];
}

/* The adjoint of im2col: adds every entry of col into the input pixel it came from. */
static void col2im(const struct cpu_conv_shape *s, const float *restrict col, int64_t ld,
		   float *restrict x)
{
	const int64_t D = s->in[0], H = s->in[1], W = s->in[2];
	const int64_t Do = s->out[0], Ho = s->out[1], Wo = s->out[2];
	const float *row = col;
	for (int64_t c = 0; c < s->channels; c++)
		for (int64_t a = 0; a < s->kernel[0]; a++) {
			int64_t od_lo, od_hi, off_d = a * s->dilate[0] - s->pad[0];
			valid_range(Do, D, s->stride[0], off_d, &od_lo, &od_hi);
			for (int64_t b = 0; b < s->kernel[1]; b++) {
				struct plane_range r;
				int64_t off_h = b * s->dilate[1] - s->pad[1];
				valid_range(Ho, H, s->stride[1], off_h, &r.h_lo, &r.h_hi);
				for (int64_t e = 0; e < s->kernel[2]; e++, row += ld) {
					int64_t off_w = e * s->dilate[2] - s->pad[2];
					valid_range(Wo, W, s->stride[2], off_w, &r.w_lo, &r.w_hi);
					for (int64_t od = od_lo; od < od_hi; od++)
						col2im_plane(x + (c * D + od * s->stride[0] + off_d) * H * W,
							     row + od * Ho * Wo, off_h * W + off_w, &r, Wo, W,
							     s->stride[1], s->stride[2]);
				}
			}
		}
}

/* ---------------------------------------------------------------- small loops */

/* y = v, or y += v */
static void fill_row(float *restrict y, float v, int64_t n, int accumulate)
{
	v4f b = {v, v, v, v};
	int64_t i = 0;
	if (accumulate)
		for (; i + 4 <= n; i += 4)
			store4(y + i, load4(y + i) + b);
	else
		for (; i + 4 <= n; i += 4)
			store4(y + i, b);
	for (; i < n; i++)
		y[i] = accumulate ? y[i] + v : v;
}

/* y = src + v, or y += src + v */
static void copy_row(float *restrict y, const float *restrict src, float v, int64_t n,
		     int accumulate)
{
	v4f b = {v, v, v, v};
	int64_t i = 0;
	if (accumulate)
		for (; i + 4 <= n; i += 4)
			store4(y + i, load4(y + i) + (load4(src + i) + b));
	else
		for (; i + 4 <= n; i += 4)
			store4(y + i, load4(src + i) + b);
	for (; i < n; i++)
		y[i] = accumulate ? y[i] + (src[i] + v) : src[i] + v;
}

/* Sum in eight lanes: vectorisable without -ffast-math, and more accurate than one. */
static float sum_row(const float *restrict x, int64_t n)
{
	float lane[8] = {0};
	float total = 0.0f;
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			lane[j] += x[i + j];
	for (; i < n; i++)
		total += x[i];
	return total + ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
	       ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* ---------------------------------------------------------------- forward */

void cpu_conv_forward(const struct cpu_conv_shape *s, const float *x, const float *w,
		      const float *b, float *y, int accumulate, float *scratch)
{
	const int64_t P = spatial(s->out), in_size = s->channels * spatial(s->in);
	const int64_t K = s->filters, G = s->groups, Kg = K / G;
	const int64_t rows_g = s->channels / G * spatial(s->kernel);
	const int64_t nb = conv_chunk(s, CONV_FORWARD_COLUMNS);
	const int pointwise = is_pointwise(s);

	for (int64_t n0 = 0; n0 < s->batch; n0 += nb) {
		const int64_t m = s->batch - n0 < nb ? s->batch - n0 : nb; /* images in this chunk */
		const int64_t ld = m * P;
		const float *col = scratch;
		float *out = y + n0 * K * P; /* the GEMM's result: y itself, or yT */
		float beta = 0.0f;
		if (nb == 1 && pointwise)
			col = x + n0 * in_size;
		else
			for (int64_t i = 0; i < m; i++)
				im2col(s, x + (n0 + i) * in_size, scratch + i * P, ld);
		if (nb == 1) {
			if (b) {
				for (int64_t k = 0; k < K; k++)
					fill_row(out + k * P, b[k], P, accumulate);
				beta = 1.0f;
			} else if (accumulate) {
				beta = 1.0f;
			}
		} else {
			out = scratch + (size_t)rows_g * G * nb * P;
		}
		for (int64_t g = 0; g < G; g++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kg, (int)ld, (int)rows_g,
				    1.0f, w + g * Kg * rows_g, (int)rows_g, col + g * rows_g * ld, (int)ld,
				    beta, out + g * Kg * ld, (int)ld);
		if (nb > 1)
			for (int64_t i = 0; i < m; i++)
				for (int64_t k = 0; k < K; k++)
					copy_row(y + ((n0 + i) * K + k) * P, out + k * ld + i * P, b ? b[k] : 0.0f,
						 P, accumulate);
	}
}

/* ---------------------------------------------------------------- backward */

void cpu_conv_backward(const struct cpu_conv_shape *s, const float *x, const float *w,
		       const float *dy, float *dx, int acc_dx, float *dw, int acc_dw,
		       float *db, int acc_db, float *scratch)
{
	const int64_t P = spatial(s->out), in_size = s->channels * spatial(s->in);
	const int64_t K = s->filters, G = s->groups, Kg = K / G;
	const int64_t rows_g = s->channels / G * spatial(s->kernel);
	const int64_t nb = conv_chunk(s, CONV_BACKWARD_COLUMNS);
	const int pointwise = is_pointwise(s);

	if (db) {
		if (!acc_db)
			memset(db, 0, K * sizeof(float));
		for (int64_t n = 0; n < s->batch; n++)
			for (int64_t k = 0; k < K; k++)
				db[k] += sum_row(dy + (n * K + k) * P, P);
	}
	if (!dx && !dw)
		return;
	if (dx && !acc_dx && !(nb == 1 && pointwise))
		memset(dx, 0, s->batch * in_size * sizeof(float)); /* col2im adds */

	for (int64_t n0 = 0; n0 < s->batch; n0 += nb) {
		const int64_t m = s->batch - n0 < nb ? s->batch - n0 : nb;
		const int64_t ld = m * P;
		const float *dyt = dy + n0 * K * P; /* dy as (K, m*P) */
		float *col = scratch;
		if (nb > 1) {
			float *t = scratch + (size_t)rows_g * G * nb * P;
			for (int64_t i = 0; i < m; i++)
				for (int64_t k = 0; k < K; k++)
					copy_floats(t + k * ld + i * P, dy + ((n0 + i) * K + k) * P, P);
			dyt = t;
		}
		if (dw) {
			const float *cx = col;
			float beta = n0 == 0 && !acc_dw ? 0.0f : 1.0f;
			if (nb == 1 && pointwise)
				cx = x + n0 * in_size;
			else
				for (int64_t i = 0; i < m; i++)
					im2col(s, x + (n0 + i) * in_size, col + i * P, ld);
			for (int64_t g = 0; g < G; g++)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Kg, (int)rows_g, (int)ld,
					    1.0f, dyt + g * Kg * ld, (int)ld, cx + g * rows_g * ld, (int)ld,
					    beta, dw + g * Kg * rows_g, (int)rows_g);
		}
		if (dx) {
			if (nb == 1 && pointwise) {
				for (int64_t g = 0; g < G; g++)
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows_g, (int)P,
						    (int)Kg, 1.0f, w + g * Kg * rows_g, (int)rows_g, dyt + g * Kg * P,
						    (int)P, acc_dx ? 1.0f : 0.0f, dx + n0 * in_size + g * rows_g * P,
						    (int)P);
				continue;
			}
			for (int64_t g = 0; g < G; g++)
				cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows_g, (int)ld, (int)Kg,
					    1.0f, w + g * Kg * rows_g, (int)rows_g, dyt + g * Kg * ld, (int)ld,
					    0.0f, col + g * rows_g * ld, (int)ld);
			for (int64_t i = 0; i < m; i++)
				col2im(s, col + i * P, ld, dx + (n0 + i) * in_size);
		}
	}
}
