/* optimizer.c: placeholder until this module lands. */
