/* lvit eval under mpirun (tasks/jobs.h): every process holds the whole model and scores its share
 * of the samples, one per rank and round; the round's per-sample sums are added on every rank in
 * the order one process adds them, so the scores are those of one process, bit for bit. */
#include "tasks/jobs.h"
#include <string.h>

const Kernels *eval_layout_init(Parallel *par, const LayoutOptions *lo, const char *cmd) {
    layout_init(par, lo, cmd);
    const struct {
        const char *flag;
        int n;
    } other[] = {{"tp", par->tp.size}, {"sp", par->sp.size}, {"pp", par->pp.size}};
    for (int i = 0; i < 3; i++)
        if (other[i].n > 1)
            parallel_refuse(par, "lvit %s: --%s %d: evaluation is data parallel only: every process runs the whole model "
                            "on its share of the times; launch it with mpirun -np N and no --tp, --sp or --pp (the "
                            "processes are then --dp N)", cmd, other[i].flag, other[i].n);
    return layout_kernels(par, lo, cmd);
}

void eval_round_sum(Parallel *par, double *sums, int64_t n) {
    if (par->world.size > 1) par->world.ops->allreduce_sum_f64(&par->world, sums, n);
}

void eval_check_split(Parallel *par, const char *split) {
    if (strcmp(split, "test") && strcmp(split, "val") && strcmp(split, "train"))
        parallel_refuse(par, "lvit eval: --split expects test, val or train, got '%s'", split);
}
