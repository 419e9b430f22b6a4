/* metric.h: evaluation metrics, with MXNet's names so log lines read the same:
 * "accuracy", "top_k_accuracy", "cross-entropy" (conf spelling "ce" too), and for
 * regression outputs "mse", "rmse", "mae".
 * Padding rows at the end of the last batch are skipped. */
#ifndef MX_METRIC_H
#define MX_METRIC_H

#include "tensor.h"

struct metric;

/* Returns a new metric set from a comma-separated list ("accuracy,ce"), or NULL with an
 * error naming the unknown metric (with "did you mean"). Free with metric_free(). */
struct metric *metric_create(const char *list, int top_k);
void metric_free(struct metric *m);
void metric_reset(struct metric *m);
/* pred: (batch, classes) probabilities and label: (batch) class ids as float, for the
 * classification metrics; for mse/rmse/mae, pred and label hold the same values per
 * example (each example's mean error over them counts once). The last pad rows are
 * ignored. Returns MX_OK or MX_ERR_SHAPE. */
int metric_update(struct metric *m, const struct mx_tensor *pred, const struct mx_tensor *label, int pad);
/* Number of values; names[i] as MXNet prints them ("accuracy", "top_k_accuracy_5",
 * "cross-entropy"), values[i] the mean over the examples seen since the reset. */
int metric_count(const struct metric *m);
const char *metric_name(const struct metric *m, int i);
double metric_value(const struct metric *m, int i);

#endif
