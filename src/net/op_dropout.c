/* op_dropout.c: placeholder until this module lands. */
