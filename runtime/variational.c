/*
 * runtime/variational.c — the variational integrator (see variational.h).
 *
 * D1 L_d(a, b) = (h/2) L_q(m, v) - p(m, v),  D2 L_d(a, b) = (h/2) L_q(m, v) + p(m, v)
 * with m = (a+b)/2, v = (b-a)/h.  Newton on F(b) = p_k + D1 L_d(q_k, b):
 *     dF/db = (h/4) L_qq + (1/2)(L_qv - L_qv^T) - (1/h) M.
 * Forces (Q and -dD/dq') enter by the discrete Lagrange-d'Alembert
 * principle: half a step's impulse (h/2) Q(m, v) on each side of a step.
 * Velocities for the output come from the discrete momentum: p(q_k, v) = p_k
 * solved for v (Newton with M).  Newton works on the increment q_{k+1} - q_k
 * and q is summed with compensation, so long runs of growing angles keep
 * the momenta of cyclic coordinates to rounding.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/variational.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "runtime/mem.h"
#include "runtime/vm.h"

enum { NEWTON_MAX = 30 };

/* The VM's elimination (the singular test is relative to the matrix). */
static int lu(double *A, double *b, int n)
{
    int not_finite;
    return vm_lu_solve(A, b, n, &not_finite);
}

typedef struct Del {
    const SimJob *job;
    const IrProgram *prog;
    Vm *vm;
    int n, w;        /* coordinates; the width of a state, 2n + drawn parameters */
    double *y, *out; /* state (w: the trajectory's drawn parameters after q, q') and outputs */
    unsigned long evals;
    /* constraints: k of them, their program's VM, state and outputs (g, C,
     * G row: 2 + n each) */
    int k;
    Vm *vmc;
    double *yc, *outc;
} Del;

/* The constraints at (q, v, t) into d->outc. */
static int eval_cons(Del *d, const double *q, const double *v, double t)
{
    int n = d->n;
    memcpy(d->yc, q, (size_t)n * sizeof *q);
    memcpy(d->yc + n, v, (size_t)n * sizeof *v);
    memcpy(d->yc + 2 * n, d->y + 2 * n, (size_t)(d->w - 2 * n) * sizeof *d->yc);
    return vm_run(d->vmc, d->job->cons, 1, d->yc, d->w, t, d->job->params, d->outc, 0) == VM_OK ? 0 : -1;
}
#define CG(d, l) ((d)->outc[(l) * (2 + (d)->n)])
#define CC(d, l) ((d)->outc[(l) * (2 + (d)->n) + 1])
#define CA(d, l) ((d)->outc + (l) * (2 + (d)->n) + 2)

/* Evaluate the outputs at position m, velocity v, time t. */
static int eval(Del *d, const double *m, const double *v, double t)
{
    int n = d->n;
    memcpy(d->y, m, (size_t)n * sizeof *m);
    memcpy(d->y + n, v, (size_t)n * sizeof *v);
    d->evals++;
    return vm_run(d->vm, d->prog, 1, d->y, d->w, t, d->job->params, d->out, 0) == VM_OK ? 0 : -1;
}

#define LQ(d) ((d)->out)
#define P(d) ((d)->out + (d)->n)
#define LQQ(d) ((d)->out + 2 * (d)->n)
#define LQV(d) ((d)->out + 2 * (d)->n + (d)->n * (d)->n)
#define MM(d) ((d)->out + 2 * (d)->n + 2 * (d)->n * (d)->n)
#define QQ(d) ((d)->out + 2 * (d)->n + 3 * (d)->n * (d)->n)
#define QQQ(d) ((d)->out + 3 * (d)->n + 3 * (d)->n * (d)->n)
#define QQV(d) ((d)->out + 3 * (d)->n + 4 * (d)->n * (d)->n)

/* The velocity whose momentum at q is p (Newton with the mass matrix).
 * With constraints, the one tangent to them whose momentum is p plus a
 * force of constraint G^T mu: Newton on (v, mu) with [M, -G^T; G, 0].
 * A: (n + k)^2 scratch, r: n + k. */
