/*
 * lang/el.h — `lag el`: print the equations of motion of the systems of a
 * checked program, as text, LaTeX, .lag expressions or size statistics.
 */
#ifndef LAG_EL_H
#define LAG_EL_H

#include <stdio.h>

#include "lang/front.h"

typedef enum ElFormat { EL_TEXT, EL_LATEX, EL_LAG, EL_STATS, EL_IR } ElFormat;

/* Print the systems of the root file (or only `system`, which may also be an
 * imported one).  Returns an exit status: 0, 1 (input error, reported in
 * F->diag) or 2 (no such system). */
int el_run(Front *F, const char *system, ElFormat format, FILE *out);

/* A parameter value given on the command line: --set SYSTEM.param=value. */
typedef struct ElSet {
    const char *system, *param;
    double value;
    const char *arg; /* the whole argument, for messages */
} ElSet;

/* el_run with parameter values replacing the systems' defaults where the
 * output shows values (--lag, --stats).  Each set must name a system that
 * is printed and one of its parameters, else the run prints nothing and
 * returns 2 (the message, with "did you mean", on stderr). */
int el_run_sets(Front *F, const char *system, ElFormat format, const ElSet *sets, int nsets,
                FILE *out);

/* `lag ir`: print the lowered programs of the systems (same selection). */
int ir_run(Front *F, const char *system, FILE *out);

#endif
