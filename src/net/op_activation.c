/* op_activation.c: placeholder until this module lands. */
