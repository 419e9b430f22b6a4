/* iter_mnist.c: placeholder until this module lands. */
