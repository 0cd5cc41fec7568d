/*
 * lang/modes.c — `lag modes` (see modes.h).
 *
 * Everything is evaluated from the Mech's symbolic expressions: g(q) = f
 * at q' = 0, t = 0 (the given accelerations of an accel system, whose M is
 * the identity), its Jacobian dg/dq and the velocity coupling df/dq' at
 * q' = 0, all by sym_diff, which goes through networks too.  The numbers
 * are then plain dense linear algebra of size n (GSL).
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/modes.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <jansson.h>

#include "lang/mech.h"
#include "runtime/mem.h"
#include "runtime/simulate.h"

enum {
    NEWTON_MAX = 100, /* Newton iterations */
    HALVINGS = 40     /* step halvings of one line search */
};

/* The root is accepted when the last full Newton step is below this
 * (relative to 1 + |q|): the estimated distance to the root. */
static const double STEP_TOL = 1e-8;
/* Newton stops early once a step is at rounding level. */
static const double STEP_DONE = 1e-14;

/* A system's equilibrium problem, evaluated at x (every variable's value:
 * parameters, t = 0, q' = 0, q the point). */
typedef struct Eq {
    Mech *m;
    int n;      /* unknowns: the coordinates, then a multiplier per constraint */
    int *vars;  /* their variables */
    double *x;
    SymId *g;  /* n: f at q' = 0 (the given accelerations of an accel system) */
    SymId *J;  /* n*n row-major: dg/dq */
    SymId *G;  /* n*n: df/dq', the velocity coupling */
    SymId *M;  /* n*n: the mass matrix (NULL: the identity, an accel system) */
} Eq;

static double norm_inf(const double *a, int n)
{
    double w = 0;
    for (int i = 0; i < n; i++)
        w = fmax(w, fabs(a[i])); /* a NaN is caught by the callers' isfinite */
    return w;
}

static int all_finite(const double *a, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return 0;
    return 1;
}

/* v (n values) at q (n coordinates). */
static void eval_at(Eq *E, const SymId *e, int count, const double *q, double *v)
{
    for (int i = 0; i < E->n; i++)
        E->x[E->vars[i]] = q[i];
    for (int k = 0; k < count; k++)
        v[k] = sym_eval(E->m->S, e[k], E->x);
}

static double norm2(const double *a, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * a[i];
    return sqrt(s);
}

/* d = -J^+ g by the singular value decomposition, singular values below
 * 1e-12 of the largest dropped: a coordinate g does not depend on (a
 * cyclic one, a free particle) is left where it is instead of making the
 * step infinite.  *resid: |g + J d|, what the linear model cannot cancel. */
