/* op_fc.c: placeholder until this module lands. */
