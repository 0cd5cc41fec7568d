/*
 * lang/hamilton.c — the Hamiltonian view (see hamilton.h).
 *
 * A Lagrangian quadratic in the velocities,
 *     L = 1/2 q'^T M(q,t) q' + a(q,t)^T q' - V(q,t),
 * has p = M q' + a, so q' = M^-1 (p - a) and
 *     H = p.q' - L = 1/2 (p - a)^T M^-1 (p - a) + V.
 * Conversely H = 1/2 p^T K p + c^T p + V(q,t) gives q' = K p + c and
 *     L = p.q' - H = 1/2 (q' - c)^T K^-1 (q' - c) - V.
 * The pieces are read off by differentiation: M (K) is the Hessian in q'
 * (p), a (c) the gradient at q' = 0 (p = 0), V the value there; the form
 * is quadratic exactly when that Hessian does not depend on q' (p).
 */
#include "lang/hamilton.h"

#include <stdio.h>
#include <string.h>

#include "runtime/mem.h"

/* 1/d with the parameters common to d's terms cancelled (as mech does for
 * its closed-form accelerations), so m*l^2/(m*l^2) is 1. */
static SymId recip(Sym *S, SymId d)
{
    SymId rest, content = sym_param_content(S, d, &rest);
    return sym_mul2(S, sym_powi(S, content, -1), sym_powi(S, rest, -1));
}

/* The k x k minor of B (k <= 3) without row r and column c: its determinant. */
static SymId minor_det(Sym *S, const SymId *B, int k, int r, int c)
{
    SymId m[4];
    int n = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            if (i != r && j != c)
                m[n++] = B[i * k + j];
    if (k == 2)
        return m[0];
    return sym_sub(S, sym_mul2(S, m[0], m[3]), sym_mul2(S, m[1], m[2]));
}

/* The inverse of a k x k block (k <= 3): adjugate / determinant. */
static int block_inverse(Sym *S, const SymId *B, int k, SymId *inv)
{
    if (k == 1) {
        if (B[0] == S->zero)
            return -2;
        inv[0] = recip(S, B[0]);
        return 0;
    }
    SymId cof[9];
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            SymId m = minor_det(S, B, k, i, j);
            cof[i * k + j] = (i + j) % 2 ? sym_neg(S, m) : m;
        }
    SymId terms[3];
    for (int j = 0; j < k; j++)
        terms[j] = sym_mul2(S, B[j], cof[j]);
    SymId det = sym_add(S, terms, k);
    if (det == S->zero)
        return -2;
    SymId r = recip(S, det);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            inv[i * k + j] = sym_mul2(S, cof[j * k + i], r);
    return 0;
}

static int find(int *parent, int i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

int ham_inverse(Sym *S, const SymId *A, int n, SymId *inv, int *block)
{
    *block = 0;
    int *parent = arena_alloc(S->arena, (size_t)(n ? n : 1) * sizeof *parent);
    int *idx = arena_alloc(S->arena, (size_t)(n ? n : 1) * sizeof *idx);
    for (int i = 0; i < n; i++)
        parent[i] = i;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && A[i * n + j] != S->zero)
                parent[find(parent, i)] = find(parent, j);
    for (int i = 0; i < n * n; i++)
        inv[i] = S->zero;
    for (int r = 0; r < n; r++) {
        if (find(parent, r) != r)
            continue;
        int k = 0;
        for (int i = 0; i < n; i++)
            if (find(parent, i) == r)
                idx[k++] = i;
        if (k > HAM_BLOCK_MAX) {
            *block = k;
            return -1;
        }
        SymId B[9], Bi[9];
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                B[a * k + b] = A[idx[a] * n + idx[b]];
        if (block_inverse(S, B, k, Bi) != 0) {
            *block = k;
            return -2;
        }
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                inv[idx[a] * n + idx[b]] = Bi[a * k + b];
    }
    return 0;
}

/* 1/2 (x - c)^T A (x - c) + V, x the variables xs. */
static SymId quadratic(Sym *S, int n, const int *xs, const SymId *c, const SymId *A, SymId V)
{
    SymId *d = arena_alloc(S->arena, (size_t)(n ? n : 1) * sizeof *d);
    SymId *terms = arena_alloc(S->arena, (size_t)(n * n + 1) * sizeof *terms);
    for (int i = 0; i < n; i++)
        d[i] = sym_sub(S, sym_var(S, xs[i]), c[i]);
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (A[i * n + j] != S->zero)
                terms[k++] = sym_mul2(S, sym_num(S, 0.5), sym_mul2(S, A[i * n + j], sym_mul2(S, d[i], d[j])));
    terms[k++] = V;
    return sym_add(S, terms, k);
}

