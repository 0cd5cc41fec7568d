/*
 * runtime/variational.h — the discrete Euler–Lagrange (variational)
 * integrator: symplectic, fixed step (Marsden & West, Acta Numerica 2001).
 *
 * With the midpoint discrete Lagrangian L_d(a, b) = h L((a+b)/2, (b-a)/h),
 * each step solves D1 L_d(q_k, q_{k+1}) = -p_k for q_{k+1} by Newton with
 * the exact Jacobian, then p_{k+1} = D2 L_d(q_k, q_{k+1}) (the discrete
 * Legendre transform).  Its energy error stays bounded: no secular drift.
 */
#ifndef LAG_VARIATIONAL_H
#define LAG_VARIATIONAL_H

#include "runtime/simulate.h"

/* del computes, at state (q, q') and time t, the outputs L_q (n), p (n),
 * L_qq (n x n), L_qq' (n x n: d2L/dq_i dq'_j), M (n x n), the generalized
 * force Q - dD/dq' (n) and its derivatives in q and q' (n x n each), all
 * row-major.  Same result conventions as sim_run. */
int var_run(const SimJob *job, const IrProgram *del, SimResult *res);
/* With holonomic constraints g(q, t) = 0 (job->cons), the constrained
 * discrete Euler-Lagrange equations (Marsden & West, section 3.4.2): each
 * step solves, for q_{k+1} and the multipliers lambda_k together,
 *     p_k + D1 L_d(q_k, q_{k+1}) + h G(q_k)^T lambda_k = 0,  g(q_{k+1}) = 0
 * (G = dg/dq), so every q_k is on the constraints to Newton's precision;
 * the output velocity is the one whose momentum differs from p_k by a
 * force of constraint and that is tangent to them (G v + dg/dt = 0). */

#endif