static void newton_step(int n, const double *J, const double *g, double *d, double *resid)
{
    gsl_matrix *U = gsl_matrix_alloc((size_t)n, (size_t)n), *V = gsl_matrix_alloc((size_t)n, (size_t)n);
    gsl_vector *s = gsl_vector_alloc((size_t)n), *work = gsl_vector_alloc((size_t)n);
    if (!U || !V || !s || !work)
        mem_out_of_memory(0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            gsl_matrix_set(U, (size_t)i, (size_t)j, J[i * n + j]);
    gsl_linalg_SV_decomp(U, V, s, work);
    double smax = gsl_vector_get(s, 0);
    for (int i = 0; i < n; i++)
        d[i] = 0;
    for (int k = 0; k < n; k++) {
        double sk = gsl_vector_get(s, (size_t)k);
        if (!(sk > 1e-12 * smax))
            continue;
        double c = 0; /* u_k . g */
        for (int i = 0; i < n; i++)
            c += gsl_matrix_get(U, (size_t)i, (size_t)k) * g[i];
        for (int i = 0; i < n; i++)
            d[i] -= gsl_matrix_get(V, (size_t)i, (size_t)k) * c / sk;
    }
    double r = 0;
    for (int i = 0; i < n; i++) {
        double ri = g[i];
        for (int j = 0; j < n; j++)
            ri += J[i * n + j] * d[j];
        r = fmax(r, fabs(ri));
    }
    *resid = r;
    gsl_matrix_free(U);
    gsl_matrix_free(V);
    gsl_vector_free(s);
    gsl_vector_free(work);
}

/* Damped Newton from q (overwritten by the root).  Returns 0, or 3 after
 * the reason in why (what stopped it). */
static int newton(Eq *E, double *q, int *iterations, double *fnorm, char *why, size_t nwhy)
{
    int n = E->n;
    double *g = mem_xalloc((size_t)n * sizeof *g), *gt = mem_xalloc((size_t)n * sizeof *gt);
    double *J = mem_xalloc((size_t)(n * n) * sizeof *J), *d = mem_xalloc((size_t)n * sizeof *d);
    double *qt = mem_xalloc((size_t)n * sizeof *qt);
    double dn = INFINITY, resid = INFINITY, jn = 0;
    int it = 0, rc = 3, stuck = 0;
    why[0] = 0;
    for (;; it++) {
        eval_at(E, E->g, n, q, g);
        if (!all_finite(g, n)) {
            snprintf(why, nwhy, "f is not finite there");
            break;
        }
        if (norm_inf(g, n) == 0) { /* exactly at rest (the origin of a symmetric system) */
            rc = 0;
            break;
        }
        eval_at(E, E->J, n * n, q, J);
        if (!all_finite(J, n * n)) {
            snprintf(why, nwhy, "df/dq is not finite there");
            break;
        }
        jn = norm_inf(J, n * n);
        newton_step(n, J, g, d, &resid);
        dn = norm_inf(d, n);
        double scale = 1 + norm_inf(q, n);
        if (dn <= STEP_DONE * scale || stuck || it == NEWTON_MAX)
            break;
        /* halve the step until |f| decreases */
        double g0 = norm2(g, n), lambda = 1;
        int accepted = 0;
        for (int h = 0; h <= HALVINGS && !accepted; h++, lambda /= 2) {
            for (int i = 0; i < n; i++)
                qt[i] = q[i] + lambda * d[i];
            eval_at(E, E->g, n, qt, gt);
            accepted = all_finite(gt, n) && norm2(gt, n) < g0;
            if (accepted)
                memcpy(q, qt, (size_t)n * sizeof *q);
        }
        /* no decrease: at the rounding floor (the test below accepts it) or
         * at a minimum of |f| that is no root (it refuses it) */
        stuck = !accepted;
        if (stuck)
            it--; /* the same point again: its step decides */
    }
    if (rc != 0 && !why[0]) {
        double scale = 1 + norm_inf(q, n);
        if (dn <= STEP_TOL * scale && resid <= 1e-9 * (1 + jn * scale))
            rc = 0;
        else if (resid > 1e-9 * (1 + jn * scale))
            snprintf(why, nwhy, "df/dq is singular there and f has a part it cannot cancel");
        else if (stuck)
            snprintf(why, nwhy, "no step along Newton's direction decreases |f|");
        else
            snprintf(why, nwhy, "%d iterations did not converge", NEWTON_MAX);
    }
    eval_at(E, E->g, n, q, g);
    *fnorm = norm_inf(g, n);
    *iterations = it;
    mem_free(g);
    mem_free(gt);
    mem_free(J);
    mem_free(d);
    mem_free(qt);
    return rc;
}

/* The system called name (of any loaded file), or NULL after a message
 * (exit 2). */
static const Item *find_system(Front *F, const char *name)
{
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            if ((it->kind == IT_SYSTEM || it->kind == IT_PROBLEM) && strcmp(it->name.name, name) == 0) {
                if (it->kind == IT_SYSTEM)
                    return it;
                fprintf(stderr, "lag: modes: '%s' is a problem; lag modes takes a system\n", name);
                return NULL;
            }
    const char *near = front_near_system(F, name);
    fprintf(stderr, "lag: modes: no system '%s' in the program%s%s%s\n", name, near ? " (did you mean '" : "",
            near ? near : "", near ? "'?)" : "");
    return NULL;
}

/* Whether text is a finite number: its value in *v. */
static int number(const char *text, size_t len, double *v)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, text, len);
    buf[len] = 0;
    errno = 0;
    *v = strtod(buf, &end);
    return *end == 0 && end != buf && errno != ERANGE && isfinite(*v);
}

int modes_parse_at(const char *arg, ModesAt *at, int *nat)
{
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ','), *stop = comma ? comma : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (!eq || eq == p) {
            fprintf(stderr, "lag: modes: --at expects COORD=value[,COORD=value...] (got '%s')\n", arg);
            return 2;
        }
        double v;
        if (!number(eq + 1, (size_t)(stop - eq - 1), &v)) {
            fprintf(stderr, "lag: modes: --at '%s': '%.*s' is not a finite number\n", arg, (int)(stop - eq - 1),
                    eq + 1);
            return 2;
        }
        at[*nat] = (ModesAt){p, (int)(eq - p), v, arg};
        (*nat)++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* The start: 0 for each coordinate, then the --at values (the last one
 * of a coordinate wins).  Returns 0, or 2 after naming a bad one. */
