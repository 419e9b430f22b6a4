/* op_batchnorm.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_batch_norm = {.name = "BatchNorm", .flags = OP_INTERNAL};
