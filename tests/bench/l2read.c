/*
 * tests/bench/l2read.c — the rate at which one core reads a buffer that it
 * reads again and again (a layer's weights between evaluations): the
 * memory bound of a learned evaluation (tests/bench/learned.sh).
 *
 *   l2read KIB...   for each size, the best of 20 timings of summing the
 *                   buffer 200 times; prints "KIB GB/s" lines
 *
 * Built by learned.sh with $CC -O3 -march=native; a report, not a test.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 32 independent sums (four vectors of eight), so the adds keep up with
 * the loads */
static double sum(const double *x, size_t n)
{
    double s[32] = {0};
    for (size_t i = 0; i + 32 <= n; i += 32)
        for (int l = 0; l < 32; l++)
            s[l] += x[i + (size_t)l];
    double t = 0;
    for (int l = 0; l < 32; l++)
        t += s[l];
    return t;
}

int main(int argc, char **argv)
{
    double sink = 0;
    for (int a = 1; a < argc; a++) {
        size_t kib = (size_t)atol(argv[a]), n = kib * 1024 / sizeof(double);
        double *x = aligned_alloc(64, n * sizeof *x + 64);
        if (!x || n < 32)
            return 1;
        for (size_t i = 0; i < n; i++)
            x[i] = 1.0 / (double)(i + 1);
        double best = 1e30;
        for (int rep = 0; rep < 20; rep++) {
            double t = now();
            for (int k = 0; k < 200; k++)
                sink += sum(x, n);
            t = now() - t;
            if (t < best)
                best = t;
        }
        printf("%zu %.1f\n", kib, 200.0 * (double)(n * sizeof *x) / best / 1e9);
        free(x);
    }
    return sink == 42 ? 2 : 0;
}
