/* op_elemwise_add.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_elemwise_add = {.name = "elemwise_add", .flags = OP_INTERNAL};
