/* layers.h: placeholder until issue 4's kernels land. */