static int velocity(Del *d, const double *q, const double *p, double t, double *v, double *A,
                    double *r)
{
    int n = d->n, k = d->k, N = n + k;
    double mu[k > 0 ? k : 1];
    for (int l = 0; l < k; l++)
        mu[l] = 0;
    for (int it = 0; it < NEWTON_MAX; it++) {
        if (eval(d, q, v, t) != 0 || (k && eval_cons(d, q, v, t) != 0))
            return -1;
        double big = 0, norm = 0;
        for (int i = 0; i < n; i++) {
            r[i] = p[i] - P(d)[i];
            for (int l = 0; l < k; l++)
                r[i] += CA(d, l)[i] * mu[l];
            big = fmax(big, fabs(r[i]));
            norm = fmax(norm, fabs(p[i]));
        }
        double cbig = 0, vnorm = 0;
        for (int i = 0; i < n; i++)
            vnorm = fmax(vnorm, fabs(v[i]));
        for (int l = 0; l < k; l++) {
            r[n + l] = -CC(d, l);
            cbig = fmax(cbig, fabs(r[n + l]));
        }
        if (big <= 1e-15 * (1 + norm) && cbig <= 1e-15 * (1 + vnorm))
            return 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++)
                A[i * N + j] = MM(d)[i * n + j];
            for (int l = 0; l < k; l++) {
                A[i * N + n + l] = -CA(d, l)[i];
                A[(n + l) * N + i] = CA(d, l)[i];
            }
        }
        for (int l = 0; l < k; l++)
            for (int m = 0; m < k; m++)
                A[(n + l) * N + n + m] = 0;
        if (lu(A, r, N) != 0)
            return -1;
        for (int i = 0; i < n; i++)
            v[i] += r[i];
        for (int l = 0; l < k; l++)
            mu[l] += r[n + l];
    }
    return 0; /* close enough for output: the momenta carry the state */
}

/* One step of a trajectory from (q, p) at t by h: Newton for the increment
 * d = q_{k+1} - q_k (so v = d/h carries no rounding from large q) on
 * F(d) = p_k + (h/2) L_q - p, d starting at h v_k; then the new momentum,
 * and q summed with compensation (comp).  0, or -1 when Newton fails.
 * w: scratch of 4n + n*n doubles. */