static int start_point(Front *F, const Mech *m, const ModesAt *at, int nat, double *q)
{
    for (int i = 0; i < m->n; i++)
        q[i] = 0;
    for (int k = 0; k < nat; k++) {
        int i = 0;
        const char *name = arena_printf(F->arena, "%.*s", at[k].name_len, at[k].name);
        while (i < m->n && strcmp(m->names[i], name) != 0)
            i++;
        if (i < m->n) {
            q[i] = at[k].value;
            continue;
        }
        size_t len = strlen(name);
        if (len > 1 && name[len - 1] == '\'') {
            fprintf(stderr, "lag: modes: --at '%s': '%s' is a velocity; an equilibrium is at rest, so --at "
                            "gives coordinates only\n", at[k].arg, name);
            return 2;
        }
        const char *near = diag_suggest(name, m->names, m->n), *list = m->names[0];
        for (int j = 1; j < m->n; j++)
            list = arena_printf(F->arena, "%s, %s", list, m->names[j]);
        if (near)
            fprintf(stderr, "lag: modes: --at '%s': '%s' is not a coordinate of '%s' (did you mean '%s'?)\n",
                    at[k].arg, name, m->sys->name.name, near);
        else
            fprintf(stderr, "lag: modes: --at '%s': '%s' is not a coordinate of '%s' (its coordinates: %s)\n",
                    at[k].arg, name, m->sys->name.name, list);
        return 2;
    }
    return 0;
}

/* The parameters' values into x: the defaults, --set, and defaults that
 * are expressions of earlier parameters computed again from those (as a
 * job's parameters are, lang/job.c).  Returns 0, or 2 for a parameter
 * without a value. */
static int parameter_values(const Mech *m, const Override *sets, int nsets, double *x)
{
    Sym *S = m->S;
    for (int k = 0; k < m->np; k++) {
        int given = 0;
        double v = S->vars[m->par[k]].value;
        for (int s = 0; s < nsets; s++)
            if (sets[s].sys == m->sys && strcmp(sets[s].param, S->vars[m->par[k]].name) == 0) {
                v = sets[s].value;
                given = 1;
            }
        if (!given && m->par_default && m->par_default[k])
            v = sym_eval(S, m->par_default[k], x);
        if (!isfinite(v)) {
            fprintf(stderr, "lag: modes: parameter '%s' of '%s' has no value: give one with --set %s.%s=VALUE\n",
                    S->vars[m->par[k]].name, m->sys->name.name, m->sys->name.name, S->vars[m->par[k]].name);
            return 2;
        }
        x[m->par[k]] = v;
    }
    return 0;
}

/* What the modes are, for printing. */
typedef struct Modes {
    int n;
    int nm;                /* modes: n less the constraints */
    const char **names;
    double *start, *q;     /* the start and the equilibrium */
    int iterations;
    double fnorm;
    double *M, *K;         /* at the equilibrium; K symmetrised */
    double *w2, *shape;    /* eigenvalues ascending; shape[k * n + i]: mode k's coordinate i */
    int *kind;             /* per mode: 1 stable (w^2 > 0), 0 neutral, -1 unstable */
    double asym;           /* max |K - K^T| / max |K| before symmetrising */
    double gyro, damp;     /* max |antisymmetric|, |symmetric| part of df/dq' */
} Modes;

/* w^2 within this of 0 (relative to the largest |w^2|) is neutral. */
static const double NEUTRAL = 1e-12;

/* Eigenvalues ascending and M-orthogonal shapes of K v = w^2 M v, each
 * shape scaled so its largest component is +1.  Returns 0, or 3 after a
 * message. */
