/* pool.c: max, average, sum and Lp pooling on NC(D)HW planes, forward and backward,
 * following MXNet 1.9.1's CPU kernels (src/operator/nn/pool.h) number for number, with a
 * fast path for the 2x2, stride 2 max pooling of most image networks. */
#include "cpu/conv.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* One pooling window along one dimension: output index o covers inputs [*lo, *hi), and
 * *padded is its length cut at the far padding edge, as MXNet counts it for avg with
 * count_include_pad (a window reaching past that edge under pooling_convention full
 * counts only its padded part; one wholly past it counts <= 0 and holds no input). */
static inline void pool_range(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t n,
			      int64_t *lo, int64_t *hi, int64_t *padded)
{
	int64_t start = o * stride - pad, end = start + kernel;
	if (end > n + pad)
		end = n + pad;
	*padded = end - start;
	*lo = start < 0 ? 0 : start;
	*hi = end > n ? n : end;
	if (*hi < *lo)
		*hi = *lo;
}

static inline float pow_p(float v, int p) { return p == 1 ? v : p == 2 ? v * v : v * v * v; }

static inline float root_p(float v, int p) { return p == 1 ? v : p == 2 ? sqrtf(v) : cbrtf(v); }

/* The max of a window (MXNet starts from -FLT_MAX, so an empty window gives -FLT_MAX).
 * The comparison is written for a branch-free max: on random data a branch per input
 * mispredicts often enough to cost more than the rest of the loop. */
static inline float window_max(const float *x, int64_t H, int64_t W, int64_t d0, int64_t d1,
			       int64_t h0, int64_t h1, int64_t w0, int64_t w1)
{
	float m = -FLT_MAX;
	for (int64_t d = d0; d < d1; d++)
		for (int64_t h = h0; h < h1; h++) {
			const float *row = x + (d * H + h) * W;
			for (int64_t i = w0; i < w1; i++)
				m = row[i] > m ? row[i] : m;
		}
	return m;
}

/* The offset of a window's first maximum in the plane, or -1 when it holds no input
 * greater than -inf (where MXNet's backward, which looks for an input equal to the
 * output -FLT_MAX, finds none either). */
static inline int64_t window_argmax(const float *x, int64_t H, int64_t W, int64_t d0, int64_t d1,
				    int64_t h0, int64_t h1, int64_t w0, int64_t w1)
{
	float m = -FLT_MAX;
	int64_t arg = -1;
	for (int64_t d = d0; d < d1; d++)
		for (int64_t h = h0; h < h1; h++) {
			int64_t base = (d * H + h) * W;
			const float *row = x + base;
			for (int64_t i = w0; i < w1; i++) {
				/* >= for the first input only: an input of -FLT_MAX is a maximum. Bit
				 * operations, not branches, as in max_2x2_backward below */
				int64_t better = (row[i] > m) | ((arg < 0) & (row[i] >= m));
				arg ^= (arg ^ (base + i)) & -better;
				m = row[i] > m ? row[i] : m;
			}
		}
	return arg;
}

/* Sum of x^p over a window. */
static inline float window_sum(const float *x, int64_t H, int64_t W, int64_t d0, int64_t d1,
			       int64_t h0, int64_t h1, int64_t w0, int64_t w1, int p)
{
	float sum = 0.0f;
	for (int64_t d = d0; d < d1; d++)
		for (int64_t h = h0; h < h1; h++) {
			const float *row = x + (d * H + h) * W;
			if (p == 1)
				for (int64_t i = w0; i < w1; i++)
					sum += row[i];
			else
				for (int64_t i = w0; i < w1; i++)
					sum += pow_p(row[i], p);
		}
	return sum;
}

