/* op_elemwise_sum.c: placeholder until this module lands. */
