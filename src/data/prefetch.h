/* A background thread that fills the next batch from a sampler while the current step runs
 * (double buffering), so the step never waits on data preparation. The batches and their
 * order are exactly those of calling host_batch_fill in the main thread. */
#ifndef LVIT_PREFETCH_H
#define LVIT_PREFETCH_H
#include <pthread.h>
#include "data/dataset.h"

typedef struct Prefetch {
    Sampler *s;          /* owned by the thread while it runs: nobody else may draw from it */
    HostBatch buf[2];
    int ready[2], held, next, stop, started;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} Prefetch;

void prefetch_start(Prefetch *p, Sampler *s, int B, int V, int Hp, int Wp, int residual);
/* Only rows [row0, row0 + nrows) of every field (a sequence-parallel rank's band). */
void prefetch_start_rows(Prefetch *p, Sampler *s, int B, int V, int Hp, int Wp, int row0, int nrows, int residual);
/* Buffers shaped like `shape` (host_batch_init_like): downscaling windows, or a row band. */
void prefetch_start_like(Prefetch *p, Sampler *s, const HostBatch *shape);
/* The next batch (blocks until it is ready). It stays valid until the next call. */
const HostBatch *prefetch_next(Prefetch *p);
void prefetch_stop(Prefetch *p);

#endif