/* ---- the 2x2, stride 2 max pooling of most image networks ----
 * Four windows at a time in GCC/clang vector types (SSE2 on any x86-64, NEON on arm64):
 * the eight inputs of a row pair are split into the windows' a b / c d corners with
 * shuffles, the maxima chosen with compare masks, and in backward the gradient is masked
 * into the first maximum's place (row-major order a, b, c, d, as MXNet). No branches
 * depend on the data: on random inputs they mispredict about once per window, which
 * costs more than all the rest. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

#if defined(__clang__)
#define SHUFFLE(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define SHUFFLE(a, b, i, j, k, l) __builtin_shuffle(a, b, (v4i){i, j, k, l})
#endif

static inline v4f load4(const float *p)
{
	v4f v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

/* mask ? a : b, lane by lane */
static inline v4f select4(v4i mask, v4f a, v4f b) { return (v4f)(((v4i)a & mask) | ((v4i)b & ~mask)); }

static inline v4f max4(v4f a, v4f b) { return select4(b > a, b, a); }

static inline float max2(float a, float b) { return b > a ? b : a; }

/* 2x2, stride 2, unpadded max pooling whose windows all lie inside the plane. */
static int is_max_2x2(const struct cpu_pool_shape *s)
{
	return s->type == CPU_POOL_MAX && s->in[0] == 1 && s->kernel[0] == 1 &&
	       s->kernel[1] == 2 && s->kernel[2] == 2 && s->stride[1] == 2 && s->stride[2] == 2 &&
	       s->pad[1] == 0 && s->pad[2] == 0 && 2 * s->out[1] <= s->in[1] &&
	       2 * s->out[2] <= s->in[2];
}

static void max_2x2_forward(const float *restrict x, float *restrict y, int64_t H, int64_t W,
			    int64_t Ho, int64_t Wo, int accumulate)
{
	for (int64_t oh = 0; oh < Ho; oh++, y += Wo) {
		const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
		int64_t ow = 0;
		for (; ow + 4 <= Wo; ow += 4) {
			/* column maxima of the two rows, then of each window's two columns */
			v4f m0 = max4(load4(r0 + 2 * ow), load4(r1 + 2 * ow));
			v4f m1 = max4(load4(r0 + 2 * ow + 4), load4(r1 + 2 * ow + 4));
			v4f v = max4(SHUFFLE(m0, m1, 0, 2, 4, 6), SHUFFLE(m0, m1, 1, 3, 5, 7));
			store4(y + ow, accumulate ? load4(y + ow) + v : v);
		}
		for (; ow < Wo; ow++) {
			float v = max2(max2(r0[2 * ow], r1[2 * ow]), max2(r0[2 * ow + 1], r1[2 * ow + 1]));
			y[ow] = accumulate ? y[ow] + v : v;
		}
	}
}

/* Gradient masks of one window set: lane j of *ka .. *kd is all ones where a, b, c or d
 * is window j's first maximum. */
static inline void first_max4(v4f a, v4f b, v4f c, v4f d, v4i *ka, v4i *kb, v4i *kc, v4i *kd)
{
	v4i tb = b > a, tc, td;
	v4f m = select4(tb, b, a);
	tc = c > m;
	m = select4(tc, c, m);
	td = d > m;
	*kd = td;
	*kc = tc & ~td;
	*kb = tb & ~tc & ~td;
	*ka = ~tb & ~tc & ~td;
}

/* Writes all four inputs of every window (the gradient at the first maximum, 0 at the
 * others), so dx needs no clearing pass; rows and columns no window covers are cleared. */