static int solve_modes(const char *sysname, Modes *R, const double *Z)
{
    int N = R->n, n = R->nm, rc = 0;
    /* on the constraints' tangent space (Z: N x n, orthonormal columns),
     * K and M reduced to Z^T K Z, Z^T M Z; the shapes mapped back by Z */
    double *Kf = R->K, *Mf = R->M, *Kr = NULL, *Mr = NULL;
    if (Z) {
        Kr = mem_xalloc((size_t)(n * n) * sizeof *Kr);
        Mr = mem_xalloc((size_t)(n * n) * sizeof *Mr);
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++) {
                double kab = 0, mab = 0;
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < N; j++) {
                        kab += Z[i * n + a] * Kf[i * N + j] * Z[j * n + b];
                        mab += Z[i * n + a] * Mf[i * N + j] * Z[j * n + b];
                    }
                Kr[a * n + b] = kab;
                Mr[a * n + b] = mab;
            }
        for (int a = 0; a < n; a++) /* symmetric to rounding: exactly */
            for (int b = a + 1; b < n; b++) {
                Kr[a * n + b] = Kr[b * n + a] = 0.5 * (Kr[a * n + b] + Kr[b * n + a]);
                Mr[a * n + b] = Mr[b * n + a] = 0.5 * (Mr[a * n + b] + Mr[b * n + a]);
            }
        R->K = Kr;
        R->M = Mr;
    }
    double *full = mem_xalloc((size_t)(N + 1) * sizeof *full);
    gsl_matrix *A = gsl_matrix_alloc((size_t)n, (size_t)n), *B = gsl_matrix_alloc((size_t)n, (size_t)n);
    gsl_matrix *evec = gsl_matrix_alloc((size_t)n, (size_t)n);
    gsl_vector *eval = gsl_vector_alloc((size_t)n);
    gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc((size_t)n);
    gsl_eigen_gensymmv_workspace *gw = gsl_eigen_gensymmv_alloc((size_t)n);
    if (!A || !B || !evec || !eval || !ws || !gw)
        mem_out_of_memory(0);
    /* M must be positive definite: its eigenvalues first, for the message */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            gsl_matrix_set(B, (size_t)i, (size_t)j, R->M[i * n + j]);
    gsl_eigen_symm(B, eval, ws);
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < n; i++) {
        lo = fmin(lo, gsl_vector_get(eval, (size_t)i));
        hi = fmax(hi, fabs(gsl_vector_get(eval, (size_t)i)));
    }
    if (!(lo > 1e-12 * hi)) {
        fprintf(stderr, "lag: modes %s: the mass matrix is %s at the equilibrium (its smallest eigenvalue is "
                        "%.3g, the largest |eigenvalue| %.3g): K v = w^2 M v has no modes there\n",
                sysname, fabs(lo) <= 1e-12 * hi ? "singular" : "not positive definite", lo, hi);
        rc = 3;
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            gsl_matrix_set(A, (size_t)i, (size_t)j, R->K[i * n + j]);
            gsl_matrix_set(B, (size_t)i, (size_t)j, R->M[i * n + j]);
        }
    if (gsl_eigen_gensymmv(A, B, eval, evec, gw) != GSL_SUCCESS) {
        fprintf(stderr, "lag: modes %s: the eigensolver (gsl_eigen_gensymmv) failed\n", sysname);
        rc = 3;
        goto done;
    }
    gsl_eigen_gensymmv_sort(eval, evec, GSL_EIGEN_SORT_VAL_ASC);
    double big = 0;
    for (int k = 0; k < n; k++)
        big = fmax(big, fabs(gsl_vector_get(eval, (size_t)k)));
    for (int k = 0; k < n; k++) {
        double w2 = gsl_vector_get(eval, (size_t)k);
        if (fabs(w2) <= NEUTRAL * big)
            w2 = 0;
        R->w2[k] = w2;
        R->kind[k] = w2 > 0 ? 1 : w2 < 0 ? -1 : 0;
        /* the first component of the largest magnitude is +1 */
        double vmax = 0;
        int at = 0;
        for (int i = 0; i < n; i++)
            vmax = fmax(vmax, fabs(gsl_matrix_get(evec, (size_t)i, (size_t)k)));
        while (at < n - 1 && fabs(gsl_matrix_get(evec, (size_t)at, (size_t)k)) < (1 - 1e-9) * vmax)
            at++;
        if (!Z) {
            double c = gsl_matrix_get(evec, (size_t)at, (size_t)k);
            for (int i = 0; i < n; i++)
                R->shape[k * n + i] = gsl_matrix_get(evec, (size_t)i, (size_t)k) / c;
            R->shape[k * n + at] = 1;
            continue;
        }
        /* in the coordinates: Z u, scaled as above */
        vmax = 0;
        for (int i = 0; i < N; i++) {
            full[i] = 0;
            for (int a = 0; a < n; a++)
                full[i] += Z[i * n + a] * gsl_matrix_get(evec, (size_t)a, (size_t)k);
            vmax = fmax(vmax, fabs(full[i]));
        }
        at = 0;
        while (at < N - 1 && fabs(full[at]) < (1 - 1e-9) * vmax)
            at++;
        for (int i = 0; i < N; i++)
            R->shape[k * N + i] = i == at ? 1 : full[i] / full[at];
    }
