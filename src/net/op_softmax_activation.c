/* op_softmax_activation.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_softmax_activation = {.name = "SoftmaxActivation", .flags = OP_INTERNAL};
