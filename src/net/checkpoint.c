/* checkpoint.c: placeholder until this module lands. */
