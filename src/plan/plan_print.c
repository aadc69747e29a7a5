/* lvit plan's report (plan/plan.h): the best layouts with their command lines, memory and time
 * by part, and the layouts that cannot run with the reason; or the same as JSON. */
#include <stdio.h>
#include <string.h>
#include "model/vit.h"
#include "parallel/seq_attn.h"
#include "plan/plan.h"

static const double MiB = 1048576.0, GiB = 1073741824.0;
static const char *comm_names[PC_COUNT] = {"dp", "zero1", "fsdp", "sp", "tp", "pp", "chag"};

static int launched(const PlanInput *in, const PlanLayout *l) { return l->dp * l->sp * l->tp * l->pp > 1 || in->nodes > 1; }

void plan_command(const PlanInput *in, const PlanLayout *l, const char *model_flags, char *buf, size_t n) {
    const int N = l->dp * l->sp * l->tp * l->pp;
    size_t k = 0;
#define PUT(...) k += (size_t)snprintf(buf + (k < n ? k : n), k < n ? n - k : 0, __VA_ARGS__)
    if (launched(in, l)) {
        if (in->mach.srun)
            PUT("srun -N %d --ntasks-per-node %d%s ", in->nodes, in->mach.ranks_per_node,
                in->mach.device ? " --gpus-per-task 1" : "");
        else if (in->nodes > 1) PUT("mpirun -np %d --map-by ppr:%d:node ", N, in->mach.ranks_per_node);
        else PUT("mpirun -np %d ", N);
    }
    PUT("lvit train --run RUN --data DATA %s --batch %d", model_flags, in->batch);
    if (l->dp > 1) PUT(" --dp %d", l->dp);
    if (l->sp > 1) PUT(" --sp %d --sp-mode %s", l->sp, sp_mode_name((SpMode)l->sp_mode));
    if (l->sp > 1 && l->sp_mode == SP_USP) PUT(" --sp-ulysses %d", l->sp_u);
    if (l->tp > 1) PUT(" --tp %d", l->tp);
    if (l->pp > 1) PUT(" --pp %d --microbatches %d", l->pp, l->microbatches);
    if (l->zero == 1) PUT(" --zero 1");
    else if (l->zero == 3 && l->fsdp == l->dp) PUT(" --zero 3");
    else if (l->zero == 3) PUT(" --fsdp %d", l->fsdp);
    if (l->chag) PUT(" --channel-parallel %d", l->chag);
    if (l->recompute) PUT(" --recompute");
    if (in->mach.device) PUT(" --device cuda");
    else if (in->mach.threads > 0) PUT(" --threads %d", in->mach.threads); /* the threads the plan assumed */
#undef PUT
}

