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

/* Arbitrary expressions of the system's variables (outputs named). */
IrProgram *lower_exprs(Mech *m, const char *name, const SymId *roots, const char *const *names,
                       int n);

#endif
