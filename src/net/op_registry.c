/* op_registry.c: the table of every operator (read-only after start). */
#include "op.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpu/kernels.h"
#include "error.h"

#define MX_OP_ADDR(sym) &sym,
static const struct op_desc *const op_table[] = {MX_OPS(MX_OP_ADDR) NULL};
#undef MX_OP_ADDR
#define MX_OP_ONE(sym) +1
_Static_assert(sizeof op_table / sizeof op_table[0] == 1 MX_OPS(MX_OP_ONE),
	       "every operator in MX_OPS is registered once");
#undef MX_OP_ONE

const struct op_desc *const *op_all(void) { return op_table; }

const struct op_desc *op_find(const char *name)
{
	for (int pass = 0; pass < 2; pass++) {
		int (*cmp)(const char *, const char *) = pass ? strcasecmp : strcmp;
		for (int i = 0; op_table[i]; i++) {
			const struct op_desc *op = op_table[i];
			if (!cmp(op->name, name))
				return op;
			for (int j = 0; op->aliases && op->aliases[j]; j++)
				if (!cmp(op->aliases[j], name))
					return op;
		}
	}
	return NULL;
}

const char *op_nearest(const char *name)
{
	const char *names[256];
	int n = 0;
	for (int i = 0; op_table[i]; i++) {
		if (op_table[i]->flags & OP_INTERNAL)
			continue;
		names[n++] = op_table[i]->name;
		for (int j = 0; op_table[i]->aliases && op_table[i]->aliases[j] && n < 254; j++)
			names[n++] = op_table[i]->aliases[j];
	}
	names[n] = NULL;
	return nearest_name(names, name);
}

int op_input_names(const struct op_desc *op, const void *param, const char **names, int max)
{
	int n = 0;
	if (op->list_inputs)
		return op->list_inputs(param, names, max);
	while (op->inputs && op->inputs[n] && n < max) {
		names[n] = op->inputs[n];
		n++;
	}
	return n;
}

int op_num_data_inputs(const struct op_desc *op, const void *param)
{
	const char *names[64];
	if (op->n_data_inputs >= 0)
		return op->n_data_inputs;
	return op_input_names(op, param, names, 64);
}

void *op_param_new(const struct op_desc *op)
{
	void *p = calloc(1, op->param_size ? op->param_size : 1);
	if (p)
		param_defaults(op->params, p);
	return p;
}

/* Input names must outlive the call, so they are spelled out once here. */
#define ARG_NAMES_10(d) "arg" #d "0", "arg" #d "1", "arg" #d "2", "arg" #d "3", \
	"arg" #d "4", "arg" #d "5", "arg" #d "6", "arg" #d "7", "arg" #d "8", "arg" #d "9"
static const char *const variadic_names[] = {
	"arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7", "arg8", "arg9",
	ARG_NAMES_10(1), ARG_NAMES_10(2), ARG_NAMES_10(3), ARG_NAMES_10(4), ARG_NAMES_10(5),
	ARG_NAMES_10(6), ARG_NAMES_10(7), ARG_NAMES_10(8), ARG_NAMES_10(9), ARG_NAMES_10(10),
	ARG_NAMES_10(11), ARG_NAMES_10(12),
};
#undef ARG_NAMES_10
_Static_assert(sizeof variadic_names / sizeof variadic_names[0] >= OP_MAX_VARIADIC, "a name per input");

int op_variadic_inputs(int n, const char **names, int max)
{
	if (n > max)
		n = max;
	if (n > OP_MAX_VARIADIC)
		n = OP_MAX_VARIADIC;
	for (int i = 0; i < n; i++)
		names[i] = variadic_names[i];
	return n;
}

int op_copy_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			struct mx_tensor *const *out, const enum op_req *req)
{
	if (req[0] != OP_REQ_NULL)
		cpu_assign(tensor_f32(out[0]), tensor_f32(in[0]), shape_size(&in[0]->shape),
			   req[0] == OP_REQ_ADD);
	return MX_OK;
}

int op_copy_backward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *out_grad,
			 struct mx_tensor *const *in, struct mx_tensor *const *out,
			 struct mx_tensor *const *in_grad, const enum op_req *req)
{
	if (req[0] != OP_REQ_NULL)
		cpu_assign(tensor_f32(in_grad[0]), tensor_f32(out_grad[0]), shape_size(&out_grad[0]->shape),
			   req[0] == OP_REQ_ADD);
	return MX_OK;
}
