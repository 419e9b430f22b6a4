/* conf.c: placeholder until this module lands. */
