/* The two instantiations of engine_tmpl.h (float and double); recon.c picks one. */
#ifndef LVIT_PTYCHO_ENGINE_H
#define LVIT_PTYCHO_ENGINE_H
#include "ptycho/ptycho.h"

void pty_reconstruct_f(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                       const PtyReconOptions *o);
void pty_reconstruct_d(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                       const PtyReconOptions *o);
double pty_cost_grad_f(float complex *gobj, float complex *gprobe, const float complex *obj,
                       const float complex *probe, const PtyData *d, float eps);
double pty_cost_grad_d(float complex *gobj, float complex *gprobe, const float complex *obj,
                       const float complex *probe, const PtyData *d, float eps);

#endif
