/* blas.c: placeholder until this module lands. */
