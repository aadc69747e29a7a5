/* Builds without MPI: the launcher check in mesh.c refuses multi-process runs before any of
 * these can be called. */
#include <stdlib.h>
#include "core/check.h"
#include "parallel/comm_mpi.h"

int parallel_have_mpi(void) { return 0; }
void comm_mpi_init_world(Comm *world) { (void)world, DIE("built without MPI"); }
void comm_mpi_split(const Comm *parent, Comm *out, int color, int key) {
    (void)parent, (void)out, (void)color, (void)key, DIE("built without MPI");
}
void comm_mpi_free(Comm *c) { (void)c; }
void comm_mpi_finalize(void) {}
void comm_mpi_abort_world(int code) { exit(code); }
void comm_mpi_watchdog(double seconds) { (void)seconds; }
