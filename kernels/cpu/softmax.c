/* softmax.c: placeholder until this module lands. */
