/* layers.c: CPU loops for BatchNorm, LRN, the LeakyReLU family, Concat, softmax's
 * backward and the regression losses (contracts in layers.h). Inner loops run over
 * contiguous planes, so they vectorize; nothing here allocates. */
#include "cpu/layers.h"

#include <math.h>
#include <string.h>

/* GCC 12's -O2 vectorizes only loops that need no scalar epilogue and no alias check
 * (-fvect-cost-model=very-cheap), which leaves these plane loops scalar; the dynamic model
 * vectorizes them (BatchNorm's normalization 1.7x faster, its backward 1.4x). Nothing here reads errno, so sqrtf
 * may be the bare instruction too. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic", "no-math-errno")
#endif

static inline void put(float *dst, float v, int accumulate)
{
	if (accumulate)
		*dst += v;
	else
		*dst = v;
}

/* ---------------------------------------------------------------- BatchNorm */

/* Sums in eight independent float lanes (so the loop vectorizes without reassociation
 * flags), added up in double: sum of x, sum of (x - shift)^2, sum of (x - shift) * dy. */
#define LANES 8

static double plane_sum(const float *x, int64_t n)
{
	float acc[LANES] = {0};
	double s = 0;
	int64_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int k = 0; k < LANES; k++)
			acc[k] += x[i + k];
	for (; i < n; i++)
		s += x[i];
	for (int k = 0; k < LANES; k++)
		s += acc[k];
	return s;
}

static double plane_sq_dev(const float *x, int64_t n, float shift)
{
	float acc[LANES] = {0};
	double s = 0;
	int64_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int k = 0; k < LANES; k++) {
			float d = x[i + k] - shift;
			acc[k] += d * d;
		}
	for (; i < n; i++)
		s += (double)(x[i] - shift) * (x[i] - shift);
	for (int k = 0; k < LANES; k++)
		s += acc[k];
	return s;
}

/* sum of dy and sum of (x - shift) * dy in one pass */
static void plane_grad_sums(const float *x, const float *dy, int64_t n, float shift,
			    double *sum_dy, double *dot)
{
	float acc[LANES] = {0}, acc_dot[LANES] = {0};
	double s = 0, d = 0;
	int64_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int k = 0; k < LANES; k++) {
			acc[k] += dy[i + k];
			acc_dot[k] += (x[i + k] - shift) * dy[i + k];
		}
	for (; i < n; i++) {
		s += dy[i];
		d += (double)(x[i] - shift) * dy[i];
	}
	for (int k = 0; k < LANES; k++) {
		s += acc[k];
		d += acc_dot[k];
	}
	*sum_dy += s;
	*dot += d;
}

void cpu_bn_mean_var(const float *x, float *mean, float *var, int64_t outer, int64_t channels,
		     int64_t inner, int64_t c0, int64_t c1)
{
	const int64_t count = outer * inner;
	for (int64_t c = c0; c < c1; c++) {
		double s = 0, ss = 0;
		float m;
		for (int64_t o = 0; o < outer; o++)
			s += plane_sum(x + (o * channels + c) * inner, inner);
		m = count ? (float)(s / count) : 0.0f;
		for (int64_t o = 0; o < outer; o++)
			ss += plane_sq_dev(x + (o * channels + c) * inner, inner, m);
		mean[c] = m;
		var[c] = count ? (float)(ss / count) : 0.0f;
	}
}

void cpu_bn_forward(const float *x, float *y, const float *mean, const float *invstd,
		    const float *gamma, const float *beta, int64_t outer, int64_t channels,
		    int64_t inner, int64_t c0, int64_t c1, int accumulate)
{
	for (int64_t c = c0; c < c1; c++) {
		const float scale = invstd[c] * (gamma ? gamma[c] : 1.0f);
		const float shift = beta[c] - mean[c] * scale;
		for (int64_t o = 0; o < outer; o++) {
			const float *xp = x + (o * channels + c) * inner;
			float *yp = y + (o * channels + c) * inner;
			if (accumulate)
				for (int64_t i = 0; i < inner; i++)
					yp[i] += xp[i] * scale + shift;
			else
				for (int64_t i = 0; i < inner; i++)
					yp[i] = xp[i] * scale + shift;
		}
	}
}

