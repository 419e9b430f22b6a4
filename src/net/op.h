/* op.h: the operator descriptor table.
 *
 * Every operator is one `struct op_desc` in one file (op_fc.c, op_activation.c, ...),
 * named as in MXNet so symbol JSON reads and writes unchanged, with its `.conf` aliases,
 * its parameter table, its inputs (data first, then learnable arguments, then auxiliary
 * states), shape inference, and forward and backward per device, side by side.
 * Adding an operator is one file, one line in MX_OPS below, and its kernels. */
#ifndef MX_OP_H
#define MX_OP_H

#include <stddef.h>

#include "param.h"
#include "rng.h"
#include "tensor.h"

#define OP_DEV_TYPES 3 /* indexed by enum mx_dev_type (1 cpu, 2 gpu) */

/* What to do with an output: skip it, write it, write it over an input it shares memory
 * with (in-place), or add to what is there (gradient accumulation). */
enum op_req { OP_REQ_NULL = 0, OP_REQ_WRITE, OP_REQ_INPLACE, OP_REQ_ADD };

struct mx_threadpool;

struct op_ctx {
	int is_train;          /* forward in training mode (Dropout drops, BatchNorm uses batch stats) */
	struct mx_rng *rng;    /* for OP_RANDOM ops; guarded by the executor's rng engine variable */
	void *workspace;       /* op->workspace bytes of scratch, or NULL */
	size_t workspace_bytes;
	struct mx_context dev;
	/* Threads for this op's pieces (engine/threadpool.h); NULL: run on the caller. The
	 * policy: ops split batches or rows over it and call OpenBLAS single-threaded. */
	struct mx_threadpool *pool;
};

/* Forward: in[n_inputs] (aux states are inputs and may be updated in training),
 * out[n_outputs], req[n_outputs]. */
typedef int (*op_forward_fn)(const struct op_ctx *ctx, const void *param,
			     struct mx_tensor *const *in, struct mx_tensor *const *out,
			     const enum op_req *req);
/* Backward: out_grad[n_visible outputs] (NULL for OP_LOSS ops), in[n_inputs],
 * out[n_outputs] (entries backward did not declare in bw_in/bw_out may be NULL),
 * in_grad[n_inputs] with req[n_inputs]: OP_REQ_NULL where no gradient is wanted
 * (data, labels, aux states), OP_REQ_WRITE/INPLACE to overwrite, OP_REQ_ADD to add. */
typedef int (*op_backward_fn)(const struct op_ctx *ctx, const void *param,
			      struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			      struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			      const enum op_req *req);

enum op_flags {
	OP_INPLACE = 1 << 0,    /* output 0 may share input 0's memory in forward */
	OP_BW_INPLACE = 1 << 1, /* in_grad 0 may share out_grad 0's memory in backward */
	OP_LOSS = 1 << 2,       /* a loss head: backward starts the gradient, needs no out_grad */
	OP_RANDOM = 1 << 3,     /* forward draws from ctx->rng */
	OP_INTERNAL = 1 << 4,   /* made by the graph (gradient sums), not offered in .conf */
};

#define OP_BW_ALL 0xffffffffu  /* bw_in / bw_out: every input / output */

/* Bit i of an input/output mask; OP_BW_ALL covers inputs past 31 too (Concat, add_n). */
static inline int op_bit(unsigned mask, int i)
{
	return i < 32 ? (int)((mask >> i) & 1) : mask == OP_BW_ALL;
}

struct op_desc {
	const char *name;                  /* MXNet's canonical name: "FullyConnected" */
	const char *const *aliases;        /* .conf spellings ("fc", ...), NULL-terminated, or NULL */
	const struct param_spec *params;   /* PARAM_END-terminated */
	size_t param_size;                 /* bytes of the parsed parameter struct */
	/* Checks parameters that depend on each other, after all keys are set. May be NULL. */
	int (*check_param)(void *param);

