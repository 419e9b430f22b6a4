/* ndarray_io.h */