done:
    mem_free(full);
    if (Z) {
        R->K = Kf;
        R->M = Mf;
        mem_free(Kr);
        mem_free(Mr);
    }
    gsl_matrix_free(A);
    gsl_matrix_free(B);
    gsl_matrix_free(evec);
    gsl_vector_free(eval);
    gsl_eigen_symm_free(ws);
    gsl_eigen_gensymmv_free(gw);
    return rc;
}

/* A number as the text table shows it. */
static const char *fmt(char *buf, size_t len, double v)
{
    snprintf(buf, len, "%.10g", v == 0 ? 0.0 : v); /* never -0 */
    return buf;
}

static int print_text(FILE *out, const char *sysname, const Modes *R)
{
    int n = R->n;
    char a[48], b[48], c[48];
    fprintf(out, "system %s\n", sysname);
    fputs("  equilibrium (from ", out);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%s = %s", i ? ", " : "", R->names[i], fmt(a, sizeof a, R->start[i]));
    fprintf(out, "; %d Newton iteration%s, |f| = %.3g):\n", R->iterations, R->iterations == 1 ? "" : "s",
            R->fnorm);
    for (int i = 0; i < n; i++)
        fprintf(out, "    %s = %s\n", R->names[i], fmt(a, sizeof a, R->q[i]));
    if (R->nm < n)
        fprintf(out, "  modes of K v = w^2 M v on the constraints (%d of them; w in rad per unit time; shapes scaled "
                "to a largest component of 1):\n", R->nm);
    else
        fputs("  modes of K v = w^2 M v (w in rad per unit time; shapes scaled to a largest component of 1):\n", out);
    fprintf(out, "    %-4s  %-17s  %-17s  %-17s  %-9s  shape (", "mode", "w^2", "w", "period", "stability");
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? ", " : "", R->names[i]);
    fputs(")\n", out);
    int unstable = 0;
    for (int k = 0; k < R->nm; k++) {
        double w2 = R->w2[k];
        fmt(a, sizeof a, w2);
        if (R->kind[k] > 0) {
            fmt(b, sizeof b, sqrt(w2));
            fmt(c, sizeof c, 2 * M_PI / sqrt(w2));
        } else if (R->kind[k] < 0) {
            snprintf(b, sizeof b, "%.10gi", sqrt(-w2));
            snprintf(c, sizeof c, "-");
            unstable++;
        } else {
            snprintf(b, sizeof b, "0");
            snprintf(c, sizeof c, "-");
        }
        fprintf(out, "    %-4d  %-17s  %-17s  %-17s  %-9s  (", k + 1, a, b, c,
                R->kind[k] > 0 ? "stable" : R->kind[k] < 0 ? "unstable" : "neutral");
        for (int i = 0; i < n; i++)
            fprintf(out, "%s%.6g", i ? ", " : "", R->shape[k * n + i] == 0 ? 0.0 : R->shape[k * n + i]);
        fputs(")\n", out);
    }
    if (unstable)
        fprintf(out, "  unstable: %d direction%s (w = i s: a small displacement grows like exp(s t))\n", unstable,
                unstable == 1 ? "" : "s");
    else
        fputs("  stable to first order: no direction grows (w^2 >= 0)\n", out);
    return fflush(out) != 0 || ferror(out) ? 4 : 0;
}

/* A number for the JSON (-0 as 0). */
static json_t *jnum(double v)
{
    return sim_jreal(v == 0 ? 0.0 : v);
}

static json_t *jmatrix(const double *a, int n)
{
    json_t *rows = sim_jnew(json_array());
    for (int i = 0; i < n; i++) {
        json_t *row = sim_jnew(json_array());
        for (int j = 0; j < n; j++)
            sim_japp(row, jnum(a[i * n + j]));
        sim_japp(rows, row);
    }
    return rows;
}

