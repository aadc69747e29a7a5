/* The two instantiations of engine_tmpl.h (float and double); recon.c and the tiled job pick one.
 * obj is the tile's extent (pty_tile_ext: owned pixels and halo), in and out; gobj (when not NULL)
 * the owned pixels. One process: the 1 x 1 tiling and the single communicator. */
#ifndef LVIT_PTYCHO_ENGINE_H
#define LVIT_PTYCHO_ENGINE_H
#include "parallel/comm.h"
#include "ptycho/ptycho.h"
#include "ptycho/tiling.h"

void pty_reconstruct_tile_f(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                            const PtyReconOptions *o, const PtyTiling *T, int tile, Comm *comm);
void pty_reconstruct_tile_d(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                            const PtyReconOptions *o, const PtyTiling *T, int tile, Comm *comm);
double pty_cost_grad_tile_f(float complex *gobj, float complex *gprobe, const float complex *obj,
                            const float complex *probe, const PtyData *d, float eps, const PtyTiling *T, int tile,
                            Comm *comm);
double pty_cost_grad_tile_d(float complex *gobj, float complex *gprobe, const float complex *obj,
                            const float complex *probe, const PtyData *d, float eps, const PtyTiling *T, int tile,
                            Comm *comm);

#endif
