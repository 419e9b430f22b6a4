/* op_lrn.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_lrn = {.name = "LRN", .flags = OP_INTERNAL};