static int var_step(Del *d, double *q, double *p, double *comp, const double *v, double t, double h,
                    double *w)
{
    int n = d->n, k = d->k, N = n + k;
    double *qn = w, *mid = w + n, *vel = w + 2 * n, *F = w + 3 * n, *J = w + 3 * n + N;
    double *G = J + N * N, *lam = G + k * n, *qe = lam + k;
    double tm = t + 0.5 * h;
    for (int i = 0; i < n; i++)
        qn[i] = h * v[i];
    /* the constraints' gradient G at (q_k, t_k), where their force acts */
    if (k && eval_cons(d, q, v, t) != 0)
        return -1;
    for (int l = 0; l < k; l++) {
        memcpy(G + l * n, CA(d, l), (size_t)n * sizeof *G);
        lam[l] = 0;
    }
    int converged = 0;
    for (int it = 0; it < NEWTON_MAX && !converged; it++) {
        for (int i = 0; i < n; i++) {
            mid[i] = q[i] + 0.5 * qn[i];
            vel[i] = qn[i] / h;
        }
        if (eval(d, mid, vel, tm) != 0)
            break;
        for (int i = 0; i < n; i++) {
            F[i] = -(p[i] + 0.5 * h * (LQ(d)[i] + QQ(d)[i]) - P(d)[i]);
            for (int l = 0; l < k; l++)
                F[i] -= h * G[l * n + i] * lam[l];
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                J[i * N + j] = 0.25 * h * (LQQ(d)[i * n + j] + QQQ(d)[i * n + j]) +
                               0.5 * (LQV(d)[i * n + j] + QQV(d)[i * n + j] - LQV(d)[j * n + i]) -
                               MM(d)[i * n + j] / h;
        if (k) {
            /* g(q_k + d, t_{k+1}) = 0, with its gradient there */
            for (int i = 0; i < n; i++)
                qe[i] = q[i] + qn[i];
            if (eval_cons(d, qe, vel, t + h) != 0)
                break;
            for (int l = 0; l < k; l++) {
                F[n + l] = -CG(d, l);
                for (int i = 0; i < n; i++) {
                    J[i * N + n + l] = h * G[l * n + i];
                    J[(n + l) * N + i] = CA(d, l)[i];
                }
                for (int m = 0; m < k; m++)
                    J[(n + l) * N + n + m] = 0;
            }
        }
        if (lu(J, F, N) != 0)
            break;
        for (int l = 0; l < k; l++)
            lam[l] += F[n + l];
        double step = 0, size = 0, qsize = 0;
        for (int i = 0; i < n; i++) {
            qn[i] += F[i];
            step = fmax(step, fabs(F[i]));
            size = fmax(size, fabs(qn[i]));
            qsize = fmax(qsize, fabs(q[i]));
        }
        /* converged when the correction is at rounding level of the
         * increment, or of q itself (the midpoint q + d/2 is only that
         * precise) */
        converged = step <= 1e-15 * size || step <= 8 * DBL_EPSILON * qsize || step == 0;
    }
    if (!converged)
        return -1;
    /* p_{k+1} = D2 L_d(q_k, q_{k+1}), at the converged midpoint */
    for (int i = 0; i < n; i++) {
        mid[i] = q[i] + 0.5 * qn[i];
        vel[i] = qn[i] / h;
    }
    eval(d, mid, vel, tm);
    for (int i = 0; i < n; i++)
        p[i] = 0.5 * h * (LQ(d)[i] + QQ(d)[i]) + P(d)[i];
    /* q_{k+1} = q_k + d, with compensated summation over long runs */
    for (int i = 0; i < n; i++) {
        double y = qn[i] - comp[i], sum = q[i] + y;
        comp[i] = (sum - q[i]) - y;
        q[i] = sum;
    }
    return 0;
}

/* States (q, q', drawn parameters) of B trajectories, one after another,
 * from q, v and the parameters of y0. */
static void pack_states(double *y, const double *q, const double *v, const SimJob *job)
{
    int n = job->n, w = sim_width(job);
    for (int s = 0; s < job->samples; s++) {
        double *r = y + (size_t)s * (size_t)w;
        memcpy(r, q + (size_t)s * n, (size_t)n * sizeof *q);
        memcpy(r + n, v + (size_t)s * n, (size_t)n * sizeof *v);
        memcpy(r + 2 * n, job->y0 + (size_t)s * (size_t)w + 2 * n, (size_t)job->nsampled * sizeof *r);
    }
}

/* Trajectory s's drawn parameters into the evaluation state. */
static void use_sample(Del *d, int s)
{
    memcpy(d->y + 2 * d->n, d->job->y0 + (size_t)s * (size_t)d->w + 2 * d->n,
           (size_t)d->job->nsampled * sizeof *d->y);
}

/* "trajectory s: " in an ensemble, nothing for a single run. */
static const char *which(const SimJob *job, int s, char *buf, size_t len)
{
    if (job->samples > 1)
        snprintf(buf, len, "trajectory %d: ", s);
    else
        buf[0] = 0;
    return buf;
}

int var_run(const SimJob *job, const IrProgram *del, SimResult *res)
{
    int n = job->n, m2 = sim_width(job), B = job->samples;
    double h = job->every, start = sim_clock();
    res->setup_s = job->started > 0 ? start - job->started : 0;
    res->status = 0;
    res->steps = res->rhs_evals = 0;
    res->has_energy = job->energy != NULL;
    res->e0 = res->max_rel_drift = 0;
    memset(res->message, 0, sizeof res->message);

    /* the trajectories of an ensemble step in lock-step, one after the
     * other at each step, so each is what a single run would give */
    Del d = {job, del, vm_alloc(&del, 1, 1), n, m2, NULL, NULL, 0, job->cons ? job->ncons : 0, NULL, NULL, NULL};
    d.y = mem_xalloc((size_t)m2 * sizeof *d.y);
    d.out = mem_xalloc((size_t)(del->nout + 1) * sizeof *d.out);
    const int N = n + d.k;
    if (d.k) {
        d.vmc = vm_alloc(&job->cons, 1, 1);
        d.yc = mem_xalloc((size_t)m2 * sizeof *d.yc);
        d.outc = mem_xalloc((size_t)(job->cons->nout + 1) * sizeof *d.outc);
    }
    size_t bn = (size_t)B * (size_t)n;
    double *q = mem_xalloc(bn * sizeof *q), *p = mem_xalloc(bn * sizeof *p);
    double *v = mem_xalloc(bn * sizeof *v);
    double *comp = mem_xalloc(bn * sizeof *comp); /* Kahan compensation of q */
    /* var_step's scratch: 3n + N + N^2 + k n + k + n; velocity's: N^2 + N */
    double *w = mem_xalloc((size_t)(4 * n + 2 * N + N * N + d.k * n + d.k) * sizeof *w);
    memset(comp, 0, bn * sizeof *comp);
    SimSink *sink = sim_sink_open(job, res);
    double *yrow = mem_xalloc((size_t)B * (size_t)m2 * sizeof *yrow);
    char who[48];
    double t = job->t0;
    /* p_0 from the initial velocity */
    for (int s = 0; s < B && res->status == 0; s++) {
        memcpy(q + (size_t)s * n, job->y0 + (size_t)s * m2, (size_t)n * sizeof *q);
        memcpy(v + (size_t)s * n, job->y0 + (size_t)s * m2 + n, (size_t)n * sizeof *v);
        use_sample(&d, s);
        if (eval(&d, q + (size_t)s * n, v + (size_t)s * n, t) != 0) {
            res->status = 3;
            snprintf(res->message, sizeof res->message, "%sthe equations are not finite at t = %.10g",
                     which(job, s, who, sizeof who), t);
        } else
            memcpy(p + (size_t)s * n, P(&d), (size_t)n * sizeof *p);
    }
    long nsteps = (long)floor((job->t1 - job->t0) / h + 1e-9);
    /* a range that is not a whole number of steps ends with a shorter one */
    double last = job->t1 - (job->t0 + (double)nsteps * h);
    if (last > 1e-12 * (1 + fabs(job->t1)))
        nsteps++;
    else
        last = h;
    double h_full = h;
    for (long k = 0; res->status == 0; k++) {
        /* output q_k with the velocity of its momentum */
        for (int s = 0; s < B && k > 0; s++)
            if (use_sample(&d, s), velocity(&d, q + (size_t)s * n, p + (size_t)s * n, t, v + (size_t)s * n, w + N, w) != 0) {
                res->status = 3;
                snprintf(res->message, sizeof res->message,
                         "%sthe mass matrix is singular at t = %.10g (variational step %ld)",
                         which(job, s, who, sizeof who), t, k);
                break;
            }
        if (res->status != 0)
            break;
        pack_states(yrow, q, v, job);
        sim_sink_row(sink, t, yrow, NULL);
        if (res->status != 0)
            break;
        if (k == nsteps)
            break;
        h = k == nsteps - 1 ? last : h_full;
        for (int s = 0; s < B; s++)
            if (use_sample(&d, s), var_step(&d, q + (size_t)s * n, p + (size_t)s * n, comp + (size_t)s * n,
                         v + (size_t)s * n, t, h, w) != 0) {
                res->status = 3;
                snprintf(res->message, sizeof res->message,
                         "%sthe variational step did not converge at t = %.10g (Newton, %d iterations)",
                         which(job, s, who, sizeof who), t, NEWTON_MAX);
                break;
            }
        if (res->status != 0)
            break;
        t = k + 1 == nsteps ? job->t1 : job->t0 + (double)(k + 1) * h_full;
        res->steps++;
    }
    res->t = t;
    pack_states(res->y, q, v, job);
    res->rhs_evals = d.evals;
    sim_sink_close(sink);
    mem_free(yrow);
    vm_free(d.vm);
    vm_free(d.vmc);
    mem_free(d.y);
    mem_free(d.out);
    mem_free(d.yc);
    mem_free(d.outc);
    mem_free(q);
    mem_free(p);
    mem_free(v);
    mem_free(comp);
    mem_free(w);
    res->wall_s = sim_clock() - start;
    return res->status;
}
