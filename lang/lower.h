/*
 * lang/lower.h — lowering the symbolic equations of a system to IR
 * programs (runtime/ir.h): the right-hand side (accelerations), the energy
 * and any extra expressions a job records.
 */
#ifndef LAG_LOWER_H
#define LAG_LOWER_H

#include "lang/mech.h"
#include "runtime/ir.h"

/* Accelerations q'' (outputs accel_<q>): the closed form where there is one,
 * else M and f and a SOLVE. */
IrProgram *lower_rhs(Mech *m);

/* The same program as a tape for reverse-mode derivatives
 * (runtime/adjoint.h): every value keeps its own register, none is reused. */
IrProgram *lower_rhs_tape(Mech *m);
/* The Jacobian of the accelerations when they have no closed form, from
 * M a = f: da/dx = M^-1 (df/dx - (dM/dx) a) for x in (q, q') and t.  Inputs
 * are (q, q', a): 3n values; outputs as SimJob.jac expects (n x 2n, then n). */
IrProgram *lower_jacobian_solve(Mech *m);

/* Arbitrary expressions of the system's variables (outputs named). */
IrProgram *lower_exprs(Mech *m, const char *name, const SymId *roots, const char *const *names,
                       int n);
/* The same as a tape (every value keeps its register), for the reverse
 * sweep of runtime/adjoint.h. */
IrProgram *lower_exprs_tape(Mech *m, const char *name, const SymId *roots, const char *const *names, int n);

/* Expressions of any variables of S: the state inputs are the variables
 * inputs[0 .. nin-1] in that order, the parameters params[0 .. np-1]; every
 * other variable the roots use must be one of these (the variational
 * engine's interval terms: node values and the midpoint). */
IrProgram *lower_inputs(Sym *S, const char *name, const int *inputs, int nin, const int *params, int np,
                        const SymId *roots, const char *const *names, int n);
/* The same as a tape (train's loss action: the discrete Euler-Lagrange
 * residual over the nets' weights). */
IrProgram *lower_inputs_tape(Sym *S, const char *name, const int *inputs, int nin, const int *params, int np,
                             const SymId *roots, const char *const *names, int n);

#endif
