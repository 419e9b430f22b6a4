/* metric.c: accuracy, top-k accuracy, cross-entropy and the regression errors (mse, rmse,
 * mae), as mx.metric computes them. */
#include "metric.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "param.h"

enum metric_kind { METRIC_ACCURACY, METRIC_TOP_K, METRIC_CROSS_ENTROPY, METRIC_MSE, METRIC_RMSE, METRIC_MAE };

/* mx.metric.CrossEntropy's eps: -log(p[label] + 1e-12). */
#define CE_EPS 1e-12

#define MAX_METRICS 8

struct metric_value {
	enum metric_kind kind;
	char name[32];
	double sum;      /* correct predictions, summed -log p, or summed per-example errors */
	int64_t count;   /* examples */
};

struct metric {
	int n;
	int top_k;
	struct metric_value v[MAX_METRICS];
};

/* The spellings a conf may use: MXNet's names and its registry aliases. */
static const struct {
	const char *name;
	enum metric_kind kind;
} metric_names[] = {
	{"accuracy", METRIC_ACCURACY},     {"acc", METRIC_ACCURACY},
	{"top_k_accuracy", METRIC_TOP_K},  {"top_k_acc", METRIC_TOP_K},
	{"cross-entropy", METRIC_CROSS_ENTROPY}, {"ce", METRIC_CROSS_ENTROPY},
	{"mse", METRIC_MSE}, {"rmse", METRIC_RMSE}, {"mae", METRIC_MAE},
};
#define N_NAMES (int)(sizeof metric_names / sizeof metric_names[0])

static int add_metric(struct metric *m, const char *word)
{
	const char *names[N_NAMES + 1];
	const char *near;
	struct metric_value *v;
	for (int i = 0; i < N_NAMES; i++) {
		if (strcmp(word, metric_names[i].name))
			continue;
		if (m->n == MAX_METRICS)
			return mx_error(MX_ERR_INVALID, "eval_metric: more than %d metrics", MAX_METRICS);
		v = &m->v[m->n++];
		v->kind = metric_names[i].kind;
		switch (v->kind) {
		case METRIC_ACCURACY: snprintf(v->name, sizeof v->name, "accuracy"); break;
		case METRIC_TOP_K: snprintf(v->name, sizeof v->name, "top_k_accuracy_%d", m->top_k); break;
		case METRIC_CROSS_ENTROPY: snprintf(v->name, sizeof v->name, "cross-entropy"); break;
		case METRIC_MSE: snprintf(v->name, sizeof v->name, "mse"); break;
		case METRIC_RMSE: snprintf(v->name, sizeof v->name, "rmse"); break;
		case METRIC_MAE: snprintf(v->name, sizeof v->name, "mae"); break;
		}
		return MX_OK;
	}
	for (int i = 0; i < N_NAMES; i++)
		names[i] = metric_names[i].name;
	names[N_NAMES] = NULL;
	near = nearest_name(names, word);
	if (near)
		return mx_error(MX_ERR_INVALID, "eval_metric: unknown metric \"%s\" (did you mean \"%s\"?)", word, near);
	return mx_error(MX_ERR_INVALID, "eval_metric: unknown metric \"%s\" (known: accuracy, top_k_accuracy, "
			"cross-entropy, mse, rmse, mae)", word);
}

struct metric *metric_create(const char *list, int top_k)
{
	struct metric *m;
	const char *p = list;
	if (top_k < 1) {
		mx_error(MX_ERR_INVALID, "eval_metric: top_k = %d must be >= 1", top_k);
		return NULL;
	}
	if (!(m = calloc(1, sizeof *m))) {
		mx_error(MX_ERR_NOMEM, "eval_metric: out of memory");
		return NULL;
	}
	m->top_k = top_k;
	for (;;) {
		char word[64];
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!len || len >= sizeof word) {
			mx_error(MX_ERR_INVALID, "eval_metric: \"%s\" is not a comma-separated list of metrics", list);
			goto fail;
		}
		memcpy(word, p, len);
		word[len] = '\0';
		if (add_metric(m, word))
			goto fail;
		if (!end)
			break;
		p = end + 1;
	}
	return m;
fail:
	free(m);
	return NULL;
}

void metric_free(struct metric *m) { free(m); }

void metric_reset(struct metric *m)
{
	for (int i = 0; i < m->n; i++) {
		m->v[i].sum = 0;
		m->v[i].count = 0;
	}
}

/* Top-k: the label is in the top k when fewer than k classes score strictly above it.
 * Ties favour the label (numpy's argpartition, which MXNet uses, breaks them in no
 * documented order). */
static int64_t rank_of(const float *row, int64_t classes, int64_t label)
{
	int64_t above = 0;
	float p = row[label];
	for (int64_t c = 0; c < classes; c++)
		above += row[c] > p;
	return above;
}

