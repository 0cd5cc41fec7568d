/*
 * tests/bench/dp_ref.c — the hand-written reference for the simulate
 * benchmark: the double pendulum's closed-form right-hand side driving
 * GSL's rk8pd through gsl_odeiv2_driver, writing the same CSV as
 * `lag run` (t, t1, t2, t1', t2', E with %.17g).
 *
 * usage: dp_ref T_END EVERY TOL OUT.csv [T1 T2 T1' T2']  (the start;
 * default 3 pi/7, 3 pi/4 at rest)
 */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const double m1 = 1, m2 = 1, l1 = 1, l2 = 1, g = 9.81;

/* M q'' = f for absolute angles from the downward vertical, solved by
 * Cramer's rule */
static int rhs(double t, const double y[], double dydt[], void *params)
{
    (void)t;
    (void)params;
    double d = y[0] - y[1], c = cos(d), s = sin(d);
    double M11 = (m1 + m2) * l1 * l1, M12 = m2 * l1 * l2 * c, M22 = m2 * l2 * l2;
    double f1 = -m2 * l1 * l2 * y[3] * y[3] * s - (m1 + m2) * g * l1 * sin(y[0]);
    double f2 = m2 * l1 * l2 * y[2] * y[2] * s - m2 * g * l2 * sin(y[1]);
    double det = M11 * M22 - M12 * M12;
    dydt[0] = y[2];
    dydt[1] = y[3];
    dydt[2] = (M22 * f1 - M12 * f2) / det;
    dydt[3] = (M11 * f2 - M12 * f1) / det;
    return GSL_SUCCESS;
}

static double energy(const double y[])
{
    double T = 0.5 * (m1 + m2) * l1 * l1 * y[2] * y[2] + 0.5 * m2 * l2 * l2 * y[3] * y[3] +
               m2 * l1 * l2 * y[2] * y[3] * cos(y[0] - y[1]);
    double V = -(m1 + m2) * g * l1 * cos(y[0]) - m2 * g * l2 * cos(y[1]);
    return T + V;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 9) {
        fprintf(stderr, "usage: dp_ref T_END EVERY TOL OUT.csv [T1 T2 T1' T2']\n");
        return 2;
    }
    double t1 = atof(argv[1]), every = atof(argv[2]), tol = atof(argv[3]);
    FILE *out = fopen(argv[4], "w");
    if (!out)
        return 4;
    gsl_odeiv2_system sys = {rhs, NULL, 4, NULL};
    gsl_odeiv2_driver *d =
        gsl_odeiv2_driver_alloc_y_new(&sys, gsl_odeiv2_step_rk8pd, every < 1e-3 ? every : 1e-3, tol, tol);
    double y[4] = {3 * M_PI / 7, 3 * M_PI / 4, 0, 0}, t = 0;
    for (int i = 0; argc == 9 && i < 4; i++)
        y[i] = atof(argv[5 + i]);
    fprintf(out, "t,t1,t2,t1',t2',E\n");
    long n = (long)floor(t1 / every + 1e-9);
    for (long k = 0; k <= n; k++) {
        if (k > 0 && gsl_odeiv2_driver_apply(d, &t, (double)k * every, y) != GSL_SUCCESS)
            return 3;
        fprintf(out, "%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", t, y[0], y[1], y[2], y[3], energy(y));
    }
    gsl_odeiv2_driver_free(d);
    return fclose(out) == 0 ? 0 : 4;
}
