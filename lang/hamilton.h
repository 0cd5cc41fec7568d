/*
 * lang/hamilton.h — the Hamiltonian view of a Mech: H(q, p, t) by the
 * Legendre transform of a Lagrangian quadratic in the velocities, and the
 * inverse transform that turns a system given by its Hamiltonian (H = ...,
 * quadratic in the momenta) into the equivalent Lagrangian, so that every
 * job runs it unchanged.
 *
 * Both need the inverse of a symmetric matrix of expressions (M or
 * d2H/dp2): it is formed in closed form (the adjugate over the
 * determinant) for each block of at most 3 x 3 of its coupling pattern, so
 * a diagonal matrix of any size, any matrix up to 3 x 3 and any matrix made
 * of such independent blocks have one; a larger coupled block has none
 * here (its expressions would grow as n!).
 */
#ifndef LAG_HAMILTON_H
#define LAG_HAMILTON_H

#include <stddef.h>

#include "lang/mech.h"

enum { HAM_BLOCK_MAX = 3 }; /* the largest coupled block inverted in closed form */

/* The inverse of the symmetric n x n matrix A (row-major) into inv.
 * Returns 0; -1 when a coupled block is larger than HAM_BLOCK_MAX; -2 when
 * a block's determinant is identically zero (singular).  *block receives
 * the size of the offending block (or 0). */
int ham_inverse(Sym *S, const SymId *A, int n, SymId *inv, int *block);

typedef struct Ham {
    int n;
    const int *P;  /* the momentum variables p_q (named as lag el prints them) */
    SymId H;       /* H(q, p, t) */
    SymId *dq;     /* Hamilton's equations: q' = dH/dp... */
    SymId *dp;     /* ...p' = -dH/dq + Q - dD/dq' (forces at q' = dH/dp) */
} Ham;

/* H of m and Hamilton's equations: m's own H for a system given by it,
 * else the Legendre transform of L.  Returns 0, or -1 with the reason it
 * has no closed form here in why (L not quadratic in the velocities, M
 * singular or too large). */
int ham_view(Mech *m, Ham *h, char *why, size_t nwhy);

/* For mech_build: the Lagrangian of a system given by H = ... (statement
 * s, translated into m->H in q, m->pv and t), into m->L.  Returns 0, or the
 * number of errors reported in d (H not quadratic in the momenta, naming
 * the term; d2H/dp2 singular or too large). */
int ham_to_lagrangian(Mech *m, Diag *d, const Stmt *s);

/* For a system given by H: the coordinate whose momentum name is (p_q),
 * or -1. */
int ham_momentum_index(const Mech *m, const char *name);

/* A simulate job's starts given in momenta (init p_q = ...): each of the
 * rows of y (width w: q, then the momenta in the velocities' places, then
 * the ndrawn parameters drawn per row, named drawn[]) gets its velocities
 * q' = dH/dp at (q, p, t0).  The parameters are the job's values (pvals
 * of the parameters named pnames, np of them), else their defaults. */
void ham_start_velocities(Mech *m, double *y, int rows, int w, double t0, const char *const *pnames,
                          const double *pvals, int np, const char *const *drawn, int ndrawn);

#endif
