/* ndarray_io.c: placeholder until this module lands. */