static void layout_name(const PlanLayout *l, char *b, size_t n) {
    size_t k = (size_t)snprintf(b, n, "dp%d", l->dp);
    if (l->sp > 1) k += (size_t)snprintf(b + k, n - k, " sp%d-%s", l->sp, sp_mode_name((SpMode)l->sp_mode));
    if (l->tp > 1) k += (size_t)snprintf(b + k, n - k, " tp%d", l->tp);
    if (l->pp > 1) k += (size_t)snprintf(b + k, n - k, " pp%d/m%d", l->pp, l->microbatches);
    if (l->zero == 1) k += (size_t)snprintf(b + k, n - k, " z1");
    if (l->zero == 3) k += (size_t)snprintf(b + k, n - k, l->fsdp == l->dp ? " z3" : " fsdp%d", l->fsdp);
    if (l->chag) k += (size_t)snprintf(b + k, n - k, " chag%d", l->chag);
    if (l->recompute) snprintf(b + k, n - k, " rc");
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static void print_json(const PlanInput *in, const PlanEntry *e, int n, const char *model_flags) {
    const PlanMachine *m = &in->mach;
    printf("{\"model\": {\"mode\": \"%s\", \"V\": %d, \"H\": %d, \"W\": %d, \"patch\": %d, \"S\": %lld, \"dim\": %d, "
           "\"depth\": %d, \"heads\": %d, \"params\": %lld, \"batch\": %d, \"tile_h\": %d, \"tile_w\": %d},\n",
           vit_mode_name(in->cfg.mode), in->cfg.V, in->cfg.H, in->cfg.W, in->cfg.p, (long long)vit_S(&in->cfg), in->cfg.D,
           in->cfg.depth, in->cfg.NH, (long long)plan_param_count(&in->cfg), in->batch, in->cfg.tile_h, in->cfg.tile_w);
    printf(" \"machine\": {\"name\": ");
    json_str(m->name);
    printf(", \"nodes\": %d, \"ranks_per_node\": %d, \"mem_bytes\": %.0f, \"peak_flops\": %.4g, \"efficiency\": %g, "
           "\"intra_bw\": %.4g, \"intra_lat\": %.3g, \"inter_bw\": %.4g, \"inter_lat\": %.3g},\n \"layouts\": [",
           in->nodes, m->ranks_per_node, m->mem_bytes, m->peak_flops, m->efficiency, m->intra_bw, m->intra_lat,
           m->inter_bw, m->inter_lat);
    for (int i = 0; i < n; i++) {
        const PlanEntry *x = &e[i];
        const PlanLayout *l = &x->lay;
        printf("%s\n  {\"dp\": %d, \"sp\": %d, \"tp\": %d, \"pp\": %d, \"sp_mode\": \"%s\", \"sp_ulysses\": %d, \"zero\": %d, "
               "\"fsdp\": %d, \"microbatches\": %d, \"recompute\": %d, \"channel_parallel\": %d, \"valid\": %s",
               i ? "," : "", l->dp, l->sp, l->tp, l->pp, sp_mode_name((SpMode)l->sp_mode), l->sp_u, l->zero, l->fsdp,
               l->microbatches, l->recompute, l->chag, x->valid ? "true" : "false");
        if (x->reason[0]) {
            printf(", \"reason\": ");
            json_str(x->reason);
        }
        if (x->mem.total > 0) {
            const PlanMem *q = &x->mem;
            printf(",\n   \"memory_bytes\": {\"total\": %.0f, \"params\": %.0f, \"grads\": %.0f, \"optimizer\": %.0f, "
                   "\"gathered\": %.0f, \"activations\": %.0f, \"embed\": %.0f, \"attention_workspace\": %.0f, "
                   "\"sequence_buffers\": %.0f, \"activations_other_recompute\": %.0f, \"batch\": %.0f, \"data\": %.0f, "
                   "\"init\": %.0f, \"comm\": %.0f, \"base\": %.0f}", q->total, q->params, q->grads, q->opt, q->gathered,
                   q->acts, q->acts_embed, q->attn_ws, q->seq_buf, q->acts_other, q->batch, q->data, q->init_extra,
                   q->comm, q->base);
            const PlanTime *t = &x->time;
            printf(",\n   \"time_s\": {\"total\": %.6g, \"compute\": %.6g, \"bubble\": %.6g, \"exposed_comm\": %.6g", t->total,
                   t->compute, t->bubble, t->exposed);
            for (int c = 0; c < PC_COUNT; c++) printf(", \"%s\": %.6g", comm_names[c], t->comm[c]);
            printf("},\n   \"bytes_sent_rank0\": {\"total\": %.0f", t->bytes_total);
            for (int c = 0; c < PC_COUNT; c++) printf(", \"%s\": %.0f", comm_names[c], t->bytes[c]);
            printf("}, \"command\": ");
            char cmd[1024];
            plan_command(in, l, model_flags, cmd, sizeof cmd);
            json_str(cmd);
        }
        printf("}");
    }
    printf("\n ]\n}\n");
}

void plan_print(const PlanInput *in, const PlanEntry *e, int n, int best, const char *model_flags, int json) {
    if (json) {
        print_json(in, e, n, model_flags);
        return;
    }
    const PlanMachine *m = &in->mach;
    const int N = in->nodes * m->ranks_per_node;
    int nv = 0;
    for (int i = 0; i < n; i++) nv += e[i].valid;
    VitConfig w = in->cfg; /* what one sample is: the grid, or a TILES window */
    if (w.tile_h > 0) w.H = w.tile_h, w.W = w.tile_w;
    printf("model: %s, V=%d, grid %dx%d", vit_mode_name(in->cfg.mode), in->cfg.V, in->cfg.H, in->cfg.W);
    if (in->cfg.tile_h > 0) printf(" in TILES windows of %dx%d (the ViT with a forecast head)", w.H, w.W);
    printf(", patch %d -> S=%lld tokens, D=%d, depth %d, %d heads: %.4gM parameters; global batch %d; %.3g TFLOP per "
           "step\n", in->cfg.p, (long long)vit_S(&w), in->cfg.D, in->cfg.depth, in->cfg.NH, plan_param_count(&in->cfg) / 1e6,
           in->batch, 3.0 * in->batch * vit_flops_per_sample(&w) / 1e12);
    printf("machine %s: %d node%s x %d ranks = %d; per rank %.1f GiB, %.4g TFLOP/s x %.2f; within a node %.4g GB/s, "
           "%.3g us; between nodes %.4g GB/s per node, %.3g us\n", m->name, in->nodes, in->nodes > 1 ? "s" : "",
           m->ranks_per_node, N, m->mem_bytes / GiB, m->peak_flops / 1e12, m->efficiency, m->intra_bw / 1e9,
           m->intra_lat * 1e6, m->inter_bw / 1e9, m->inter_lat * 1e6);
    printf("%d of %d layouts fit; the best %d (time = compute + pipeline bubble + messages that do not overlap):\n", nv, n,
           nv < best ? nv : best);
    printf("%3s  %-34s %10s %10s %10s %10s %10s %10s  %10s\n", "#", "layout", "GiB/rank", "states", "acts",
           "ms/step", "compute", "exposed", "MiB sent");
    for (int i = 0, k = 0; i < n && k < best; i++) {
        if (!e[i].valid) continue;
        const PlanEntry *x = &e[i];
        char name[96], cmd[1024];
        layout_name(&x->lay, name, sizeof name);
        printf("%3d  %-34s %10.3f %10.3f %10.3f %10.4g %10.4g %10.4g  %10.4g\n", ++k, name, x->mem.total / GiB,
               (x->mem.params + x->mem.grads + x->mem.opt + x->mem.gathered) / GiB, x->mem.acts / GiB,
               x->time.total * 1e3, (x->time.compute + x->time.bubble) * 1e3, x->time.exposed * 1e3,
               x->time.bytes_total / MiB);
        plan_command(in, &x->lay, model_flags, cmd, sizeof cmd);
        printf("     %s\n", cmd);
    }
    for (int i = 0; i < n; i++)
        if (e[i].valid) {
            const PlanMem *q = &e[i].mem;
            printf("memory of #1 per rank (MiB): parameters %.1f, gradients %.1f, AdamW %.1f, gathered block %.1f, "
                   "activations %.1f (tokens+aggregation %.1f, attention/kernel workspace %.1f, sequence-parallel "
                   "buffers %.1f; %.1f with%s recompute), batch %.1f, data %.1f, start-up copy %.1f, process %.1f\n",
                   q->params / MiB, q->grads / MiB, q->opt / MiB, q->gathered / MiB, q->acts / MiB, q->acts_embed / MiB,
                   q->attn_ws / MiB, q->seq_buf / MiB, q->acts_other / MiB, e[i].lay.recompute ? "out" : "",
                   q->batch / MiB, q->data / MiB, q->init_extra / MiB, q->base / MiB);
            const PlanTime *t = &e[i].time;
            printf("time of #1 (ms): compute %.4g, bubble %.4g; messages alone:", t->compute * 1e3, t->bubble * 1e3);
            for (int c = 0; c < PC_COUNT; c++)
                if (t->comm[c] > 0) printf(" %s %.4g", comm_names[c], t->comm[c] * 1e3);
            printf("; exposed %.4g\n", t->exposed * 1e3);
            break;
        }
    /* the layouts that cannot run: each distinct reason once, with how many and one example */
    if (nv < n) printf("%d layouts cannot run:\n", n - nv);
    int shown = 0;
    for (int i = 0; i < n && shown < 25; i++) {
        if (e[i].valid) continue;
        int seen = 0, count = 0;
        char ki[96];
        for (int j = 0; j < i && !seen; j++) seen = !e[j].valid && !strcmp(e[j].reason, e[i].reason);
        if (seen) continue;
        for (int j = i; j < n; j++) count += !e[j].valid && !strcmp(e[j].reason, e[i].reason);
        layout_name(&e[i].lay, ki, sizeof ki);
        printf("  %-34s %s\n", ki, e[i].reason);
        if (count > 1) printf("  %-34s (and %d more layouts for the same reason)\n", "", count - 1);
        shown++;
    }
}