static int print_json(FILE *out, const char *sysname, const Modes *R, json_t *warnings)
{
    int n = R->n;
    sim_json_begin();
    json_t *o = sim_jnew(json_object());
    sim_jset(o, "system", sim_jnew(json_string(sysname)));
    json_t *coords = sim_jnew(json_array()), *eq = sim_jnew(json_object()), *st = sim_jnew(json_object());
    for (int i = 0; i < n; i++) {
        sim_japp(coords, sim_jnew(json_string(R->names[i])));
        sim_jset(eq, R->names[i], jnum(R->q[i]));
        sim_jset(st, R->names[i], jnum(R->start[i]));
    }
    sim_jset(o, "coordinates", coords);
    sim_jset(o, "equilibrium", eq);
    sim_jset(o, "start", st);
    sim_jset(o, "iterations", sim_jnew(json_integer(R->iterations)));
    sim_jset(o, "residual", jnum(R->fnorm));
    json_t *fr = sim_jnew(json_array()), *gr = sim_jnew(json_array()), *w2 = sim_jnew(json_array());
    json_t *per = sim_jnew(json_array()), *stab = sim_jnew(json_array()), *modes = sim_jnew(json_array());
    int stable = 1;
    for (int k = 0; k < R->nm; k++) {
        double v = R->w2[k];
        sim_japp(w2, jnum(v));
        sim_japp(fr, jnum(v > 0 ? sqrt(v) : 0));
        sim_japp(gr, jnum(v < 0 ? sqrt(-v) : 0));
        sim_japp(per, v > 0 ? jnum(2 * M_PI / sqrt(v)) : sim_jnew(json_null()));
        sim_japp(stab, sim_jnew(json_string(R->kind[k] > 0 ? "stable" : R->kind[k] < 0 ? "unstable" : "neutral")));
        stable &= R->kind[k] >= 0;
        json_t *shape = sim_jnew(json_array());
        for (int i = 0; i < n; i++)
            sim_japp(shape, jnum(R->shape[k * n + i]));
        sim_japp(modes, shape);
    }
    sim_jset(o, "frequencies", fr);
    sim_jset(o, "growth_rates", gr);
    sim_jset(o, "omega2", w2);
    sim_jset(o, "periods", per);
    sim_jset(o, "stability", stab);
    sim_jset(o, "stable", sim_jnew(json_boolean(stable)));
    sim_jset(o, "modes", modes);
    sim_jset(o, "mass_matrix", jmatrix(R->M, n));
    sim_jset(o, "stiffness", jmatrix(R->K, n));
    sim_jset(o, "gyroscopic", sim_jnew(json_boolean(R->gyro > 0)));
    sim_jset(o, "damping", sim_jnew(json_boolean(R->damp > 0)));
    sim_jset(o, "warnings", warnings);
    return sim_json_print(out, o);
}

/* A warning or note: on stderr as "lag: modes SYS: ...", and into the
 * JSON's list. */
static void say(json_t *list, const char *sysname, const char *what, const char *text)
{
    fprintf(stderr, "lag: modes %s: %s: %s\n", sysname, what, text);
    sim_japp(list, sim_jnew(json_string(text)));
}

