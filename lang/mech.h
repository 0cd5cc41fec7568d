/*
 * lang/mech.h — mechanics from a Lagrangian: the checked system is turned
 * into symbolic-core expressions, from which come the momenta, the mass
 * matrix, the right-hand side of M q'' = f, the energy, the conserved
 * quantities found from the structure of L, and closed-form accelerations
 * where they exist.
 */
#ifndef LAG_MECH_H
#define LAG_MECH_H

#include "lang/ast.h"
#include "lang/diag.h"
#include "lang/sym.h"

typedef enum MechAccel {
    MECH_ACCEL_NONE,     /* solve M q'' = f numerically */
    MECH_ACCEL_SYMBOLIC  /* acc[] holds closed forms */
} MechAccel;

/* A declared symmetry (symmetry NAME: ... in the system). */
typedef struct MechSym {
    const char *name;
    int swap;           /* an exchange: perm[i] is the coordinate i trades places with (i: none) */
    int *perm;
    SymId *dq;          /* continuous: the generator dq_i (zero where not given) */
    SymId Q;            /* continuous: the Noether charge sum_i p_i dq_i */
    SymId dL;           /* the change of L: its variation sum_i L_qi dq_i + L_q'i dq'_i, or
                           L(exchanged) - L */
    int invariant;      /* 1: dL simplifies to 0; 2: it is 0 to rounding at random states; 0: not */
    double residual;    /* max |dL| / max(1, max |L|) at those states */
    int nstates;        /* how many (0 when dL simplified to 0) */
} MechSym;

/* A constraint (constrain NAME: ... in the system), in its velocity form
 * C = A.q' + b = 0: for a holonomic g(q, t) = 0, C = dg/dt.  Its forces
 * enter the equations by a Lagrange multiplier lambda (the
 * Lagrange-d'Alembert principle): M q'' = f + A^T lambda, A q'' = c. */
typedef struct MechCons {
    const char *name;
    const Stmt *stmt;
    SymId g;            /* holonomic: g(q, t), the declared left side minus the right; else 0 */
    SymId C;            /* the velocity form A.q' + b */
    SymId *A;           /* dC/dq', n: expressions of q and t */
    SymId rest;         /* dC/dt at q'' = 0: the constraint at the acceleration level is
                           A q'' + rest = 0 */
} MechCons;

typedef struct Mech {
    Sym *S;
    const Item *sys;
    int n;              /* coordinates */
    int np;             /* parameters */
    int *q, *v;         /* variable ids of the coordinates and velocities */
    int t;              /* variable id of time */
    int *par;           /* variable ids of the parameters */
    int nunknowns;      /* a system's unknown scalars: the last nunknowns of par (train fits
                           them; every other job uses their values) */
    const int *sampled; /* parameters (indices into par) that lowering makes per-sample
                           inputs after the state, in this order (train's drawn
                           parameters), or NULL */
    int nsampled;
    SymId *par_default; /* each one's default: an expression of the earlier ones (0: none) */
    const char **names; /* coordinate names */
    int given_accel;    /* an `accel` system: acc[] given, no L */
    SymId L;            /* the Lagrangian (0 for accel systems) */
    SymId D;            /* the Rayleigh dissipation function, or zero */
    SymId *Q;           /* generalized forces, n */
    SymId *p;           /* momenta, n */
    SymId *M;           /* mass matrix, n*n row-major */
    SymId *f;           /* right-hand side, n */
    SymId *acc;         /* accelerations, n (when accel != NONE) */
    SymId *acc_part;    /* accel NONE: each decoupled coordinate's closed form f_i / M_ii (its row
                           of M is zero off the diagonal), 0 for a coupled one; or NULL */
    MechAccel accel;
    SymId E;            /* energy q'.p - L */
    int explicit_time;  /* L (or D, Q) depends on t */
    int energy_conserved;
    int *cyclic;        /* cyclic[i]: p_i is conserved */
    int m_constant, m_diagonal;
    int singular;       /* det M is identically zero: the equations do not determine q'' */
    int *a;             /* variable ids of the accelerations q'' (for records), or NULL */
    void *lets;         /* the lets' values (mech.c) */
    int nlets;
    int learned;        /* L or accel calls a net (its tensors are in S) */
    void *nets;         /* the nets built so far (mech.c) */
    int nnets, allow_nets;
    int io_errors;      /* a weights file could not be read: exit status 4 */
    const struct MechTrained *trained; /* weights trained earlier in the run, or NULL */
    int single_weights; /* some net's weights were trained in single precision (a weights file
                         * or an earlier job): what simulate's precision defaults to */
    MechSym *syms;      /* the declared symmetries */
    int nsyms;
    MechCons *cons;     /* the constraints, in the order declared */
    int ncons;
    int nonholonomic;   /* how many of them are velocity constraints */
    SymId *lambda;      /* mech_multipliers' values, once made */
    double baumgarte;   /* the rate a of Baumgarte's stabilisation (0: none): the acceleration
                           level is A q'' + rest + 2 a C + a^2 g = 0, set by the job */
    /* A system given by its Hamiltonian (H = ...; lang/hamilton.h): */
    SymId H;            /* H(q, p, t) as written (in q, pv, t), or 0 */
    int *pv;            /* the momentum variables p_q, or NULL */
    SymId *psub;        /* replacements (S->nvars entries): each p_q by m->p, or NULL */
} Mech;

