/*
 * lang/modes.h — `lag modes`: an equilibrium of a system and its normal
 * modes.
 *
 * The equilibrium is a root of f(q, q' = 0, t = 0), the right-hand side
 * of M q'' = f (for L = T - V that is -dV/dq, centrifugal terms of a
 * rotating frame included), found by damped Newton steps through the
 * symbolic Jacobian df/dq from a starting point.  Linearised there,
 * M dq'' = -K dq with K = -df/dq, the modes solve K v = w^2 M v
 * (gsl_eigen_gensymmv): w^2 < 0 is an unstable direction, reported as an
 * imaginary frequency.  Nets in L work the same way (the derivatives go
 * through the networks).
 */
#ifndef LAG_MODES_H
#define LAG_MODES_H

#include <stdio.h>

#include "lang/front.h"
#include "lang/override.h"

/* One coordinate's starting value from --at NAME=value. */
typedef struct ModesAt {
    const char *name; /* not terminated: name_len bytes of arg */
    int name_len;
    double value;
    const char *arg; /* the whole argument, for messages */
} ModesAt;

/* The form of one --at argument, "q=value[,q2=value...]": each pair is
 * appended to at (which has room for one per '=' in arg), *nat counts
 * them.  Returns 0, or 2 after "lag: modes: --at ..." on stderr. */
int modes_parse_at(const char *arg, ModesAt *at, int *nat);

/* The modes of `system` of the loaded program F: the start's coordinates
 * (at, nat; every other coordinate starts at 0), parameter values (sets,
 * checked by override_resolve: each must name this system), text or one
 * JSON line on out.  Returns an exit status: 0; 1 (input: the equations
 * cannot be built); 2 (usage: no such system, a bad --at or --set); 3
 * (numeric: no equilibrium found, M singular or not positive definite
 * there, the eigensolver failed); 4 (I/O: a weights file, or writing). */
int modes_run(Front *F, const char *system, const ModesAt *at, int nat, const Override *sets, int nsets,
              int json, FILE *out);

#endif