void cpu_bn_backward(const float *x, const float *dy, const float *mean, const float *invstd,
		     const float *gamma, float *dx, float *dgamma, float *dbeta, int64_t outer,
		     int64_t channels, int64_t inner, int64_t c0, int64_t c1, int batch_stats,
		     int acc_dx, int acc_dgamma, int acc_dbeta)
{
	const int64_t count = outer * inner;
	for (int64_t c = c0; c < c1; c++) {
		const float m = mean[c], is = invstd[c];
		const float w = gamma ? gamma[c] : 1.0f;
		double sum_dy = 0, dot = 0;
		for (int64_t o = 0; o < outer; o++) {
			const int64_t at = (o * channels + c) * inner;
			plane_grad_sums(x + at, dy + at, inner, m, &sum_dy, &dot);
		}
		if (dx) {
			/* dx = (dy - mean(dy) - (x - m) * k) * invstd * w, k = mean(dy * xhat) * invstd */
			const float iw = is * w;
			const float gmean = batch_stats && count ? (float)(sum_dy / count) : 0.0f;
			const float k = batch_stats && count ? (float)(dot * is * is / count) : 0.0f;
			for (int64_t o = 0; o < outer; o++) {
				const int64_t at = (o * channels + c) * inner;
				const float *xp = x + at, *gp = dy + at;
				float *dp = dx + at;
				if (acc_dx)
					for (int64_t i = 0; i < inner; i++)
						dp[i] += (gp[i] - gmean - (xp[i] - m) * k) * iw;
				else
					for (int64_t i = 0; i < inner; i++)
						dp[i] = (gp[i] - gmean - (xp[i] - m) * k) * iw;
			}
		}
		if (dgamma)
			put(&dgamma[c], (float)(dot * is), acc_dgamma);
		if (dbeta)
			put(&dbeta[c], (float)sum_dy, acc_dbeta);
	}
}

/* ---------------------------------------------------------------- LRN */

#define LRN_BLOCK 256

/* p = norm^-beta over a block; AlexNet's and MXNet's default beta 0.75 as two square
 * roots, which vectorize where powf does not. */
static void lrn_pow(const float *norm, float *p, int64_t len, float beta)
{
	if (beta == 0.75f)
		for (int64_t j = 0; j < len; j++)
			p[j] = 1.0f / sqrtf(norm[j] * sqrtf(norm[j]));
	else
		for (int64_t j = 0; j < len; j++)
			p[j] = powf(norm[j], -beta);
}

void cpu_lrn_forward(const float *x, float *y, float *norm, int64_t outer, int64_t channels,
		     int64_t inner, int nsize, float alpha, float beta, float knorm, int accumulate)
{
	const int64_t half = nsize / 2;
	const float salpha = alpha / (float)nsize;
	for (int64_t o = 0; o < outer; o++) {
		const float *xo = x + o * channels * inner;
		float *no = norm + o * channels * inner;
		float *yo = y + o * channels * inner;
		/* all of this item's norms first, so y may be written over x */
		for (int64_t c = 0; c < channels; c++) {
			float *np = no + c * inner;
			int64_t lo = c - half < 0 ? 0 : c - half;
			int64_t hi = c + half >= channels ? channels - 1 : c + half;
			memset(np, 0, (size_t)inner * sizeof *np);
			for (int64_t k = lo; k <= hi; k++) {
				const float *xk = xo + k * inner;
				for (int64_t i = 0; i < inner; i++)
					np[i] += xk[i] * xk[i];
			}
			for (int64_t i = 0; i < inner; i++)
				np[i] = knorm + salpha * np[i];
		}
		for (int64_t i0 = 0; i0 < channels * inner; i0 += LRN_BLOCK) {
			const int64_t len = channels * inner - i0 < LRN_BLOCK ? channels * inner - i0
									  : LRN_BLOCK;
			float p[LRN_BLOCK];
			lrn_pow(no + i0, p, len, beta);
			if (accumulate)
				for (int64_t j = 0; j < len; j++)
					yo[i0 + j] += xo[i0 + j] * p[j];
			else
				for (int64_t j = 0; j < len; j++)
					yo[i0 + j] = xo[i0 + j] * p[j];
		}
	}
}

