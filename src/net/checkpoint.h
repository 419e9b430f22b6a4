/* checkpoint.h: MXNet-format checkpoints.
 *
 * A checkpoint of epoch N under dir/prefix is three files, each written to a temporary
 * name and renamed, so a crash never leaves a half-written one:
 *   prefix-symbol.json  the forward graph (MXNet symbol JSON)
 *   prefix-NNNN.params  learnable ("arg:") and auxiliary ("aux:") arrays (MXNet NDArray list)
 *   prefix-NNNN.states  our training state, also an NDArray list: "meta:epoch",
 *                       "meta:num_update", "meta:rng" (int64) and the optimizer's buffers
 *                       per learnable array: "state:<name>", "state1:<name>", ... in
 *                       MXNet's create_state order (SGD momentum; Adam mean, variance)
 * The .states file is written last: a checkpoint is complete when it exists. */
#ifndef MX_CHECKPOINT_H
#define MX_CHECKPOINT_H

#include <stdint.h>

#include "executor.h"
#include "graph.h"
#include "rng.h"

struct optimizer;

/* Writes "dir/prefix-NNNN.params" style paths into buf. */
void checkpoint_path(char *buf, size_t size, const char *dir, const char *prefix, int epoch, const char *ext);

/* Saves epoch's checkpoint of the arrays bound in ex (graph g). opt and rng may be NULL
 * (then no .states file is written). Creates dir if needed. Returns MX_OK or MX_ERR_IO. */
int checkpoint_save(const char *dir, const char *prefix, int epoch, const struct graph *g,
		    struct executor *ex, struct optimizer *opt, const struct mx_rng *rng);
/* Copies the arrays of a .params file into the executor's learnable and auxiliary
 * arrays. Every learnable/auxiliary variable of g must be present with the bound shape;
 * extra arrays are ignored with a warning. Errors name the file and the array. */
int checkpoint_load_params(const char *path, const struct graph *g, struct executor *ex);
/* Restores optimizer state, rng and the epoch/update counts from a .states file. */
int checkpoint_load_states(const char *path, const struct graph *g, struct optimizer *opt,
			   struct mx_rng *rng, int *epoch);
/* The newest epoch N with dir/prefix-NNNN.<ext> (and .<also>, when not NULL), or -1. */
int checkpoint_newest(const char *dir, const char *prefix, const char *ext, const char *also);
/* The newest epoch with a complete checkpoint (.params and .states), or 0 if none. */
int checkpoint_latest(const char *dir, const char *prefix);

#endif
