/* graph.c: placeholder until this module lands. */