/* e with the variables xs set to 0. */
static SymId at_zero(Sym *S, SymId e, int n, const int *xs)
{
    double *value = arena_alloc(S->arena, (size_t)S->nvars * sizeof *value);
    char *has = arena_alloc(S->arena, (size_t)S->nvars);
    memset(has, 0, (size_t)S->nvars);
    for (int i = 0; i < n; i++) {
        value[xs[i]] = 0;
        has[xs[i]] = 1;
    }
    return sym_subst(S, e, value, has);
}

static int depends_any(Sym *S, SymId e, int n, const int *xs)
{
    for (int i = 0; i < n; i++)
        if (sym_depends(S, e, xs[i], 0))
            return i;
    return -1;
}

/* The momentum variables p_q of m: its own for an H system, else made. */
static const int *momenta(Mech *m)
{
    if (m->pv)
        return m->pv;
    Sym *S = m->S;
    int *P = arena_alloc(S->arena, (size_t)(m->n ? m->n : 1) * sizeof *P);
    for (int i = 0; i < m->n; i++) {
        const char *name = arena_printf(S->arena, "p_%s", m->names[i]);
        P[i] = sym_add_var(S, name, name, SV_OTHER, i, 0, 0);
    }
    return P;
}

int ham_view(Mech *m, Ham *h, char *why, size_t nwhy)
{
    Sym *S = m->S;
    int n = m->n;
    memset(h, 0, sizeof *h);
    h->n = n;
    if (m->given_accel) {
        snprintf(why, nwhy, "the system gives its accelerations, not a Lagrangian");
        return -1;
    }
    const int *P = momenta(m);
    h->P = P;
    if (m->H) {
        h->H = m->H;
    } else {
        for (int i = 0; i < n * n; i++) {
            int j = depends_any(S, m->M[i], n, m->v);
            if (j >= 0) {
                snprintf(why, nwhy, "L is not quadratic in the velocities (the mass matrix d2L/dq'2 depends "
                         "on %s'), so p = dL/dq' has no closed-form inverse here", m->names[j]);
                return -1;
            }
        }
        SymId *Minv = arena_alloc(S->arena, (size_t)(n > 0 ? n * n : 1) * sizeof *Minv);
        int block, rc = ham_inverse(S, m->M, n, Minv, &block);
        if (rc == -2) {
            snprintf(why, nwhy, "the mass matrix is singular (det M = 0 for every state), so the velocities do "
                     "not follow from the momenta");
            return -1;
        }
        if (rc != 0) {
            snprintf(why, nwhy, "the mass matrix couples %d coordinates; its inverse is formed in closed form "
                     "for blocks of at most %d", block, HAM_BLOCK_MAX);
            return -1;
        }
        SymId *a = arena_alloc(S->arena, (size_t)(n ? n : 1) * sizeof *a);
        for (int i = 0; i < n; i++)
            a[i] = at_zero(S, m->p[i], n, m->v);
        SymId V = sym_neg(S, at_zero(S, m->L, n, m->v));
        h->H = quadratic(S, n, P, a, Minv, V);
    }
    /* Hamilton's equations; a force or dissipation (functions of q') acts
     * at q' = dH/dp */
    h->dq = arena_alloc(S->arena, (size_t)(n ? n : 1) * sizeof *h->dq);
    h->dp = arena_alloc(S->arena, (size_t)(n ? n : 1) * sizeof *h->dp);
    SymId *with = arena_alloc(S->arena, (size_t)S->nvars * sizeof *with);
    memset(with, 0, (size_t)S->nvars * sizeof *with);
    for (int i = 0; i < n; i++) {
        h->dq[i] = sym_diff(S, h->H, P[i]);
        with[m->v[i]] = h->dq[i];
    }
    for (int i = 0; i < n; i++) {
        SymId gen = sym_sub(S, m->Q[i], sym_diff(S, m->D, m->v[i]));
        h->dp[i] = sym_add2(S, sym_neg(S, sym_diff(S, h->H, m->q[i])), sym_replace(S, gen, with));
    }
    return 0;
}

/* The first term of H (a sum) not quadratic in the momenta. */
static SymId non_quadratic_term(Sym *S, SymId H, int n, const int *P)
{
    const SymNode *x = sym_node(S, H);
    int nt = x->op == SYM_ADD ? x->n : 1;
    for (int k = 0; k < nt; k++) {
        SymId t = x->op == SYM_ADD ? x->args[k] : H;
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
                if (depends_any(S, sym_diff(S, sym_diff(S, t, P[i]), P[j]), n, P) >= 0)
                    return t;
    }
    return H;
}

