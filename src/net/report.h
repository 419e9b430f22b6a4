/* report.h: what `mxtrain --plan` and `mxtrain --graph` print: the memory a network
 * needs before it runs (the table of the MXNet paper), and the graph as Graphviz dot. */
#ifndef MX_REPORT_H
#define MX_REPORT_H

#include <stdio.h>

#include "conf.h"

/* Prints, for training and inference at the conf's batch size and at batch 1, the bytes
 * of internal entries with no sharing, in-place only, co-share only and both, plus
 * weights, gradients, inputs and outputs; each case ends with one machine-readable line
 *   plan mode=train batch=64 none_mb=... inplace_mb=... coshare_mb=... both_mb=... weights_mb=...
 * Reads only the data files' headers' worth to learn the input shape. */
int report_plan(const struct mx_conf *c, FILE *out);
/* Writes the forward graph (and the backward graph when with_backward) as dot. */
int report_graph(const struct mx_conf *c, int with_backward, FILE *out);

#endif
