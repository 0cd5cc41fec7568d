/*
 * lang/units.h — optional unit annotations: `param l = 30 [cm]`, `coord x [m]`.
 *
 * A unit is read into a dimension (exponents of the seven SI base units)
 * and a scale to coherent SI ([cm]: 0.01), which the symbolic core
 * multiplies the quantity by (lang/mech.c), so that the equations are in
 * SI while values, overrides and columns stay in the declared units.  The
 * dimensions of a system's expressions are then inferred and checked: every
 * term of L an energy, a force a generalised force of its coordinate, a
 * dissipation function a power, an accel a coordinate's acceleration, the
 * terms of every sum one dimension, a function's argument a number.
 */
#ifndef LAG_UNITS_H
#define LAG_UNITS_H

#include "lang/arena.h"
#include "lang/ast.h"
#include "lang/diag.h"

/* Read the unit annotations of a system or problem item and, when
 * `resolved` (the checker resolved its names without error), check the
 * dimensions of a system.  A system without any annotation is not checked
 * at all.  Sets Stmt.unit_scale and Stmt.unit_si; returns the number of
 * errors reported. */
int units_check(Diag *d, Arena *a, Item *it, int resolved);

/* Check the sums and functions of an expression of system sys written in a
 * job (a record, a stop condition): they are evaluated in coherent SI, so
 * x - 5 of a coordinate x [cm] is an error there, as in the system. */
int units_check_expr(Diag *d, Arena *a, const Item *sys, const Expr *e);

#endif
