/* op_conv.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_convolution = {.name = "Convolution", .flags = OP_INTERNAL};
