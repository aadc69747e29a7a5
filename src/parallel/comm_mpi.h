/* The MPI backend of the communicator interface (src/parallel/comm_mpi.c; comm_mpi_none.c in
 * builds without MPI, where parallel_have_mpi() is 0 and these are never reached). */
#ifndef LVIT_COMM_MPI_H
#define LVIT_COMM_MPI_H
#include "parallel/comm.h"

/* MPI_Init (once) and a communicator over MPI_COMM_WORLD. */
void comm_mpi_init_world(Comm *world);
/* A sub-communicator of parent: ranks with the same color, ordered by key. */
void comm_mpi_split(const Comm *parent, Comm *out, int color, int key);
void comm_mpi_free(Comm *c);
void comm_mpi_finalize(void);
/* The abort hook: MPI_Abort on the world, so no rank is left waiting in a collective. */
void comm_mpi_abort_world(int code);

/* Ends this process (exit 1, with a message) when a blocking call waits more than `seconds`
 * for the other ranks (0: never); started once, the limit can be changed later. */
void comm_mpi_watchdog(double seconds);

#endif
