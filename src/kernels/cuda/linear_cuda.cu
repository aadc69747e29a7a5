/* Linear layers on the GPU (see ops_cuda.h): the kernel table's linear_fwd / linear_bwd through
 * cuBLASLt, fp32 (the checking mode of the CUDA backend).
 *
 * Row-major [rows, cols] is column-major [cols, rows], so with W [N,K] (PyTorch layout):
 *   out[M,N]  = in W^T   is  out^T[N,M] = W^T[N,K] in^T[K,M]     (A = W, op T; B = in, op N)
 *   din[M,K] += dout W   is  din^T[K,M] = W^T[K,N] dout^T[N,M]   (A = W, op N; B = dout, op N)
 *   dw[N,K]  += dout^T in is dw^T[K,N] = in^T[K,M] dout[M,N]     (A = in, op N; B = dout, op T)
 * and the forward's bias is the BIAS epilogue (a vector over the rows of column-major D, i.e. over
 * N), added after alpha AB + beta C, so accumulate = beta 1 with C = D = out.
 *
 * fp32 in, fp32 out, CUBLAS_COMPUTE_32F: no TF32 (this is the mode the tests compare with the CPU
 * at 1e-5; TF32 would be CUBLAS_COMPUTE_32F_FAST_TF32 and bf16 CUDA_R_16BF operands, both in
 * lt_matmul below, with their own tolerances).
 *
 * Determinism: cuBLAS documents that a given toolkit gives the same bits run to run on the same
 * architecture and SM count when one stream is active and, for cublasLtMatmul, the workspace is
 * the caller's: here one preallocated 32 MiB workspace, the default stream, and the algorithm the
 * heuristic gives for the shape (cached per shape and pointer alignment). The bias gradient is
 * not BGRADB (it overwrites instead of accumulating, exists only alongside the dw product, and its
 * reduction order is not documented): a column sum in a fixed order, in double. */
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/ops_cuda.h"

/* cuBLASLt is loaded when the first linear layer runs (dlopen), not linked: the toolkit has it
 * only as a 500 MB shared library, and lvit must start (on the CPU) where it is absent. The
 * calls below go through this table by the same names. */
typedef struct LtApi {
    decltype(&::cublasLtCreate) Create;
    decltype(&::cublasLtGetStatusName) GetStatusName;
    decltype(&::cublasLtGetStatusString) GetStatusString;
    decltype(&::cublasLtMatmul) Matmul;
    decltype(&::cublasLtMatmulAlgoGetHeuristic) MatmulAlgoGetHeuristic;
    decltype(&::cublasLtMatmulDescCreate) MatmulDescCreate;
    decltype(&::cublasLtMatmulDescDestroy) MatmulDescDestroy;
    decltype(&::cublasLtMatmulDescSetAttribute) MatmulDescSetAttribute;
    decltype(&::cublasLtMatmulPreferenceCreate) MatmulPreferenceCreate;
    decltype(&::cublasLtMatmulPreferenceDestroy) MatmulPreferenceDestroy;
    decltype(&::cublasLtMatmulPreferenceSetAttribute) MatmulPreferenceSetAttribute;
    decltype(&::cublasLtMatrixLayoutCreate) MatrixLayoutCreate;
    decltype(&::cublasLtMatrixLayoutDestroy) MatrixLayoutDestroy;
} LtApi;

static void *sym(void *h, const char *name) {
    void *f = dlsym(h, name);
    if (!f) lvit_die_at(__FILE__, __LINE__, 1, "cuBLASLt: no symbol %s in the loaded library (%s)", name, dlerror());
    return f;
}

