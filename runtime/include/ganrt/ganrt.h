/* libganrt: the C core of ganlua. One include for everything. */
#ifndef GANRT_H
#define GANRT_H
#include "status.h"
#include "tensor.h"
#include "ops.h"
#include "autograd.h"
#include "rng.h"
#include "kernels.h"
#include "optim.h"
#include "io.h"
#include "stats.h"

#define GANRT_VERSION "0.1.0"
#endif
