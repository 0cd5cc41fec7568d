/*
 * tests/unit/rkbatch_test.c — the batched Runge–Kutta against GSL (TAP).
 *
 * rk-1: for rkf45, rkck and rk8pd, 37 lanes of a forced, coupled pair of
 *       nonlinear oscillators with a per-lane constant (the width 2n + 1
 *       of a drawn parameter), stepped to 21 output times: every lane's
 *       state at every output time equals, bit for bit, what
 *       gsl_odeiv2_driver_apply gives for that lane alone (the same
 *       right-hand side, gsl_odeiv2_driver_alloc_y_new at the same tol and
 *       first step), and the steps (tried, as GSL's evolve counts them) are GSL's in number.
 * rk-2: a lane whose accelerations turn NaN after t = 2 fails there with
 *       RK_NOT_FINITE (its coordinate and time recorded) and stops; the
 *       others still equal GSL's runs bit for bit to the end.
 * rk-3: a single lane (B = 1) equals GSL too.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>

#include "runtime/rkbatch.h"

#define TAP_SEED 0x243F6A8885A308D3ull
#include "tests/unit/tap.h"

/* (tap.h's self-check is vm_test's) */
static int (*const unused_selfcheck)(void) __attribute__((unused)) = worst_selfcheck;

enum { N = 2, W = 2 * N + 1 };

static int poison = -1; /* a lane whose constant is this value goes NaN after t = 2 */

static void accel(double t, const double *y, double *a)
{
    double c = y[4];
    a[0] = -c * sin(y[0]) + 0.3 * cos(1.7 * t) - 0.05 * y[2] + 0.2 * sin(y[1] - y[0]);
    a[1] = -(y[1] + 0.5 * y[1] * y[1] * y[1]) + 0.2 * c * sin(y[0] - y[1]);
    if (poison >= 0 && c == 1.0 + poison && t > 2)
        a[1] = NAN;
}

static int gsl_rhs(double t, const double y[], double dydt[], void *params)
{
    (void)params;
    double a[N];
    accel(t, y, a);
    dydt[0] = y[2];
    dydt[1] = y[3];
    dydt[2] = a[0];
    dydt[3] = a[1];
    dydt[4] = 0;
    /* as lag's own right-hand side: an acceleration that is not finite fails */
    return isfinite(a[0]) && isfinite(a[1]) ? GSL_SUCCESS : GSL_EBADFUNC;
}

static int batch_rhs(void *ctx, int nb, const double *x, size_t ld, const double *ts, double *acc, size_t ald,
                     unsigned char *why)
{
    (void)ctx;
    for (int p = 0; p < nb; p++) {
        double y[W], a[N];
        for (int i = 0; i < W; i++)
            y[i] = x[(size_t)i * ld + (size_t)p];
        accel(ts[p], y, a);
        for (int i = 0; i < N; i++)
            acc[(size_t)i * ald + (size_t)p] = a[i];
        why[p] = 0;
    }
    return 0;
}

static void initial(int B, double *y0)
{
    for (int l = 0; l < B; l++) {
        double *y = y0 + (size_t)l * W;
        y[0] = uniform(-2, 2);
        y[1] = uniform(-1, 1);
        y[2] = uniform(-1, 1);
        y[3] = uniform(-0.5, 0.5);
        y[4] = 1.0 + l; /* the lane's constant */
    }
}

/* Run B lanes with method name; count lanes that differ from GSL at any
 * output time (and, with poison set, check that lane's failure). */
static void compare(const char *name, const gsl_odeiv2_step_type *type, int B, int *differ, int *steps_equal,
                    int *failed_right)
{
    enum { MAXB = 64 };
    double y0[MAXB * W], ys[MAXB * W], yg[MAXB * W], tg[MAXB];
    const double tol = 1e-9, h0 = 1e-3;
    initial(B, y0);
    gsl_odeiv2_system sys = {gsl_rhs, NULL, W, NULL};
    gsl_odeiv2_driver *d[MAXB];
    int gdead[MAXB] = {0};
    for (int l = 0; l < B; l++) {
        d[l] = gsl_odeiv2_driver_alloc_y_new(&sys, type, h0, tol, tol);
        memcpy(yg + l * W, y0 + l * W, sizeof(double) * W);
        tg[l] = 0;
    }
    RkBatch *b = rk_new(rk_tableau(name), B, N, W, y0, 0, h0, tol, batch_rhs, NULL);
    *differ = 0;
    *failed_right = poison < 0;
    for (int k = 1; k <= 20; k++) {
        double T = 0.25 * k;
        rk_advance(b, T);
        rk_states(b, ys);
        for (int l = 0; l < B; l++) {
            if (gdead[l])
                continue;
            int st = gsl_odeiv2_driver_apply(d[l], &tg[l], T, yg + l * W);
            if (st != GSL_SUCCESS) {
                gdead[l] = 1;
                /* lag's lane fails at the start of the step GSL's evaluation
                 * at its end stopped (GSL computes dydt_out, lag does not) */
                *failed_right = l == poison && b->status[l] == RK_NOT_FINITE && b->which[l] == 1 &&
                                b->fail_t[l] > 2 - 0.3 && b->fail_t[l] <= 2.25;
                continue;
            }
            if (b->status[l] != RK_OK || memcmp(ys + l * W, yg + l * W, sizeof(double) * W) != 0)
                (*differ)++;
        }
    }
    unsigned long gsteps = 0;
    for (int l = 0; l < B; l++) {
        if (l != poison)
            gsteps += d[l]->e->count;
        gsl_odeiv2_driver_free(d[l]);
    }
    *steps_equal = poison >= 0 || gsteps == b->steps;
    if (poison >= 0)
        *failed_right = *failed_right && b->failed == 1;
    rk_free(b);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct {
        const char *name;
        const gsl_odeiv2_step_type *const *type;
    } methods[] = {{"rkf45", &gsl_odeiv2_step_rkf45}, {"rkck", &gsl_odeiv2_step_rkck}, {"rk8pd", &gsl_odeiv2_step_rk8pd}};
    for (int m = 0; m < 3; m++) {
        int differ, steps, failed;
        compare(methods[m].name, *methods[m].type, 37, &differ, &steps, &failed);
        ok(differ == 0 && steps, "rk-1.%d %s: 37 lanes at 20 output times equal GSL's single runs bit for bit "
           "(%d lane-times differ), the same number of steps", m + 1, methods[m].name, differ);
    }
    for (int m = 0; m < 3; m++) {
        int differ, steps, failed;
        poison = 5;
        compare(methods[m].name, *methods[m].type, 12, &differ, &steps, &failed);
        poison = -1;
        ok(differ == 0 && failed, "rk-2.%d %s: lane 5 fails with a NaN acceleration after t = 2 (RK_NOT_FINITE, "
           "coordinate 2); the 11 others equal GSL's runs bit for bit (%d lane-times differ)", m + 1,
           methods[m].name, differ);
    }
    for (int m = 0; m < 3; m++) {
        int differ, steps, failed;
        compare(methods[m].name, *methods[m].type, 1, &differ, &steps, &failed);
        ok(differ == 0 && steps, "rk-3.%d %s: one lane equals GSL's run bit for bit", m + 1, methods[m].name);
    }
    printf("1..%d\n", test_no);
    return 0;
}
