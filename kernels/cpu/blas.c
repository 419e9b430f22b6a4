/* blas.c: fully connected kernels on OpenBLAS's row-major cblas_sgemm. */
#include "cpu/kernels.h"

#include <cblas.h>

/* The bias goes in first and sgemm adds the product with beta = 1: one pass over y
 * instead of a gemm and a second broadcast pass. */
void cpu_fc_forward(const float *x, const float *w, const float *b, float *y,
		    int64_t n, int64_t k, int64_t m, int accumulate)
{
	float beta = 0.0f;
	if (b) {
		for (int64_t r = 0; r < n; r++) {
			float *restrict row = y + r * m;
			if (accumulate)
				for (int64_t j = 0; j < m; j++)
					row[j] += b[j];
			else
				for (int64_t j = 0; j < m; j++)
					row[j] = b[j];
		}
		beta = 1.0f;
	} else if (accumulate) {
		beta = 1.0f;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)k,
		    1.0f, x, (int)k, w, (int)k, beta, y, (int)m);
}

void cpu_fc_backward_data(const float *dy, const float *w, float *dx,
			  int64_t n, int64_t k, int64_t m, int accumulate)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)m,
		    1.0f, dy, (int)m, w, (int)k, accumulate ? 1.0f : 0.0f, dx, (int)k);
}

void cpu_fc_backward_weight(const float *dy, const float *x, float *dw,
			    int64_t n, int64_t k, int64_t m, int accumulate)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)k, (int)n,
		    1.0f, dy, (int)m, x, (int)k, accumulate ? 1.0f : 0.0f, dw, (int)k);
}

void cpu_sum_rows(const float *restrict dy, float *restrict db, int64_t n, int64_t m, int accumulate)
{
	if (!accumulate)
		for (int64_t j = 0; j < m; j++)
			db[j] = 0.0f;
	for (int64_t r = 0; r < n; r++) {
		const float *restrict row = dy + r * m;
		for (int64_t j = 0; j < m; j++)
			db[j] += row[j];
	}
}

/* Rows [a, b) of dW = dY^T X: output features a..b-1 only, so threads can split dW. */
void cpu_fc_backward_weight_rows(const float *dy, const float *x, float *dw, int64_t n, int64_t k, int64_t m,
				 int64_t a, int64_t b, int accumulate)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(b - a), (int)k, (int)n,
		    1.0f, dy + a, (int)m, x, (int)k, accumulate ? 1.0f : 0.0f, dw + a * k, (int)k);
}
