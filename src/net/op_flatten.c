/* op_flatten.c: placeholder until this module lands. */
