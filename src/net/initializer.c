/* initializer.c: placeholder until this module lands. */
