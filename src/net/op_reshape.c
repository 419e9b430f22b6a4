/* op_reshape.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_reshape = {.name = "Reshape", .flags = OP_INTERNAL};
