/*
 * lang/el.h — `lag el`: print the equations of motion of the systems of a
 * checked program, as text, LaTeX, .lag expressions or size statistics.
 */
#ifndef LAG_EL_H
#define LAG_EL_H

#include <stdio.h>

#include "lang/front.h"
#include "lang/override.h"

typedef enum ElFormat { EL_TEXT, EL_LATEX, EL_LAG, EL_STATS, EL_IR } ElFormat;

/* Print the systems of the root file (or only `system`, which may also be an
 * imported one).  Returns an exit status: 0, 1 (input error, reported in
 * F->diag) or 2 (no such system). */
int el_run(Front *F, const char *system, ElFormat format, FILE *out);

/* el_run with parameter values (--set SYSTEM.param=value, checked against
 * the program by override_resolve) replacing the systems' defaults where
 * the output shows values (--lag, --stats).  Each must name a system that
 * is printed, else the run prints nothing and returns 2 (the message on
 * stderr). */
int el_run_sets(Front *F, const char *system, ElFormat format, const Override *sets, int nsets,
                FILE *out);

/* What el_run_view prints: the Lagrangian equations (el_run_sets), or the
 * Hamiltonian view (--hamiltonian: H, Hamilton's equations; lang/hamilton.h). */
typedef enum ElView { EL_VIEW_LAGRANGIAN, EL_VIEW_HAMILTONIAN } ElView;

int el_run_view(Front *F, const char *system, ElFormat format, const Override *sets, int nsets,
                ElView view, FILE *out);

/* `lag ir`: print the lowered programs of the systems (same selection). */
int ir_run(Front *F, const char *system, FILE *out);

#endif
