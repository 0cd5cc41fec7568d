/*
 * runtime/input.c — interpolating a sampled signal (see input.h).
 *
 * Linear interpolation is the polygon through the samples: its derivative
 * is the slope of the interval, the higher ones zero.  The natural cubic
 * spline has zero second derivative at both ends; its second derivatives
 * m_i at the samples solve the tridiagonal system
 *     h_{i-1} m_{i-1} + 2 (h_{i-1} + h_i) m_i + h_i m_{i+1}
 *         = 6 ((y_{i+1} - y_i)/h_i - (y_i - y_{i-1})/h_{i-1}),
 * and on [t_i, t_{i+1}] with a = (t_{i+1} - x)/h, b = (x - t_i)/h
 *     S = a y_i + b y_{i+1} + ((a^3 - a) m_i + (b^3 - b) m_{i+1}) h^2 / 6
 * (Press et al., Numerical Recipes, 3rd ed., section 3.3).
 */
#include "runtime/input.h"

#include <math.h>
#include <stdio.h>

void input_spline(int n, const double *t, const double *y, double *m, double *work)
{
    /* Thomas algorithm on the interior equations; m_0 = m_{n-1} = 0 */
    double *c = work;
    m[0] = m[n - 1] = 0;
    c[0] = 0;
    for (int i = 1; i < n - 1; i++) {
        double h0 = t[i] - t[i - 1], h1 = t[i + 1] - t[i];
        double r = 6 * ((y[i + 1] - y[i]) / h1 - (y[i] - y[i - 1]) / h0);
        double diag = 2 * (h0 + h1) - h0 * c[i - 1];
        c[i] = h1 / diag;
        m[i] = (r - h0 * m[i - 1]) / diag;
    }
    for (int i = n - 2; i >= 1; i--)
        m[i] -= c[i] * m[i + 1];
}

static _Atomic unsigned long outside; /* values asked for outside the data (and not held) */

unsigned long input_outside(void)
{
    return outside;
}

double input_eval(const InputData *d, int order, double x)
{
    int n = d->n;
    if (!(x >= d->t[0] && x <= d->t[n - 1])) {
        if (d->hold && !isnan(x))
            return order ? 0 : x < d->t[0] ? d->y[0] : d->y[n - 1];
        outside++;
        if (d->warned && !*d->warned) {
            *d->warned = 1;
            fprintf(stderr, "lag: input %s(t) is asked for its value at t = %g, outside its data (%g .. %g in "
                    "%s); extend the data or write 'outside hold'\n", d->name, x, d->t[0], d->t[n - 1], d->file);
        }
        return NAN;
    }
    /* the interval [t_i, t_{i+1}] holding x, by bisection */
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (d->t[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    double h = d->t[hi] - d->t[lo], y0 = d->y[lo], y1 = d->y[hi];
    if (!d->m) {
        if (order == 0)
            return y0 + (y1 - y0) * (x - d->t[lo]) / h;
        return order == 1 ? (y1 - y0) / h : 0;
    }
    double m0 = d->m[lo], m1 = d->m[hi];
    double a = (d->t[hi] - x) / h, b = (x - d->t[lo]) / h;
    switch (order) {
    case 0: return a * y0 + b * y1 + ((a * a * a - a) * m0 + (b * b * b - b) * m1) * h * h / 6;
    case 1: return (y1 - y0) / h - (3 * a * a - 1) * h * m0 / 6 + (3 * b * b - 1) * h * m1 / 6;
    case 2: return a * m0 + b * m1;
    case 3: return (m1 - m0) / h;
    default: return 0;
    }
}
