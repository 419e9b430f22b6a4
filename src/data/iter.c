/* iter.c: placeholder until this module lands. */
