/* elemwise.c: placeholder until this module lands. */