static const LtApi *lt_api(void) {
    static LtApi a;
    static int loaded = 0;
    if (!loaded) {
        char so[64];
        snprintf(so, sizeof so, "libcublasLt.so.%d", CUBLAS_VER_MAJOR);
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!h) h = dlopen("libcublasLt.so", RTLD_NOW | RTLD_LOCAL);
        if (!h)
            lvit_die_at(__FILE__, __LINE__, 1, "the CUDA backend needs cuBLASLt (%s, from the CUDA toolkit or the "
                        "nvidia-cublas wheel): %s; add its folder to LD_LIBRARY_PATH", so, dlerror());
        a.Create = (decltype(a.Create))sym(h, "cublasLtCreate");
        a.GetStatusName = (decltype(a.GetStatusName))sym(h, "cublasLtGetStatusName");
        a.GetStatusString = (decltype(a.GetStatusString))sym(h, "cublasLtGetStatusString");
        a.Matmul = (decltype(a.Matmul))sym(h, "cublasLtMatmul");
        a.MatmulAlgoGetHeuristic = (decltype(a.MatmulAlgoGetHeuristic))sym(h, "cublasLtMatmulAlgoGetHeuristic");
        a.MatmulDescCreate = (decltype(a.MatmulDescCreate))sym(h, "cublasLtMatmulDescCreate");
        a.MatmulDescDestroy = (decltype(a.MatmulDescDestroy))sym(h, "cublasLtMatmulDescDestroy");
        a.MatmulDescSetAttribute = (decltype(a.MatmulDescSetAttribute))sym(h, "cublasLtMatmulDescSetAttribute");
        a.MatmulPreferenceCreate = (decltype(a.MatmulPreferenceCreate))sym(h, "cublasLtMatmulPreferenceCreate");
        a.MatmulPreferenceDestroy = (decltype(a.MatmulPreferenceDestroy))sym(h, "cublasLtMatmulPreferenceDestroy");
        a.MatmulPreferenceSetAttribute = (decltype(a.MatmulPreferenceSetAttribute))sym(h, "cublasLtMatmulPreferenceSetAttribute");
        a.MatrixLayoutCreate = (decltype(a.MatrixLayoutCreate))sym(h, "cublasLtMatrixLayoutCreate");
        a.MatrixLayoutDestroy = (decltype(a.MatrixLayoutDestroy))sym(h, "cublasLtMatrixLayoutDestroy");
        loaded = 1;
    }
    return &a;
}
#define cublasLtCreate (lt_api()->Create)
#define cublasLtGetStatusName (lt_api()->GetStatusName)
#define cublasLtGetStatusString (lt_api()->GetStatusString)
#define cublasLtMatmul (lt_api()->Matmul)
#define cublasLtMatmulAlgoGetHeuristic (lt_api()->MatmulAlgoGetHeuristic)
#define cublasLtMatmulDescCreate (lt_api()->MatmulDescCreate)
#define cublasLtMatmulDescDestroy (lt_api()->MatmulDescDestroy)
#define cublasLtMatmulDescSetAttribute (lt_api()->MatmulDescSetAttribute)
#define cublasLtMatmulPreferenceCreate (lt_api()->MatmulPreferenceCreate)
#define cublasLtMatmulPreferenceDestroy (lt_api()->MatmulPreferenceDestroy)
#define cublasLtMatmulPreferenceSetAttribute (lt_api()->MatmulPreferenceSetAttribute)
#define cublasLtMatrixLayoutCreate (lt_api()->MatrixLayoutCreate)
#define cublasLtMatrixLayoutDestroy (lt_api()->MatrixLayoutDestroy)

#define LT(call)                                                                                                \
    do {                                                                                                        \
        cublasStatus_t s_ = (call);                                                                             \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                                        \
            lvit_die_at(__FILE__, __LINE__, 1, "%s: %s (%s)", #call, cublasLtGetStatusName(s_),                 \
                        cublasLtGetStatusString(s_));                                                           \
    } while (0)

static const size_t WS_BYTES = (size_t)32 << 20;
static cublasLtHandle_t g_lt = NULL;
static void *g_ws = NULL; /* [WS_BYTES] cuBLASLt workspace, allocated once */

static void lt_init(void) {
    if (g_lt) return;
    LT(cublasLtCreate(&g_lt));
    CU(cudaMalloc(&g_ws, WS_BYTES));
}

/* The largest power of two (4..256 bytes) that p is aligned to: the heuristic must only offer
 * kernels that can read the matrices where they are (slices of a larger buffer included). */
static uint32_t align_of(const void *p) {
    uint32_t a = 256;
    while (a > 4 && ((uintptr_t)p % a) != 0) a >>= 1;
    return a;
}

/* ---- heuristic cache: one algorithm per shape, transposes, epilogue and alignments ---- */
enum { CACHE_N = 64, KEY_N = 13 };
typedef struct {
    int64_t key[KEY_N];
    cublasLtMatmulAlgo_t algo;
} AlgoEntry;
static AlgoEntry g_cache[CACHE_N];
static int g_cache_used = 0, g_cache_next = 0;

/* D (column-major m x n, ld ldd) = op(A) op(B) + beta D (+ bias[m] over the columns when bias).
 * A is stored m x k (op N) or k x m (op T) with ld lda; B k x n (op N) or n x k (op T) with ldb. */
