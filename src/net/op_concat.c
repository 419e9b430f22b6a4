/* op_concat.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_concat = {.name = "Concat", .flags = OP_INTERNAL};