static void max_2x2_backward(const float *restrict x, const float *restrict dy,
			     float *restrict dx, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
			     int accumulate)
{
	for (int64_t oh = 0; oh < Ho; oh++, dy += Wo) {
		const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
		float *d0 = dx + 2 * oh * W, *d1 = d0 + W;
		int64_t ow = 0;
		for (; ow + 4 <= Wo; ow += 4) {
			int64_t i = 2 * ow;
			v4f x00 = load4(r0 + i), x01 = load4(r0 + i + 4);
			v4f x10 = load4(r1 + i), x11 = load4(r1 + i + 4);
			v4i ka, kb, kc, kd, g = (v4i)load4(dy + ow);
			v4f ga, gb, gc, gd;
			first_max4(SHUFFLE(x00, x01, 0, 2, 4, 6), SHUFFLE(x00, x01, 1, 3, 5, 7),
				   SHUFFLE(x10, x11, 0, 2, 4, 6), SHUFFLE(x10, x11, 1, 3, 5, 7),
				   &ka, &kb, &kc, &kd);
			ga = (v4f)(g & ka), gb = (v4f)(g & kb), gc = (v4f)(g & kc), gd = (v4f)(g & kd);
			/* back to the input's order: a0 b0 a1 b1 | a2 b2 a3 b3 */
			x00 = SHUFFLE(ga, gb, 0, 4, 1, 5), x01 = SHUFFLE(ga, gb, 2, 6, 3, 7);
			x10 = SHUFFLE(gc, gd, 0, 4, 1, 5), x11 = SHUFFLE(gc, gd, 2, 6, 3, 7);
			if (accumulate) {
				x00 += load4(d0 + i), x01 += load4(d0 + i + 4);
				x10 += load4(d1 + i), x11 += load4(d1 + i + 4);
			}
			store4(d0 + i, x00), store4(d0 + i + 4, x01);
			store4(d1 + i, x10), store4(d1 + i + 4, x11);
		}
		for (; ow < Wo; ow++) {
			int64_t i = 2 * ow;
			float a = r0[i], b = r0[i + 1], c = r1[i], d = r1[i + 1], g = dy[ow];
			int k = 0;
			float m = a;
			if (b > m)
				m = b, k = 1;
			if (c > m)
				m = c, k = 2;
			if (d > m)
				k = 3;
			if (!accumulate)
				d0[i] = d0[i + 1] = d1[i] = d1[i + 1] = 0.0f;
			(k == 0 ? d0 + i : k == 1 ? d0 + i + 1 : k == 2 ? d1 + i : d1 + i + 1)[0] += g;
		}
		if (!accumulate)
			for (int64_t i = 2 * Wo; i < W; i++)
				d0[i] = d1[i] = 0.0f;
	}
	if (!accumulate)
		memset(dx + 2 * Ho * W, 0, (H - 2 * Ho) * W * sizeof(float));
}

void cpu_pool_forward(const struct cpu_pool_shape *s, const float *x, float *y, int accumulate)
{
	const int64_t planes = s->batch * s->channels;
	const int64_t in_size = s->in[0] * s->in[1] * s->in[2];
	const int64_t out_size = s->out[0] * s->out[1] * s->out[2];
	if (is_max_2x2(s)) {
		for (int64_t p = 0; p < planes; p++)
			max_2x2_forward(x + p * in_size, y + p * out_size, s->in[1], s->in[2], s->out[1],
					s->out[2], accumulate);
		return;
	}
	for (int64_t p = 0; p < planes; p++) {
		const float *xp = x + p * in_size;
		float *yp = y + p * out_size;
		for (int64_t od = 0; od < s->out[0]; od++) {
			int64_t d0, d1, dn;
			pool_range(od, s->stride[0], s->pad[0], s->kernel[0], s->in[0], &d0, &d1, &dn);
			for (int64_t oh = 0; oh < s->out[1]; oh++) {
				int64_t h0, h1, hn;
				pool_range(oh, s->stride[1], s->pad[1], s->kernel[1], s->in[1], &h0, &h1, &hn);
				for (int64_t ow = 0; ow < s->out[2]; ow++, yp++) {
					int64_t w0, w1, wn;
					float v, area;
					pool_range(ow, s->stride[2], s->pad[2], s->kernel[2], s->in[2], &w0, &w1, &wn);
					switch (s->type) {
					case CPU_POOL_MAX:
						v = window_max(xp, s->in[1], s->in[2], d0, d1, h0, h1, w0, w1);
						break;
					case CPU_POOL_AVG:
						area = (float)(s->count_include_pad ? dn * hn * wn
										    : (d1 - d0) * (h1 - h0) * (w1 - w0));
						v = window_sum(xp, s->in[1], s->in[2], d0, d1, h0, h1, w0, w1, 1);
						v = area > 0 ? v / area : 0.0f;
						break;
					case CPU_POOL_SUM:
						v = window_sum(xp, s->in[1], s->in[2], d0, d1, h0, h1, w0, w1, 1);
						break;
					default:
						v = root_p(window_sum(xp, s->in[1], s->in[2], d0, d1, h0, h1, w0, w1,
								      s->p_value), s->p_value);
						break;
					}
					*yp = accumulate ? *yp + v : v;
				}
			}
		}
	}
}

