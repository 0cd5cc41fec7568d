/*
 * runtime/input.h — forcing signals read from data: `input F(t) from
 * "f.csv"` (LANGUAGE.md), interpolated linearly or by a natural cubic
 * spline, with its derivatives.
 */
#ifndef LAG_INPUT_H
#define LAG_INPUT_H

typedef struct InputData {
    const char *name;   /* the input's name, F */
    const char *file;   /* as written in the .lag file */
    int n;              /* samples (at least 2; 3 for a spline) */
    const double *t, *y;/* strictly increasing times, values */
    const double *m;    /* a spline's second derivatives at the samples, or NULL: linear */
    int hold;           /* outside t[0] .. t[n-1]: hold the end value (else NaN and a message) */
    int *warned;        /* the message was printed (one per input) */
} InputData;

/* The derivative of the given order (0 .. 4) of the interpolant at x. */
double input_eval(const InputData *d, int order, double x);
/* How many values inputs have been asked for outside their data (not
 * held) in this process: a run that fails after this grew failed there. */
unsigned long input_outside(void);
/* A natural cubic spline's second derivatives m[0..n-1] through (t, y);
 * work holds n doubles. */
void input_spline(int n, const double *t, const double *y, double *m, double *work);

/* What an extern slot points at for an input: the data and the
 * derivative's order. */
typedef struct InputFn {
    const InputData *data;
    int order;
} InputFn;

#endif
