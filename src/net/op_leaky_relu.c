/* op_leaky_relu.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_leaky_relu = {.name = "LeakyReLU", .flags = OP_INTERNAL};
