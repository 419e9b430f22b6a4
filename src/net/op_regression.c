/* op_regression.c: placeholder descriptor until the operator lands (issue 4). */
#include "op.h"

const struct op_desc op_linear_regression_output = {.name = "LinearRegressionOutput", .flags = OP_INTERNAL};
const struct op_desc op_logistic_regression_output = {.name = "LogisticRegressionOutput", .flags = OP_INTERNAL};
const struct op_desc op_mae_regression_output = {.name = "MAERegressionOutput", .flags = OP_INTERNAL};