void cpu_pool_backward(const struct cpu_pool_shape *s, const float *x, const float *dy,
		       float *dx, int accumulate)
{
	const int64_t planes = s->batch * s->channels;
	const int64_t H = s->in[1], W = s->in[2];
	const int64_t in_size = s->in[0] * H * W;
	const int64_t out_size = s->out[0] * s->out[1] * s->out[2];
	if (is_max_2x2(s)) {
		for (int64_t p = 0; p < planes; p++)
			max_2x2_backward(x + p * in_size, dy + p * out_size, dx + p * in_size, H, W,
					 s->out[1], s->out[2], accumulate);
		return;
	}
	if (!accumulate)
		memset(dx, 0, planes * in_size * sizeof(float));
	for (int64_t p = 0; p < planes; p++) {
		const float *xp = x ? x + p * in_size : NULL, *g = dy + p * out_size;
		float *dxp = dx + p * in_size;
		for (int64_t od = 0; od < s->out[0]; od++) {
			int64_t d0, d1, dn;
			pool_range(od, s->stride[0], s->pad[0], s->kernel[0], s->in[0], &d0, &d1, &dn);
			for (int64_t oh = 0; oh < s->out[1]; oh++) {
				int64_t h0, h1, hn;
				pool_range(oh, s->stride[1], s->pad[1], s->kernel[1], H, &h0, &h1, &hn);
				for (int64_t ow = 0; ow < s->out[2]; ow++, g++) {
					int64_t w0, w1, wn, arg;
					float scale = *g, y = 0.0f;
					int pv = s->p_value;
					pool_range(ow, s->stride[2], s->pad[2], s->kernel[2], W, &w0, &w1, &wn);
					switch (s->type) {
					case CPU_POOL_MAX:
						arg = window_argmax(xp, H, W, d0, d1, h0, h1, w0, w1);
						if (arg >= 0)
							dxp[arg] += scale;
						continue;
					case CPU_POOL_AVG: {
						int64_t area = s->count_include_pad ? dn * hn * wn
										    : (d1 - d0) * (h1 - h0) * (w1 - w0);
						scale = area > 0 ? scale / (float)area : 0.0f;
						break;
					}
					case CPU_POOL_LP:
						if (pv == 1)
							break;
						y = root_p(window_sum(xp, H, W, d0, d1, h0, h1, w0, w1, pv), pv);
						if (y == 0.0f)
							continue; /* MXNet divides by y here: 0/0 */
						break;
					default:
						break;
					}
					for (int64_t d = d0; d < d1; d++)
						for (int64_t h = h0; h < h1; h++) {
							float *row = dxp + (d * H + h) * W;
							if (s->type == CPU_POOL_LP && pv > 1) {
								const float *xr = xp + (d * H + h) * W;
								for (int64_t i = w0; i < w1; i++)
									row[i] += scale * pow_p(xr[i] / y, pv - 1);
							} else {
								for (int64_t i = w0; i < w1; i++)
									row[i] += scale;
							}
						}
				}
			}
		}
	}
}