/* First index of the largest score, as numpy.argmax. */
static int64_t argmax(const float *row, int64_t classes)
{
	int64_t best = 0;
	for (int64_t c = 1; c < classes; c++)
		if (row[c] > row[best])
			best = c;
	return best;
}

static int is_regression(enum metric_kind kind)
{
	return kind == METRIC_MSE || kind == METRIC_RMSE || kind == METRIC_MAE;
}

/* Regression errors: each example's mean squared (absolute) error over its outputs,
 * summed; pred and label hold the same number of values per example. */
static int update_regression(struct metric_value *v, const float *p, const float *y, int64_t rows,
			     int64_t width)
{
	double sum = 0;
	for (int64_t r = 0; r < rows; r++) {
		double e = 0;
		for (int64_t j = 0; j < width; j++) {
			double d = (double)y[r * width + j] - p[r * width + j];
			e += v->kind == METRIC_MAE ? fabs(d) : d * d;
		}
		sum += e / (double)width;
	}
	v->sum += sum;
	v->count += rows;
	return MX_OK;
}

int metric_update(struct metric *m, const struct mx_tensor *pred, const struct mx_tensor *label, int pad)
{
	int64_t batch, classes, rows;
	const float *p = tensor_f32(pred), *y = tensor_f32(label);
	char a[64], b[64];
	int n_class = 0;
	if (pred->shape.ndim < 1 || pred->dtype != MX_F32 || label->dtype != MX_F32)
		return mx_error(MX_ERR_SHAPE, "metric: prediction %s %s and label %s %s: want float32 arrays",
				shape_str(&pred->shape, a, sizeof a), dtype_name(pred->dtype),
				shape_str(&label->shape, b, sizeof b), dtype_name(label->dtype));
	batch = pred->shape.dim[0];
	classes = batch ? shape_size(&pred->shape) / batch : 0;
	if (pad < 0 || pad > batch)
		return mx_error(MX_ERR_SHAPE, "metric: pad %d for a batch of %lld", pad, (long long)batch);
	rows = batch - pad;
	for (int i = 0; i < m->n; i++) {
		if (!is_regression(m->v[i].kind)) {
			n_class++;
			continue;
		}
		if (shape_size(&label->shape) != shape_size(&pred->shape) || label->shape.dim[0] != batch)
			return mx_error(MX_ERR_SHAPE, "metric: %s: prediction %s does not fit label %s (want the "
					"same values per example)", m->v[i].name, shape_str(&pred->shape, a, sizeof a),
					shape_str(&label->shape, b, sizeof b));
		update_regression(&m->v[i], p, y, rows, classes);
	}
	if (!n_class)
		return MX_OK;
	if (pred->shape.ndim < 2 || shape_size(&label->shape) != batch || classes < 1)
		return mx_error(MX_ERR_SHAPE, "metric: prediction %s does not fit label %s (want (batch, "
				"classes) and (batch) for accuracy and cross-entropy)",
				shape_str(&pred->shape, a, sizeof a), shape_str(&label->shape, b, sizeof b));
	for (int64_t r = 0; r < rows; r++) {
		/* labels are class ids stored as float; MXNet truncates them to int32 */
		if (!(y[r] >= 0 && y[r] < (float)classes))
			return mx_error(MX_ERR_SHAPE, "metric: label %g in row %lld is not a class id in [0, %lld)",
					y[r], (long long)r, (long long)classes);
	}
	for (int i = 0; i < m->n; i++) {
		struct metric_value *v = &m->v[i];
		double sum = 0;
		if (is_regression(v->kind))
			continue;
		for (int64_t r = 0; r < rows; r++) {
			const float *row = p + r * classes;
			int64_t k = (int64_t)y[r];
			switch (v->kind) {
			case METRIC_ACCURACY: sum += argmax(row, classes) == k; break;
			case METRIC_TOP_K: sum += rank_of(row, classes, k) < m->top_k; break;
			case METRIC_CROSS_ENTROPY: sum += -log((double)row[k] + CE_EPS); break;
			default: break;
			}
		}
		v->sum += sum;
		v->count += rows;
	}
	return MX_OK;
}

int metric_count(const struct metric *m) { return m->n; }

const char *metric_name(const struct metric *m, int i) { return m->v[i].name; }

double metric_value(const struct metric *m, int i)
{
	/* MXNet returns nan for a metric that has seen nothing */
	if (!m->v[i].count)
		return NAN;
	if (m->v[i].kind == METRIC_RMSE)  /* the root of the mean over every example seen */
		return sqrt(m->v[i].sum / (double)m->v[i].count);
	return m->v[i].sum / (double)m->v[i].count;
}
