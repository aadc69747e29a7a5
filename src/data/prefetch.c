#include "data/prefetch.h"
#include <string.h>
#include "core/check.h"

static void *prefetch_main(void *arg) {
    Prefetch *p = arg;
    for (int i = 0;; i ^= 1) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && (p->ready[i] || p->held == i)) pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) return NULL;
        HostBatch *hb = &p->buf[i];
        for (int b = 0; b < hb->B; b++) host_batch_fill(hb, b, p->s, sampler_next(p->s));
        pthread_mutex_lock(&p->mu);
        p->ready[i] = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

void prefetch_start(Prefetch *p, Sampler *s, int B, int V, int Hp, int Wp, int residual) {
    prefetch_start_rows(p, s, B, V, Hp, Wp, 0, Hp, residual);
}

void prefetch_start_rows(Prefetch *p, Sampler *s, int B, int V, int Hp, int Wp, int row0, int nrows, int residual) {
    HostBatch shape = {.B = B, .V = V, .Hp = Hp, .Wp = Wp, .row0 = row0, .nrows = nrows, .residual = residual};
    prefetch_start_like(p, s, &shape);
}

void prefetch_start_like(Prefetch *p, Sampler *s, const HostBatch *shape) {
    memset(p, 0, sizeof *p);
    p->s = s;
    p->held = -1;
    for (int i = 0; i < 2; i++) host_batch_init_like(&p->buf[i], shape);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->th, NULL, prefetch_main, p) != 0) DIE("cannot start the data prefetch thread");
    p->started = 1;
}

const HostBatch *prefetch_next(Prefetch *p) {
    pthread_mutex_lock(&p->mu);
    if (p->held >= 0) p->ready[p->held] = 0; /* the caller is done with the previous batch */
    p->held = -1;
    pthread_cond_broadcast(&p->cv);
    int i = p->next;
    while (!p->ready[i]) pthread_cond_wait(&p->cv, &p->mu);
    p->held = i;
    p->next ^= 1;
    pthread_mutex_unlock(&p->mu);
    return &p->buf[i];
}

void prefetch_stop(Prefetch *p) {
    if (!p->started) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    for (int i = 0; i < 2; i++) host_batch_free(&p->buf[i]);
    p->started = 0;
}
