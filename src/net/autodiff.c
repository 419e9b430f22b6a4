/* autodiff.c: placeholder until this module lands. */
