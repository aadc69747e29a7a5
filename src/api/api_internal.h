/* What an lvit_model handle holds, and the per-call error machinery of the public API
 * (include/lvit.h). Only src/api includes this. */
#ifndef LVIT_API_INTERNAL_H
#define LVIT_API_INTERNAL_H
#include "data/anchor.h"
#include "core/check.h"
#include "io/run_meta.h"
#include "lvit.h"
#include "model/vit.h"

struct lvit_model {
    char path[4096];
    VitConfig cfg;          /* the model: V inputs, Vo outputs on the padded grid cfg.H x cfg.W */
    Vit vit;                /* batch of one, CPU kernel table */
    int loaded;             /* vit is initialised (lvit_close frees it) */
    float *mean, *std;      /* [V] normalisation of the inputs */
    RunMeta meta;           /* lvit.data, as recorded */
    int H, W;               /* the unpadded data grid */
    double *lat, *lon;      /* [H], [W] or NULL */
    char (*units)[32];      /* [V] "" unknown */
    int threads;            /* 0: OpenMP's default */
    int ws_threads;         /* the threads the workspaces were sized for at lvit_open: no call runs more */
    float *dev;             /* backend: x [V,Hp,Wp], prediction [Vo,s Hp,s Wp], lead [1] */
    float *xin, *pred;      /* host: normalised padded input [V,Hp,Wp], model output [Vo, s Hp, s Wp] */
    Anchor anchor;          /* a forecast's anchor (nlead 0: none), data/anchor.h */
    int window;             /* classify (pixel windows), segment: the window's side (m->H = m->W = it) */
    int nclass;             /* classify, segment: the classes training recorded, with their names */
    char **class_names;
};

/* m->xin [V, Hp, Wp] from x [V, H, W] in physical units: normalised as host_batch_fill does
 * ((x - mean) * (1 / std) in float32), 0 at unobserved and padded cells; non-finite values at
 * observed cells are LVIT_E_ARG (fn names the API function in the message). */
lvit_status api_normalise_input(lvit_model *m, const float *x, const unsigned char *mask, const char *fn);
/* One forward pass of m->xin with this lead input into m->pred [Vo, s Hp, s Wp]. */
void api_run_model(lvit_model *m, float lead);

/* Records msg as this thread's last error and returns st. */
lvit_status api_fail(lvit_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void api_clear_error(void);
/* The status and message of a failure the check machinery caught (core/check.h). */
lvit_status api_caught(const LvitCatch *c);

/* Runs `call` (an expression of type lvit_status) with failures of the internals caught: the
 * call returns an error code instead of ending the process. */
#define API_GUARDED(call)                                  \
    do {                                                   \
        LvitCatch api_c_;                                  \
        if (setjmp(api_c_.jb)) return api_caught(&api_c_); \
        lvit_catch_push(&api_c_);                          \
        lvit_status api_st_ = (call);                      \
        lvit_catch_pop(&api_c_);                           \
        return api_st_;                                    \
    } while (0)

/* The thread count of a model applied for one call, and the caller's restored after it. */
typedef struct ApiThreads {
    int omp, blas, set;
} ApiThreads;
void api_threads_enter(ApiThreads *t, int threads);
void api_threads_leave(const ApiThreads *t);

#endif
