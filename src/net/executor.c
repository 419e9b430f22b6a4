/* executor.c: placeholder until this module lands. */