/* The equilibrium problem's expressions and the numbers at the root. */
static int analyse(Front *F, Mech *m, const Override *sets, int nsets, const ModesAt *at, int nat, int json,
                   FILE *out)
{
    Sym *S = m->S;
    int n = m->n, nc = m->ncons, N = n + nc;
    const char *sysname = m->sys->name.name;
    if (m->nonholonomic) {
        const MechCons *c = m->cons;
        while (c->g)
            c++;
        fprintf(stderr, "lag: modes %s: the constraint '%s' is on the velocities: a rolling or sliding contact has "
                "no equilibrium manifold to linearise on; lag modes takes constraints g(q, t) = 0 only\n", sysname,
                c->name);
        return 1;
    }
    /* with constraints g = 0, the unknowns are (q, lambda): f + A^T lambda = 0
     * and g = 0; K is then -d(f + A^T lambda)/dq, the Hessian of the
     * potential with the constraints' curvature, on their tangent space */
    Eq E = {m, N, NULL, NULL, NULL, NULL, NULL, NULL};
    E.vars = arena_alloc(S->arena, (size_t)N * sizeof *E.vars);
    for (int i = 0; i < n; i++)
        E.vars[i] = m->q[i];
    for (int c = 0; c < nc; c++)
        E.vars[n + c] = sym_add_var(S, arena_printf(S->arena, "lambda_%s", m->cons[c].name), "lambda", SV_PARAM,
                                    m->np + c, 0, 0);
    E.g = arena_alloc(S->arena, (size_t)N * sizeof *E.g);
    E.J = arena_alloc(S->arena, (size_t)(N * N) * sizeof *E.J);
    E.G = arena_alloc(S->arena, (size_t)(n * n) * sizeof *E.G);
    for (int i = 0; i < n; i++) {
        E.g[i] = m->given_accel ? m->acc[i] : m->f[i];
        for (int c = 0; c < nc; c++)
            E.g[i] = sym_add2(S, E.g[i], sym_mul2(S, m->cons[c].A[i], sym_var(S, E.vars[n + c])));
    }
    for (int c = 0; c < nc; c++)
        E.g[n + c] = m->cons[c].g;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            E.J[i * N + j] = sym_diff(S, E.g[i], E.vars[j]);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            E.G[i * n + j] = sym_diff(S, E.g[i], m->v[j]);
    E.M = m->given_accel ? NULL : m->M;
    /* every variable 0 (q', t, and any the client added), then the parameters */
    E.x = arena_alloc(S->arena, (size_t)(S->nvars + 1) * sizeof *E.x);
    memset(E.x, 0, (size_t)(S->nvars + 1) * sizeof *E.x);
    int rc = parameter_values(m, sets, nsets, E.x);
    Modes R = {0};
    R.n = n;
    R.nm = n - nc;
    R.names = m->names;
    R.start = arena_alloc(S->arena, (size_t)N * sizeof *R.start);
    R.q = arena_alloc(S->arena, (size_t)N * sizeof *R.q);
    if (rc == 0)
        rc = start_point(F, m, at, nat, R.start);
    if (rc != 0)
        return rc;
    memcpy(R.q, R.start, (size_t)N * sizeof *R.q); /* the multipliers from 0 */
    char why[200];
    if (newton(&E, R.q, &R.iterations, &R.fnorm, why, sizeof why) != 0) {
        fprintf(stderr, "lag: modes %s: no equilibrium found from ", sysname);
        for (int i = 0; i < n; i++)
            fprintf(stderr, "%s%s = %.10g", i ? ", " : "", m->names[i], R.start[i]);
        fprintf(stderr, ": %s (Newton stopped after %d iterations at ", why, R.iterations);
        for (int i = 0; i < n; i++)
            fprintf(stderr, "%s%s = %.6g", i ? ", " : "", m->names[i], R.q[i]);
        fprintf(stderr, ", where |f| = %.3g); start nearer one with --at\n", R.fnorm);
        return 3;
    }
    R.M = arena_alloc(S->arena, (size_t)(n * n) * sizeof *R.M);
    R.K = arena_alloc(S->arena, (size_t)(n * n) * sizeof *R.K);
    double *G = arena_alloc(S->arena, (size_t)(n * n) * sizeof *G);
    double *JN = arena_alloc(S->arena, (size_t)(N * N) * sizeof *JN);
    if (E.M)
        eval_at(&E, E.M, n * n, R.q, R.M);
    else
        for (int i = 0; i < n * n; i++)
            R.M[i] = i % (n + 1) == 0;
    eval_at(&E, E.J, N * N, R.q, JN);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            R.K[i * n + j] = JN[i * N + j];
    eval_at(&E, E.G, n * n, R.q, G);
    /* the tangent space of the constraints: the null space of A = dg/dq
     * (rows n .. N-1 of JN, columns 0 .. n-1), the last n - k columns of
     * the full Q of A^T = Q R */
    double *Z = NULL;
    if (nc) {
        gsl_matrix *At = gsl_matrix_alloc((size_t)n, (size_t)nc), *Q = gsl_matrix_alloc((size_t)n, (size_t)n);
        gsl_matrix *Rm = gsl_matrix_alloc((size_t)n, (size_t)nc);
        gsl_vector *tau = gsl_vector_alloc((size_t)nc);
        if (!At || !Q || !Rm || !tau)
            mem_out_of_memory(0);
        double amax = 0;
        for (int c = 0; c < nc; c++)
            for (int i = 0; i < n; i++) {
                gsl_matrix_set(At, (size_t)i, (size_t)c, JN[(n + c) * N + i]);
                amax = fmax(amax, fabs(JN[(n + c) * N + i]));
            }
        gsl_linalg_QR_decomp(At, tau);
        gsl_linalg_QR_unpack(At, tau, Q, Rm);
        int rank = 0;
        for (int c = 0; c < nc; c++)
            rank += fabs(gsl_matrix_get(Rm, (size_t)c, (size_t)c)) > 1e-10 * amax;
        if (rank == nc) {
            Z = arena_alloc(S->arena, (size_t)(n * R.nm) * sizeof *Z);
            for (int i = 0; i < n; i++)
                for (int a = 0; a < R.nm; a++)
                    Z[i * R.nm + a] = gsl_matrix_get(Q, (size_t)i, (size_t)(nc + a));
        }
        gsl_matrix_free(At);
        gsl_matrix_free(Q);
        gsl_matrix_free(Rm);
        gsl_vector_free(tau);
        if (!Z) {
            fprintf(stderr, "lag: modes %s: the constraints are not independent at the equilibrium (dg/dq has "
                    "rank %d, not %d)\n", sysname, rank, nc);
            return 3;
        }
    }
    /* K = -df/dq, symmetrised; its asymmetry and df/dq' split into their
     * gyroscopic (antisymmetric) and damping (symmetric) parts */
    double kmax = 0, mmax = 0;
    for (int i = 0; i < n * n; i++) {
        R.K[i] = -R.K[i];
        kmax = fmax(kmax, fabs(R.K[i]));
        mmax = fmax(mmax, fabs(R.M[i]));
    }
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double kij = R.K[i * n + j], kji = R.K[j * n + i];
            R.asym = fmax(R.asym, fabs(kij - kji));
            R.K[i * n + j] = R.K[j * n + i] = 0.5 * (kij + kji);
            R.gyro = fmax(R.gyro, fabs(G[i * n + j] - G[j * n + i]) / 2);
            R.damp = fmax(R.damp, fabs(G[i * n + j] + G[j * n + i]) / 2);
        }
    double gtol = 1e-10 * sqrt(kmax * mmax); /* df/dq' has the units of sqrt(K M) */
    R.gyro = R.gyro > gtol ? R.gyro : 0;
    R.damp = R.damp > gtol ? R.damp : 0;
    R.w2 = arena_alloc(S->arena, (size_t)n * sizeof *R.w2);
    R.shape = arena_alloc(S->arena, (size_t)(n * n) * sizeof *R.shape);
    R.kind = arena_alloc(S->arena, (size_t)n * sizeof *R.kind);
    if ((rc = solve_modes(sysname, &R, Z)) != 0)
        return rc;

    sim_json_begin();
    json_t *warnings = sim_jnew(json_array());
    char text[300];
    if (R.asym > 1e-8 * kmax) {
        snprintf(text, sizeof text, "K = -df/dq is not symmetric (|K - K^T| up to %.3g of max |K|): not every "
                 "force comes from a potential; the modes are those of its symmetric part", R.asym / kmax);
        say(warnings, sysname, "warning", text);
    }
    if (R.gyro > 0) {
        snprintf(text, sizeof text, "gyroscopic coupling at the equilibrium (antisymmetric part of df/dq' up to "
                 "%.3g): the modes ignore it (K v = w^2 M v)", R.gyro);
        say(warnings, sysname, "note", text);
    }
    if (R.damp > 0) {
        snprintf(text, sizeof text, "damping at the equilibrium (symmetric part of df/dq' up to %.3g): the modes "
                 "are those of the undamped system", R.damp);
        say(warnings, sysname, "note", text);
    }
    int timed = m->explicit_time;
    for (int i = 0; i < n; i++)
        timed |= sym_depends(S, E.g[i], m->t, 0); /* an accel system's too */
    if (timed) {
        snprintf(text, sizeof text, "the equations depend on t: the equilibrium and modes are those at t = 0");
        say(warnings, sysname, "note", text);
    }
    if (m->given_accel) {
        snprintf(text, sizeof text, "an accel system: M is taken as the identity, K = -d(q'')/dq");
        say(warnings, sysname, "note", text);
    }
    if (json)
        return print_json(out, sysname, &R, warnings);
    json_decref(warnings);
    return print_text(out, sysname, &R);
}

int modes_run(Front *F, const char *system, const ModesAt *at, int nat, const Override *sets, int nsets, int json,
              FILE *out)
{
    const Item *it = find_system(F, system);
    if (!it)
        return 2;
    for (int k = 0; k < nsets; k++)
        if (sets[k].sys != it) {
            fprintf(stderr, "lag: modes: --set '%s': '%s' is not the system examined ('%s')\n", sets[k].arg,
                    sets[k].sys->name.name, system);
            return 2;
        }
    gsl_set_error_handler_off();
    Sym *S = sym_new(F->arena);
    Mech m;
    int rc = 0;
    if (mech_build(&m, S, &F->diag, it, MECH_NETS) != 0)
        rc = m.io_errors ? 4 : 1;
    else
        rc = analyse(F, &m, sets, nsets, at, nat, json, out);
    sym_free(S);
    return rc;
}
