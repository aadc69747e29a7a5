/* The NCCL backend (src/parallel/comm_nccl.c; comm_nccl_none.c in builds without CUDA): GPU
 * collectives for the mesh's communicators, one process per GPU, bootstrapped over MPI. */
#ifndef LVIT_COMM_NCCL_H
#define LVIT_COMM_NCCL_H
#include <stddef.h>
#include "parallel/comm.h"

/* 1 when NCCL can be used (loaded at run time); 0 with err saying why. */
int comm_nccl_available(char *err, size_t errlen);
/* Turns the MPI communicator c into an NCCL one over the same ranks (collective over them):
 * its collectives on GPU buffers go through NCCL on its own stream, those on host buffers and
 * barriers through the MPI communicator it keeps. */
void comm_nccl_wrap(Comm *c);
/* Back to the MPI communicator (collective); nothing for another kind. */
void comm_nccl_unwrap(Comm *c);

#endif