static void lt_matmul(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k, const float *A,
                      int64_t lda, const float *B, int64_t ldb, float beta, float *D, int64_t ldd,
                      const float *bias) {
    lt_init();
    cublasLtMatmulDesc_t op;
    /* TF32: CUBLAS_COMPUTE_32F_FAST_TF32 here; bf16: CUDA_R_16BF layouts below, scale type 32F */
    LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const int32_t ta32 = ta, tb32 = tb;
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta32, sizeof ta32));
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb32, sizeof tb32));
    if (bias) {
        const uint32_t epi = CUBLASLT_EPILOGUE_BIAS;
        const int32_t bias_type = CUDA_R_32F;
        LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
        LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
    }
    cublasLtMatrixLayout_t la, lb, ld;
    const int tA = ta != CUBLAS_OP_N, tB = tb != CUBLAS_OP_N;
    LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, (uint64_t)(tA ? k : m), (uint64_t)(tA ? m : k), lda));
    LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, (uint64_t)(tB ? n : k), (uint64_t)(tB ? k : n), ldb));
    LT(cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, (uint64_t)m, (uint64_t)n, ldd));

    const uint32_t aA = align_of(A), aB = align_of(B), aD = align_of(D), aBias = bias ? align_of(bias) : 256;
    const int64_t key[KEY_N] = {tA, tB, m, n, k, lda, ldb, ldd, bias != NULL, aA, aB, aD, aBias};
    const cublasLtMatmulAlgo_t *algo = NULL;
    for (int i = 0; i < g_cache_used && !algo; i++)
        if (!memcmp(g_cache[i].key, key, sizeof key)) algo = &g_cache[i].algo;
    if (!algo) {
        cublasLtMatmulPreference_t pref;
        LT(cublasLtMatmulPreferenceCreate(&pref));
        const uint64_t wsb = WS_BYTES;
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aA, sizeof aA));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &aB, sizeof aB));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &aD, sizeof aD));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &aD, sizeof aD));
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        LT(cublasLtMatmulAlgoGetHeuristic(g_lt, op, la, lb, ld, ld, pref, 1, &res, &found));
        LT(cublasLtMatmulPreferenceDestroy(pref));
        if (found < 1)
            lvit_die_at(__FILE__, __LINE__, 1,
                        "cuBLASLt has no fp32 algorithm for m=%lld n=%lld k=%lld (op %c%c, lda %lld ldb %lld ldd %lld, "
                        "alignments %u %u %u bytes, bias %s)",
                        (long long)m, (long long)n, (long long)k, tA ? 'T' : 'N', tB ? 'T' : 'N', (long long)lda,
                        (long long)ldb, (long long)ldd, aA, aB, aD, bias ? "yes" : "no");
        AlgoEntry *e = &g_cache[g_cache_used < CACHE_N ? g_cache_used++ : (g_cache_next++ % CACHE_N)];
        memcpy(e->key, key, sizeof key);
        e->algo = res.algo;
        algo = &e->algo;
    }
    const float alpha = 1.0f;
    LT(cublasLtMatmul(g_lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld, algo, g_ws, WS_BYTES, 0));
    LT(cublasLtMatrixLayoutDestroy(la));
    LT(cublasLtMatrixLayoutDestroy(lb));
    LT(cublasLtMatrixLayoutDestroy(ld));
    LT(cublasLtMatmulDescDestroy(op));
}

/* ---------------------------------------------------------------- small kernels */

static const int THREADS = 256;

/* K = 0: out[M,N] = (accumulate ? out : 0) + bias (bias may be NULL) */
__global__ void k_bias_rows(float *out, const float *bias, int64_t N, int accumulate, int64_t n) {
    GRID_STRIDE(i, n) {
        const float b = bias ? bias[i % N] : 0.0f;
        out[i] = accumulate ? out[i] + b : b;
    }
}

/* Column sums of x [M,N] in a fixed order: the rows in chunks of rpc (a function of M only), each
 * chunk summed by 8 row groups of a 32-column block (rows ty, ty+8, ... in order), the groups in
 * order, then the chunks in order. Double accumulators, like the CPU's colsum_cpu. */
enum { CS_COLS = 32, CS_GROUPS = 8, CS_MAX_CHUNKS = 64, CS_MIN_ROWS = 256 };

