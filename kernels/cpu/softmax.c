/* softmax.c: softmax over one axis and SoftmaxOutput's cross-entropy gradient. */
#include "cpu/kernels.h"

#include <math.h>

/* One row: `classes` entries `stride` apart. Subtracting the max keeps expf finite. */
static void softmax_row(const float *x, float *y, int64_t classes, int64_t stride)
{
	float max = x[0], sum = 0.0f, inv;
	for (int64_t c = 1; c < classes; c++)
		if (x[c * stride] > max)
			max = x[c * stride];
	for (int64_t c = 0; c < classes; c++) {
		float e = expf(x[c * stride] - max);
		y[c * stride] = e;
		sum += e;
	}
	inv = 1.0f / sum;
	for (int64_t c = 0; c < classes; c++)
		y[c * stride] *= inv;
}

void cpu_softmax(const float *x, float *y, int64_t outer, int64_t classes, int64_t inner)
{
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * classes * inner + i;
			softmax_row(x + base, y + base, classes, inner);
		}
}

/* As mshadow's SoftmaxGrad / SmoothSoftmaxGrad: y - 1 + alpha at the label's class,
 * y - alpha / (classes - 1) elsewhere. */
void cpu_softmax_output_grad(const float *y, const float *label, const float *ograd, float *dx,
			     int64_t outer, int64_t classes, int64_t inner, float scale,
			     float alpha, int use_ignore, float ignore, int accumulate)
{
	const float off = classes > 1 ? alpha / (float)(classes - 1) : 0.0f;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * classes * inner + i;
			float lab = label[o * inner + i];
			int64_t k = (int64_t)lab;
			const float *yr = y + base;
			float *dr = dx + base;
			if (use_ignore && k == (int64_t)ignore) {
				if (!accumulate)
					for (int64_t c = 0; c < classes; c++)
						dr[c * inner] = 0.0f;
				continue;
			}
			for (int64_t c = 0; c < classes; c++) {
				float g = (yr[c * inner] - (c == k ? 1.0f - alpha : off)) * scale;
				if (ograd)
					g *= ograd[base + c * inner];
				if (accumulate)
					dr[c * inner] += g;
				else
					dr[c * inner] = g;
			}
		}
}