/* The augmented equations of a constrained system, n + ncons of them in
 * the unknowns (q'', lambda): [M, -A^T; A, 0] and [f; c] with
 * c = -(rest + 2 a C + a^2 g) (a = m->baumgarte).  Ma is (n+k)^2 row-major. */
void mech_augmented(Mech *m, SymId *Ma, SymId *fa);
/* The multipliers as expressions of q, q' and the accelerations q'' (the
 * variables of records): lambda = (A A^T)^-1 A (M q'' - f), exact on the
 * constrained motion.  ncons values, made once. */
const SymId *mech_multipliers(Mech *m);

/* The change of a Lagrangian L of m's variables under symmetry y (declared
 * in the system of its own Mech, whose coordinates are matched with m's by
 * position): the variation for a continuous one, L(exchanged) - L for an
 * exchange.  *Q receives the Noether charge of L (0 for an exchange). */
SymId mech_sym_change(Mech *m, const Mech *owner, const MechSym *y, SymId L, const SymId *p, SymId *Q);

enum { MECH_NETS = 1 }; /* mech_build flags: translate net calls (else refuse them) */

/* Weights trained by a job of the run, for the later jobs: a system's
 * tensor ("f.W1") by the system's item and the tensor's name.  The list
 * belongs to the run (lang/run.c), not to the process. */
typedef struct MechTrained {
    const Item *sys;
    char *name;
    int rows, cols;
    double *data;
    int bits;           /* the precision it was trained in: 64, or 32 (float32 values) */
    struct MechTrained *next;
} MechTrained;

/* Record (a copy of) a trained tensor of sys in *list, trained in bits
 * (64 or 32) of precision. */
void mech_trained_set(MechTrained **list, const Item *sys, const char *name, int rows, int cols,
                      const double *data, int bits);
void mech_trained_free(MechTrained *list);
/* The value of a checked constant expression. */
double mech_const_value(const Expr *e);

/* Build the equations of system `sys` (checked, without errors).  Returns 0
 * on success; otherwise the errors (constructs the symbolic core cannot
 * derive yet) are in `d`. */
int mech_build(Mech *m, Sym *S, Diag *d, const Item *sys, int flags);
/* The same, starting sys's nets from the tensors of sys in trained. */
int mech_build_trained(Mech *m, Sym *S, Diag *d, const Item *sys, int flags, const MechTrained *trained);

/* An expression of the system (a job's record): coordinates, velocities,
 * accelerations q'', parameters, lets, t.  Returns 0 after reporting an
 * error in d when it cannot be derived. */
SymId mech_expr(Mech *m, Diag *d, const Expr *e);

/* A problem's discretisation on one interval (runtime/solve.h): each
 * field's values at the interval's two nodes, the midpoint and the length
 * h; the objective and each constraint as the interval term whose sum over
 * the intervals is its value (fields at the midpoint, derivatives as
 * slopes, integral(f) as h*f). */
/* An unknown function poly(k) of a problem: sum_j c_j P_j(u), P_j the
 * Legendre polynomials, u = (2 x - x0 - x1)/(x1 - x0) the domain mapped to
 * [-1, 1].  Its coefficients are unknowns (parameters "rho[j]"); with
 * `fix rho(a) = v` the value at a is v, and c_0 is not an unknown:
 * rho = v + sum_{j>=1} c_j (P_j(u) - P_j(u_a)). */