__global__ void k_colsum_part(double *part /* [nchunk][N] */, const float *x /* [M,N] */, int64_t M, int64_t N,
                              int64_t rpc) {
    __shared__ double sh[CS_GROUPS][CS_COLS];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t col = blockIdx.x * (int64_t)CS_COLS + tx, r0 = blockIdx.y * rpc;
    const int64_t r1 = r0 + rpc < M ? r0 + rpc : M;
    double s = 0.0;
    if (col < N)
        for (int64_t r = r0 + ty; r < r1; r += CS_GROUPS) s += x[r * N + col];
    sh[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && col < N) {
        double t = 0.0;
        for (int g = 0; g < CS_GROUPS; g++) t += sh[g][tx];
        part[blockIdx.y * N + col] = t;
    }
}

__global__ void k_colsum_final(float *sum /* [N] */, const double *part /* [nchunk][N] */, int64_t nchunk, int64_t N) {
    const int64_t col = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (col >= N) return;
    double t = 0.0;
    for (int64_t c = 0; c < nchunk; c++) t += part[c * N + col];
    sum[col] += (float)t;
}

/* sum[N] += column sums of x [M,N] */
static void colsum_acc(float *sum, const float *x, int64_t M, int64_t N) {
    int64_t rpc = (M + CS_MAX_CHUNKS - 1) / CS_MAX_CHUNKS;
    rpc = rpc < CS_MIN_ROWS ? CS_MIN_ROWS : rpc;
    const int64_t nchunk = (M + rpc - 1) / rpc;
    /* partial sums: kept for the process, grown when a larger layer comes (the first step) */
    static double *part = NULL;
    static int64_t cap = 0;
    if (nchunk * N > cap) {
        if (part) CU(cudaFree(part));
        CU(cudaMalloc(&part, sizeof(double) * (size_t)(nchunk * N)));
        cap = nchunk * N;
    }
    const dim3 grid((unsigned)((N + CS_COLS - 1) / CS_COLS), (unsigned)nchunk), block(CS_COLS, CS_GROUPS);
    k_colsum_part<<<grid, block>>>(part, x, M, N, rpc);
    LAUNCHED();
    k_colsum_final<<<(unsigned)((N + THREADS - 1) / THREADS), THREADS>>>(sum, part, nchunk, N);
    LAUNCHED();
}

/* ---------------------------------------------------------------- the table's entries */

extern "C" void linear_fwd_cuda(float *out, const float *in, const float *w, const float *bias, int64_t M, int64_t K,
                                int64_t N, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        k_bias_rows<<<cuda_blocks(M * N, THREADS), THREADS>>>(out, bias, N, accumulate, M * N);
        LAUNCHED();
        return;
    }
    lt_matmul(CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, w, K, in, K, accumulate ? 1.0f : 0.0f, out, N, bias);
}

extern "C" void linear_bwd_cuda(float *din, float *dw, float *dbias, const float *dout, const float *in,
                                const float *w, int64_t M, int64_t K, int64_t N) {
    if (M <= 0 || N <= 0) return;
    if (K > 0) {
        if (din) lt_matmul(CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, w, K, dout, N, 1.0f, din, K, NULL);
        if (dw) lt_matmul(CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, in, K, dout, N, 1.0f, dw, K, NULL);
    }
    if (dbias) colsum_acc(dbias, dout, M, N);
}

/* out = gelu(pre), pre = in W^T + bias saved for the backward. Not CUBLASLT_EPILOGUE_GELU_AUX_BIAS:
 * cuBLASLt's GELU epilogue is the tanh approximation (PyTorch fuses it only for
 * approximate='tanh'), lvit's (kernels.h, the CPU kernels, PyTorch's default) the exact erf form;
 * the two differ by up to 4.7e-4 (near |x| = 2), far beyond the fp32 checks. So the bias epilogue,
 * then the exact GELU kernel: one more pass over out, which a bf16 path can fuse into its own
 * epilogue. */
extern "C" void linear_fwd_gelu_cuda(float *out, float *pre, const float *in, const float *w, const float *bias,
                                     int64_t M, int64_t K, int64_t N) {
    if (M <= 0 || N <= 0) return;
    if (!pre || pre == out)
        lvit_die_at(__FILE__, __LINE__, 1, "linear_fwd_gelu_cuda: pre must be its own buffer (saved for backward)");
    linear_fwd_cuda(pre, in, w, bias, M, K, N, 0);
    gelu_fwd_cuda(out, pre, M * N);
}