int ham_to_lagrangian(Mech *m, Diag *d, const Stmt *s)
{
    Sym *S = m->S;
    int n = m->n;
    const int *P = m->pv;
    if (m->learned) {
        diag_error(d, s->loc, "a Hamiltonian that calls a net is not turned into a Lagrangian: give the "
                              "learned system by its Lagrangian");
        return 1;
    }
    SymId *K = arena_alloc(S->arena, (size_t)(n > 0 ? n * n : 1) * sizeof *K);
    SymId *c = arena_alloc(S->arena, (size_t)(n ? n : 1) * sizeof *c);
    for (int i = 0; i < n; i++) {
        SymId g = sym_diff(S, m->H, P[i]);
        c[i] = at_zero(S, g, n, P);
        for (int j = 0; j < n; j++)
            K[i * n + j] = sym_diff(S, g, P[j]);
    }
    for (int i = 0; i < n * n; i++)
        if (depends_any(S, K[i], n, P) >= 0) {
            char *term = sym_to_string(S, S->arena, non_quadratic_term(S, m->H, n, P));
            diag_error(d, s->loc, "H is not quadratic in the momenta (the term %s is not), so the velocities "
                       "q' = dH/dp do not give the momenta in closed form: write H as 1/2 p.K(q,t).p + "
                       "c(q,t).p + V(q,t), or give the system by its Lagrangian", term);
            return 1;
        }
    SymId *Kinv = arena_alloc(S->arena, (size_t)(n > 0 ? n * n : 1) * sizeof *Kinv);
    int block, rc = ham_inverse(S, K, n, Kinv, &block);
    if (rc == -2) {
        diag_error(d, s->loc, "d2H/dp2 is singular (its determinant is 0 for every state), so the momenta "
                              "do not follow from the velocities: no Lagrangian is equivalent to this H");
        return 1;
    }
    if (rc != 0) {
        diag_error(d, s->loc, "d2H/dp2 couples %d momenta; its inverse (for the equivalent Lagrangian) is "
                              "formed in closed form for blocks of at most %d",
                   block, HAM_BLOCK_MAX);
        return 1;
    }
    SymId V = at_zero(S, m->H, n, P);
    m->L = quadratic(S, n, m->v, c, Kinv, sym_neg(S, V));
    return 0;
}

int ham_momentum_index(const Mech *m, const char *name)
{
    if (!m->H || strncmp(name, "p_", 2) != 0)
        return -1;
    for (int i = 0; i < m->n; i++)
        if (strcmp(name + 2, m->names[i]) == 0)
            return i;
    return -1;
}

void ham_start_velocities(Mech *m, double *y, int rows, int w, double t0, const char *const *pnames,
                          const double *pvals, int np, const char *const *drawn, int ndrawn)
{
    Sym *S = m->S;
    const int n = m->n;
    Ham h;
    char why[300];
    if (ham_view(m, &h, why, sizeof why) != 0)
        return; /* not for a system given by H: mech_build made its L from H */
    double *x = mem_xalloc((size_t)S->nvars * sizeof *x);
    double *v = mem_xalloc((size_t)(n ? n : 1) * sizeof *v);
    int *col = mem_xalloc((size_t)(m->np ? m->np : 1) * sizeof *col);
    memset(x, 0, (size_t)S->nvars * sizeof *x);
    /* each parameter's value for every row, or the column it is drawn in */
    for (int k = 0; k < m->np; k++) {
        const char *name = S->vars[m->par[k]].name;
        x[m->par[k]] = S->vars[m->par[k]].value;
        for (int j = 0; j < np; j++)
            if (strcmp(pnames[j], name) == 0)
                x[m->par[k]] = pvals[j];
        col[k] = -1;
        for (int d = 0; d < ndrawn; d++)
            if (strcmp(drawn[d], name) == 0)
                col[k] = 2 * n + d;
    }
    x[m->t] = t0;
    for (int r = 0; r < rows; r++) {
        double *row = y + (size_t)r * (size_t)w;
        for (int k = 0; k < m->np; k++)
            if (col[k] >= 0)
                x[m->par[k]] = row[col[k]];
        for (int i = 0; i < n; i++) {
            x[m->q[i]] = row[i];
            x[m->pv[i]] = row[n + i];
        }
        for (int i = 0; i < n; i++)
            v[i] = sym_eval(S, h.dq[i], x);
        memcpy(row + n, v, (size_t)n * sizeof *v);
    }
    mem_free(col);
    mem_free(v);
    mem_free(x);
}
