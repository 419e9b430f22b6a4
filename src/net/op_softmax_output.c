/* op_softmax_output.c: placeholder until this module lands. */
