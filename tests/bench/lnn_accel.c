/*
 * tests/bench/lnn_accel.c — accelerations of a learned system for a batch
 * of states, the way `train` evaluates them (a tape in chunks, matrix
 * products through OpenBLAS, chunks in parallel), and the machine's dgemm
 * rate at the network's shapes.  A benchmark, not a test.
 *
 *   lnn_accel FILE.lag SYSTEM B [single]
 *
 * prints one line of key=value pairs: the median time of B accelerations
 * (ms), their rate, the floating-point operations of the layer products
 * per sample (counted from the program: 2 rows cols per matrix-vector
 * product), the rate that makes, and dgemm's rate for W x W times W x B.
 * With `single`, the layer products in float32 (`precision single`) and
 * sgemm's rate instead.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "lang/front.h"
#include "lang/lower.h"
#include "lang/mech.h"
#include "runtime/blas.h"
#include "runtime/mem.h"
#include "runtime/vm.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4 && !(argc == 5 && strcmp(argv[4], "single") == 0)) {
        fprintf(stderr, "usage: lnn_accel FILE.lag SYSTEM B [single]\n");
        return 2;
    }
    const int single = argc == 5;
    int B = atoi(argv[3]);
    Front F;
    if (front_load(&F, argv[1], stderr) != 0)
        return 1;
    const Item *sys = NULL;
    for (const Item *it = F.prog.items; it; it = it->next)
        if (it->kind == IT_SYSTEM && strcmp(it->name.name, argv[2]) == 0)
            sys = it;
    if (!sys) {
        fprintf(stderr, "lnn_accel: no system %s\n", argv[2]);
        return 1;
    }
    Sym *S = sym_new(F.arena);
    Mech m;
    if (mech_build(&m, S, &F.diag, sys, MECH_NETS) != 0)
        return 1;
    IrProgram *p = lower_rhs_tape(&m);
    if (single)
        ir_set_single(p);
    const int n = m.n;
    double flops = 0; /* per sample, in the layer products */
    int W = 0;
    for (int i = 0; i < p->ncode; i++)
        if (p->code[i].op == IR_VMATVEC || p->code[i].op == IR_VMATTVEC) {
            const IrTensor *t = &p->tensors[p->code[i].c];
            flops += 2.0 * t->rows * t->cols;
            if (t->rows > W)
                W = t->rows;
        }
    double *states = malloc((size_t)B * 2 * (size_t)n * sizeof *states);
    double *out = malloc((size_t)B * (size_t)n * sizeof *out);
    srand(1);
    for (int i = 0; i < B * 2 * n; i++)
        states[i] = (i % (2 * n) < n ? 3.14 : 10) * (2.0 * rand() / RAND_MAX - 1);
    int nw = 1;
#ifdef _OPENMP
    nw = omp_get_max_threads();
#endif
    if (nw > 1)
        blas_threads(1);
    const int chunk = (double)p->nregs * 16 * 32 <= 2e6 ? 32 : 128;
    Vm **vms = malloc((size_t)nw * sizeof *vms);
    const IrProgram *pp = p;
    for (int i = 0; i < nw; i++) {
        vms[i] = vm_alloc(&pp, 1, chunk);
        vms[i]->gemm = 1;
    }
    const int nc = (B + chunk - 1) / chunk;
    double times[7];
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        for (int it = 0; it < 5; it++) {
#pragma omp parallel for schedule(static)
            for (int c = 0; c < nc; c++) {
                int tid = 0;
#ifdef _OPENMP
                tid = omp_get_thread_num();
#endif
                int at = c * chunk, len = B - at < chunk ? B - at : chunk;
                vm_run(vms[tid], p, len, states + (size_t)at * 2 * n, 2 * n, 0, p->param_values,
                       out + (size_t)at * n, n);
            }
        }
        times[rep] = (now() - t0) / 5;
    }
    qsort(times, 7, sizeof *times, cmp);
    double t = times[3];
    /* dgemm at the big layer's shape, OpenBLAS on every core */
    blas_threads(nw);
    double *A = calloc((size_t)W * W, sizeof *A), *X = calloc((size_t)W * B, sizeof *X),
           *Y = calloc((size_t)W * B, sizeof *Y);
    for (int i = 0; i < W * W; i++)
        A[i] = 1e-3 * (i % 97);
    for (int i = 0; i < W * B; i++)
        X[i] = 1e-3 * (i % 89);
    float *Af = calloc((size_t)W * W, sizeof *Af), *Xf = calloc((size_t)W * B, sizeof *Xf),
          *Yf = calloc((size_t)W * B, sizeof *Yf);
    for (int i = 0; i < W * W; i++)
        Af[i] = (float)A[i];
    for (int i = 0; i < W * B; i++)
        Xf[i] = (float)X[i];
    double g[7];
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        for (int it = 0; it < 20; it++)
            if (single)
                blas_sgemm(0, 0, W, B, W, 1, Af, W, Xf, B, 0, Yf, B);
            else
                blas_gemm(0, 0, W, B, W, 1, A, W, X, B, 0, Y, B);
        g[rep] = 2.0 * W * W * B * 20 / (now() - t0) / 1e9;
    }
    qsort(g, 7, sizeof *g, cmp);
    printf("W=%d B=%d threads=%d chunk=%d accel_ms=%.3f accel_per_s=%.0f flops_per_sample=%.0f "
           "gflops=%.1f %s_gflops=%.1f blas=%s\n",
           W, B, nw, chunk, 1e3 * t, B / t, flops, flops * B / t / 1e9, single ? "sgemm" : "dgemm", g[3],
           blas_backend());
    return 0;
}
