/* metric.c: placeholder until this module lands. */
