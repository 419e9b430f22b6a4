/* mxtrain.h: the public face of the library: what a program embedding mxtrain includes.
 * Each module's own header (src/net/graph.h, src/data/iter.h, ...) has the details. */
#ifndef MXTRAIN_H
#define MXTRAIN_H

#include "error.h"
#include "log.h"
#include "tensor.h"

extern const char mxtrain_version[];

#endif
