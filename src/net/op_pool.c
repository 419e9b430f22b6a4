/* op_pool.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_pooling = {.name = "Pooling", .flags = OP_INTERNAL};