typedef struct ProbFunc {
    const Stmt *stmt;    /* the unknown's declaration */
    const char *name;
    int degree;
    int first, count;    /* its coefficients: parameters first .. first + count - 1 */
    int fixed;           /* a fix statement gives its value at one point */
    double at, value;    /* ...there (at the parameters' defaults) */
    /* spline(k): the natural cubic spline through its values at k knots
     * spread evenly over the domain (the unknowns "rho[i]"), written as
     * a + b u + sum_j c_j max(0, u - tau_j)^3 in u = (x - x0)/(x1 - x0)
     * with sum c_j = sum c_j tau_j = 0 (linear beyond the end knots);
     * coef[(2 + j) * k + i]: a, b and c_j for a unit value at knot i.
     * With a fix, the value at the knot `pivot` follows from the others. */
    int spline, knots, pivot;
    double *coef;
    double *at_basis;    /* fixed: each knot's cardinal spline at the fixed point */
} ProbFunc;

typedef struct Problem {
    Mech m;              /* m.n fields (m.names), m.par: parameters, unknown scalars, the
                            unknown functions' coefficients, h */
    int nparams;         /* of those, the problem's parameters */
    int nf;              /* fields: m.n, and for an action with constraints one multiplier
                            lambda_NAME for each after the coordinates */
    const char **fnames; /* their names (m.names, then the multipliers') */
    int *u, *w;          /* per field: its value at the left and at the right node */
    int x, h;            /* variables: the midpoint, the interval length (the last parameter) */
    const char *xname;
    double x0, x1;       /* the domain at the parameters' defaults */
    SymId lo_e, hi_e;    /* its ends, expressions of the parameters */
    int stationary;      /* 'stationary' (else 'minimize' or...) */
    int maximize;        /* ...'maximize' */
    SymId objective;
    int ncons;
    SymId *cons;         /* the term of each 'subject''s lhs... */
    SymId *cons_value;   /* ...and its value (an expression of the parameters) */
    const Stmt **cons_stmt;
    int *fixed_lo, *fixed_hi; /* per field: its value at x0 / x1 is fixed... */
    SymId *fix_lo, *fix_hi;   /* ...at this (an expression of the parameters) */
    ProbFunc *funcs;          /* the unknown functions */
    int nfuncs;
} Problem;

/* The value of unknown function f at x with coefficients c (count values),
 * on the domain x0 .. x1; with grad, its derivatives in c. */
double mech_func_value(const ProbFunc *f, const double *c, double x0, double x1, double x, double *grad);
/* Its derivative of the given order (0, 1 or 2) in x, with its gradient. */
double mech_func_deriv(const ProbFunc *f, const double *c, double x0, double x1, double x, int order, double *grad);

/* Build the interval terms of a checked problem, its nets started from
 * their tensors in trained (fitted earlier in the run; NULL: none).
 * Returns 0, or the number of errors reported in d. */
int mech_build_problem(Problem *P, Sym *S, Diag *d, const Item *prob, const MechTrained *trained);
/* A system's action from t0 to t1 as a problem: its coordinates are the
 * fields, the term h*L at the midpoint with q' the slope (the discrete
 * Lagrangian of the variational integrator, runtime/variational.c), a
 * stationary objective, no constraint; the ends are fixed by the job.  A
 * force or dissipation has no action: an error.  Its Mech (P->m) is the
 * system's, with h appended to its parameters.  Each holonomic constraint
 * g = 0 adds a field lambda (after the coordinates: P->nf, P->fnames) and
 * the term (h/2)(lambda_k g(q_k, t_k) + lambda_{k+1} g(q_{k+1}, t_{k+1})):
 * stationary in lambda, g = 0 at every node; in q, the constrained
 * discrete Euler-Lagrange equations of method variational, lambda the
 * multiplier of M q'' = f + A^T lambda.  A velocity constraint is an
 * error. */
int mech_build_action(Problem *P, Sym *S, Diag *d, const Item *sys, double t0, double t1,
                      const MechTrained *trained);
/* The k-th net built (k < m->nnets): its name, inputs and outputs. */
const char *mech_net_info(const Mech *m, int k, int *in, int *out);
/* Its output o at the arguments args (as many as its inputs). */
SymId mech_net_apply(Mech *m, int k, const SymId *args, int o);
/* The functions of the domain variable a problem's nets make, to draw
 * (infer): each let that calls a net and uses no field (rho in
 * `let rho = exp(f(x))`), or, when there is none, each net of one input
 * and one output at x itself.  Their names and values into names, values
 * (at most max); returns the count. */
int mech_net_curves(Problem *P, const char **names, SymId *values, int max);
/* An expression of a problem's domain variable and parameters (a job's
 * guess), or 0 after an error in d. */
SymId mech_problem_expr(Problem *P, Diag *d, const Expr *e);

#endif