void cpu_lrn_backward(const float *x, const float *y, const float *norm, const float *dy,
		      float *dx, int64_t outer, int64_t channels, int64_t inner, int nsize,
		      float alpha, float beta, int accumulate)
{
	const int64_t half = nsize / 2;
	const float coef = 2.0f * beta * alpha / (float)nsize;
	for (int64_t o = 0; o < outer; o++) {
		const int64_t base = o * channels * inner;
		for (int64_t c = 0; c < channels; c++) {
			int64_t lo = c - half < 0 ? 0 : c - half;
			int64_t hi = c + half >= channels ? channels - 1 : c + half;
			for (int64_t i0 = 0; i0 < inner; i0 += LRN_BLOCK) {
				const int64_t len = inner - i0 < LRN_BLOCK ? inner - i0 : LRN_BLOCK;
				const int64_t at = base + c * inner + i0;
				float acc[LRN_BLOCK], p[LRN_BLOCK];
				memset(acc, 0, sizeof acc);
				for (int64_t k = lo; k <= hi; k++) {
					const int64_t kt = base + k * inner + i0;
					for (int64_t j = 0; j < len; j++)
						acc[j] += dy[kt + j] * y[kt + j] / norm[kt + j];
				}
				lrn_pow(norm + at, p, len, beta);
				for (int64_t j = 0; j < len; j++)
					acc[j] = dy[at + j] * p[j] - coef * x[at + j] * acc[j];
				if (accumulate)
					for (int64_t j = 0; j < len; j++)
						dx[at + j] += acc[j];
				else
					memcpy(dx + at, acc, (size_t)len * sizeof *acc);
			}
		}
	}
}

/* ---------------------------------------------------------------- LeakyReLU family */

#define SELU_LAMBDA 1.0507009873554804934193349852946f
#define SELU_ALPHA 1.6732632423543772848170429916717f

static inline float leaky_value(enum cpu_leaky act, float x, float slope)
{
	switch (act) {
	case CPU_LEAKY: return x > 0.0f ? x : slope * x;
	case CPU_ELU: return x > 0.0f ? x : slope * expm1f(x);
	case CPU_SELU: return SELU_LAMBDA * (x > 0.0f ? x : SELU_ALPHA * expm1f(x));
	case CPU_GELU: return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
	}
	return 0.0f;
}