	/* Inputs in MXNet's order. list_inputs, when set, overrides the fixed list (it
	 * depends on parameters: no_bias drops "bias", Concat has num_args). */
	const char *const *inputs;
	int (*list_inputs)(const void *param, const char **names, int max);
	int n_data_inputs;                 /* leading inputs that come from other layers;
	                                      -1: all of them (variadic ops) */
	unsigned aux_mask;                 /* inputs that are auxiliary states (BatchNorm) */
	unsigned label_mask;               /* inputs that are labels fed by the iterator */
	int n_outputs;                     /* total outputs (hidden ones, e.g. a mask, last) */
	int n_visible_outputs;             /* outputs other layers may use */

	/* Fills unknown input shapes (ndim 0: weights, labels) and all output shapes.
	 * Returns MX_ERR_SHAPE with a message about the shapes; the graph adds the layer. */
	int (*infer_shape)(const void *param, struct mx_shape *in, int n_in,
			   struct mx_shape *out, int n_out);
	op_forward_fn forward[OP_DEV_TYPES];
	op_backward_fn backward[OP_DEV_TYPES];
	unsigned bw_in;                    /* inputs backward reads (bit i = input i) */
	unsigned bw_out;                   /* outputs backward reads */
	unsigned flags;                    /* enum op_flags */
	/* Bytes of scratch forward/backward need, given the forward node's input shapes
	 * (NULL: none). The executor binds one buffer of the largest size and passes it in
	 * op_ctx.workspace to forward and backward; its contents do not survive between calls. */
	size_t (*workspace)(const void *param, const struct mx_shape *in, int n_in);
	/* Floating-point operations of one forward call (a multiply-add counts 2), for
	 * `mxtrain --time` and GFLOP/s reports. Backward is counted as one forward's worth
	 * for the weight gradient plus one for the data gradient (not when the data is the
	 * network's input); ops without weights count 1x. NULL: negligible. */
	double (*flops)(const void *param, const struct mx_shape *in, int n_in,
			const struct mx_shape *out, int n_out);
};

/* The registry: every operator, in one X-macro list, so op_registry.c can check with a
 * static assertion that each one is defined and registered. */
#define MX_OPS(X) \
	X(op_fully_connected) \
	X(op_activation) \
	X(op_flatten) \
	X(op_dropout) \
	X(op_softmax_output) \
	X(op_elemwise_sum) \
	X(op_convolution) \
	X(op_pooling) \
	X(op_batch_norm) \
	X(op_lrn) \
	X(op_leaky_relu) \
	X(op_concat) \
	X(op_elemwise_add) \
	X(op_reshape) \
	X(op_softmax_activation) \
	X(op_linear_regression_output) \
	X(op_logistic_regression_output) \
	X(op_mae_regression_output)

#define MX_DECLARE_OP(sym) extern const struct op_desc sym;
MX_OPS(MX_DECLARE_OP)
#undef MX_DECLARE_OP

/* Finds an operator by MXNet name or alias (exact; then case-insensitive). NULL if none. */
const struct op_desc *op_find(const char *name);
/* NULL-terminated list of all operators. */
const struct op_desc *const *op_all(void);
/* Nearest operator name or alias to name, for "did you mean"; NULL if none is close. */
const char *op_nearest(const char *name);

/* Helpers for descriptors. */
/* Input names for this parameter set; returns the count (<= max). */
int op_input_names(const struct op_desc *op, const void *param, const char **names, int max);
int op_num_data_inputs(const struct op_desc *op, const void *param);
/* Names arg0 .. arg{n-1} of a variadic op's inputs (Concat, add_n); returns min(n, max). */
#define OP_MAX_VARIADIC 130
int op_variadic_inputs(int n, const char **names, int max);
/* Returns a new parameter struct with defaults; free() it. */
void *op_param_new(const struct op_desc *op);
/* Kernels of ops whose output is their input in another shape (Flatten, Reshape): a copy
 * of the data forward and of the gradient backward, or nothing when the planner put the
 * output on the input's memory (req OP_REQ_NULL). */
int op_copy_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			struct mx_tensor *const *out, const enum op_req *req);
int op_copy_backward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *out_grad,
			 struct mx_tensor *const *in, struct mx_tensor *const *out,
			 struct mx_tensor *const *in_grad, const enum op_req *req);

#endif