/* d/dx of leaky_value. gelu: Phi(x) + x * phi(x). */
static inline float leaky_slope(enum cpu_leaky act, float x, float slope)
{
	switch (act) {
	case CPU_LEAKY: return x > 0.0f ? 1.0f : slope;
	case CPU_ELU: return x > 0.0f ? 1.0f : slope * expf(x);
	case CPU_SELU: return x > 0.0f ? SELU_LAMBDA : SELU_LAMBDA * SELU_ALPHA * expf(x);
	case CPU_GELU:
		return 0.5f * (1.0f + erff(x * (float)M_SQRT1_2))
		       + x * expf(-0.5f * x * x) * (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
	}
	return 0.0f;
}

void cpu_leaky_forward(enum cpu_leaky act, const float *x, float *y, int64_t n, float slope,
		       int accumulate)
{
	if (act == CPU_LEAKY && !accumulate) {
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
		return;
	}
	for (int64_t i = 0; i < n; i++)
		put(&y[i], leaky_value(act, x[i], slope), accumulate);
}

void cpu_leaky_backward(enum cpu_leaky act, const float *x, const float *dy, float *dx,
			int64_t n, float slope, int accumulate)
{
	if (act == CPU_LEAKY && !accumulate) {
		for (int64_t i = 0; i < n; i++)
			dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
		return;
	}
	for (int64_t i = 0; i < n; i++)
		put(&dx[i], dy[i] * leaky_slope(act, x[i], slope), accumulate);
}

void cpu_prelu_forward(const float *x, const float *gamma, float *y, int64_t outer,
		       int64_t channels, int64_t inner, int shared, int accumulate)
{
	for (int64_t o = 0; o < outer; o++)
		for (int64_t c = 0; c < channels; c++) {
			const float g = gamma[shared ? 0 : c];
			const float *xp = x + (o * channels + c) * inner;
			float *yp = y + (o * channels + c) * inner;
			if (accumulate)
				for (int64_t i = 0; i < inner; i++)
					yp[i] += xp[i] > 0.0f ? xp[i] : g * xp[i];
			else
				for (int64_t i = 0; i < inner; i++)
					yp[i] = xp[i] > 0.0f ? xp[i] : g * xp[i];
		}
}

void cpu_prelu_backward(const float *x, const float *gamma, const float *dy, float *dx,
			float *dgamma, int64_t outer, int64_t channels, int64_t inner, int shared,
			int acc_dx, int acc_dgamma)
{
	double total = 0;
	for (int64_t c = 0; c < channels; c++) {
		const float g = gamma[shared ? 0 : c];
		double sum = 0;
		for (int64_t o = 0; o < outer; o++) {
			const int64_t at = (o * channels + c) * inner;
			const float *xp = x + at, *gp = dy + at;
			float *dp = dx ? dx + at : NULL;
			float part = 0.0f;
			for (int64_t i = 0; i < inner; i++)
				part += xp[i] > 0.0f ? 0.0f : gp[i] * xp[i];
			sum += part;
			if (dp && acc_dx)
				for (int64_t i = 0; i < inner; i++)
					dp[i] += xp[i] > 0.0f ? gp[i] : g * gp[i];
			else if (dp)
				for (int64_t i = 0; i < inner; i++)
					dp[i] = xp[i] > 0.0f ? gp[i] : g * gp[i];
		}
		if (dgamma && !shared)
			put(&dgamma[c], (float)sum, acc_dgamma);
		total += sum;
	}
	if (dgamma && shared)
		put(&dgamma[0], (float)total, acc_dgamma);
}

void cpu_rrelu_forward(const float *x, float *y, int64_t n, float lower, float upper,
		       struct mx_rng *rng, int accumulate)
{
	const float mid = 0.5f * (lower + upper), width = upper - lower;
	for (int64_t i = 0; i < n; i++) {
		float s = rng ? lower + width * rng_uniform(rng) : mid;
		put(&y[i], x[i] > 0.0f ? x[i] : s * x[i], accumulate);
	}
}

void cpu_rrelu_backward(const float *x, const float *y, const float *dy, float *dx, int64_t n,
			int accumulate)
{
	for (int64_t i = 0; i < n; i++) {
		float s = x[i] > 0.0f ? 1.0f : x[i] < 0.0f ? y[i] / x[i] : 0.0f;
		put(&dx[i], dy[i] * s, accumulate);
	}
}

/* ---------------------------------------------------------------- Concat */

static void copy_row(float *dst, const float *src, int64_t n, int accumulate)
{
	if (accumulate)
		for (int64_t i = 0; i < n; i++)
			dst[i] += src[i];
	else
		memcpy(dst, src, (size_t)n * sizeof *dst);
}

void cpu_concat(const float *const *src, const int64_t *row, int n, float *dst, int64_t outer,
		int accumulate)
{
	int64_t total = 0, offset = 0;
	for (int k = 0; k < n; k++)
		total += row[k];
	for (int k = 0; k < n; k++) {
		for (int64_t o = 0; o < outer; o++)
			copy_row(dst + o * total + offset, src[k] + o * row[k], row[k], accumulate);
		offset += row[k];
	}
}

void cpu_split(const float *src, float *const *dst, const int64_t *row, const int *accumulate,
	       int n, int64_t outer)
{
	int64_t total = 0, offset = 0;
	for (int k = 0; k < n; k++)
		total += row[k];
	for (int k = 0; k < n; k++) {
		if (dst[k])
			for (int64_t o = 0; o < outer; o++)
				copy_row(dst[k] + o * row[k], src + o * total + offset, row[k],
					 accumulate[k]);
		offset += row[k];
	}
}

/* ---------------------------------------------------------------- softmax backward */

void cpu_softmax_backward(const float *y, const float *dy, float *dx, int64_t outer,
			  int64_t classes, int64_t inner, int accumulate)
{
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			const int64_t base = o * classes * inner + i;
			float dot = 0.0f;
			for (int64_t c = 0; c < classes; c++)
				dot += dy[base + c * inner] * y[base + c * inner];
			for (int64_t c = 0; c < classes; c++) {
				const int64_t at = base + c * inner;
				put(&dx[at], y[at] * (dy[at] - dot), accumulate);
			}
		}
}

/* ---------------------------------------------------------------- regression losses */

void cpu_regression_backward(enum cpu_regression kind, const float *y, const float *label,
			     float *dx, int64_t n, float scale, int accumulate)
{
	if (kind == CPU_REG_MAE) {
		for (int64_t i = 0; i < n; i++)
			put(&dx[i], y[i] - label[i] > 0.0f ? scale : -scale, accumulate);
		return;
	}
	for (int64_t i = 0; i < n; i++)
		put(&dx[i], (y[i] - label[i]) * scale, accumulate);
}
