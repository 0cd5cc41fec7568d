/*
 * lang/job.h — what the job drivers share (lang/job_*.c): the run's state
 * between jobs, settings already folded by the checker (lang/settings.h),
 * parameter overrides, random draws of initial states, output paths and
 * the one-line summary each job ends with.
 *
 * A driver turns one checked job into the runtime's plain description of
 * it (runtime/simulate.h, runtime/train.h, ...) and runs it; it returns the
 * exit status (0, 1, 2, 3 or 4), with its messages on stderr.
 */
#ifndef LAG_JOB_H
#define LAG_JOB_H

#include "lang/mech.h"
#include "lang/override.h"
#include "lang/run.h"
#include "lang/settings.h"
#include "runtime/ir.h"
#include "runtime/solve.h"
#include "runtime/train.h"
#include "runtime/vm.h"

/* What one `lag run` keeps from job to job. */
typedef struct RunState {
    MechTrained *trained; /* weights trained by earlier jobs */
    /* the validation error (relative RMS) of each system trained so far, by
     * its last train job: compare lists it beside its figures */
    const Item **val_sys;
    double *val_rel_rms;
    int nval;
    Override *sets;       /* --set, checked against the program */
    int nsets;
    Override *fitted;     /* unknowns of systems fitted by train (loss action): the defaults of
                             later jobs (their settings and --set still win) */
    int nfitted;
} RunState;

/* One job being run. */
typedef struct Job {
    Front *F;
    const RunOptions *opt;
    RunState *run;
    const Item *item;   /* the job */
    const Item *target; /* its first system or problem */
    const char *where;  /* "file:line" of the job, for runtime messages */
} Job;

int job_simulate(Job *J);
int job_train(Job *J);
/* train with loss action (lang/job_train_action.c). */
int job_train_action(Job *J);
/* A TrainJob of the job's settings, the model and its columns, and every
 * net of S as the tensors to train. */
TrainJob job_train_job(Job *J, Sym *S, const Mech *m, const IrProgram *model, const char *const *columns);
/* Run a train job whose TrainJob has its model and data: outputs, JSON,
 * summary, and the trained weights kept for later jobs.  dropped: data
 * left out before training (counted in bad_samples). */
int job_train_fit(Job *J, Sym *S, TrainJob *tj, long dropped);
/* The equations of a train job's `data from Sys` system into dm (in DS),
 * checked to have the model m's coordinates in its order.  Returns 0, or
 * an exit status after a located message. */
int job_data_system(Job *J, const Setting *data_s, const Mech *m, Sym *DS, Mech *dm);
int job_solve(Job *J);
int job_infer(Job *J);
int job_action(Job *J);
int job_compare(Job *J);

/* The system or problem called name. */
const Item *job_find_system(Front *F, const char *name);
/* "file:line" of an item. */
const char *job_where(Front *F, const Item *it);
/* A job that cannot run yet: message, exit status 2. */
int job_not_yet(const Job *J, const char *what);

/* The parameter values for program p of system sys: the defaults, then
 * the values train fitted to unknowns earlier in the run, then the
 * settings' `param p = v` (a job's or a data block's), then
 * --set SYS.p=value; with m (sys's equations), defaults that are
 * expressions of other parameters are evaluated again from the values
 * given.  In the arena of S. */
double *job_params(const Job *J, Sym *S, const Setting *settings, const IrProgram *p, const Item *sys,
                   const Mech *m);

/* The parameters a list of settings draws per sample (`param g =
 * normal(0, 1)` in a data block, `param W = uniform(1, 3)` in a simulate
 * job), in order, into *out; each must be a parameter of m (the system
 * model), whose m->sampled they become.  Returns how many, or -1 after an
 * error (a parameter m lacks, or a default of m computed from a drawn one). */
int job_drawn_params(const Job *J, Mech *m, const Setting *settings, const Item *model, const Assign ***out, Sym *S);
/* Whether no parameter default of m (system sys) is computed from one of
 * the count drawn parameters (list, at indices idx into m->par): such a
 * default would not follow the draws (error reported). */
int job_defaults_follow(const Job *J, const Mech *m, const Item *sys, const Assign **list, const int *idx,
                        int count);

/* The distribution of each of the 2n state components of m from an `init`
 * setting (or NULL): constants, uniform(a, b), normal(m, s); components not
 * named are 0. */
void job_init_draws(const Setting *init, const Mech *m, TrainDraw *d);
/* How an init (or data parameter) assignment is drawn. */
TrainDraw job_draw_of(const Assign *a);
/* count states of m components drawn from d, from a Mersenne Twister
 * seeded with seed: the one place initial states are drawn. */
void job_draw_states(const TrainDraw *d, int m, unsigned long seed, int count, double *y);

/* The discrete Euler-Lagrange ingredients of the variational integrator
 * at (q, q', t) (runtime/variational.c): L_q, p, L_qq, L_qq', M, and the
 * generalized force with its derivatives. */
IrProgram *job_del_program(Mech *m);
/* A constrained system's constraints at (q, q', t): for each, g (0 for a
 * velocity constraint), the velocity form C and its row of A (n): 2 + n
 * outputs a constraint. */
IrProgram *job_constraints_program(Mech *m);
/* One state y (q, q', drawn parameters: w wide) at t moved onto the
 * constraints by the least change (vm: one for cons): with positions, the
 * coordinates by Gauss-Newton onto g = 0; with velocities, then the
 * velocities onto C = 0.  A state already on them (to rounding) is kept
 * bit for bit.  NULL, or why it cannot be done. */
const char *job_onto_constraints(Vm *vm, const Mech *m, const IrProgram *cons, double *y, int w, double t,
                                 const double *params, int positions, int velocities);
/* Put each trajectory's start (samples states of width w in y) onto the
 * constraints at t: the coordinates by Gauss-Newton onto g = 0, the
 * velocities by the least change that makes C = 0.  Says so when a start
 * moved by more than rounding.  0, or 1 after a message (not possible). */
int job_constrain_starts(Job *J, Mech *m, const IrProgram *cons, double *y, int samples, int w, double t,
                         const double *params);

/* The state's column names, in the arena of m's Sym: the coordinates,
 * then their velocities (t1, t2, t1', t2'). */
const char **job_state_columns(const Mech *m);

/* The source text of a range (in arena a), white space and comments in
 * it one space: an event's condition as written (lang/job_simulate.c). */
const char *job_source_text(Front *F, Arena *a, Loc loc);

/* The Jacobian an implicit stepper needs (runtime/simulate.h): exact,
 * from the closed-form accelerations, or else through M^-1 (then its
 * inputs are q, q', q'' and *uses_accel is set). */
IrProgram *job_jacobian(Mech *m, const char *sysname, int *uses_accel);

/* An interval term of the variational engine (runtime/solve.h): a
 * program per SolveDepth (its value; with its gradient; with its Hessian
 * too) and the VM that runs them. */
typedef struct JobTerm {
    IrProgram *prog[4]; /* by SolveDepth; prog[SOLVE_SENS] only after job_term_sens */
    struct Vm *vm;
    const double *params;
} JobTerm;
/* The programs of a term: its value, gradient and Hessian in the 2nf node
 * values (the left node's fields, then the right node's); inputs those and
 * the midpoint; the parameters P->m.par, in order, in every program. */
void job_term_build(JobTerm *t, Problem *P, SymId term, const char *name);
/* Add the SOLVE_SENS program (before job_term_open): the term, its
 * gradient, and their derivatives with respect to the ns variables theta
 * (parameters of P->m.par). */
void job_term_sens(JobTerm *t, Problem *P, SymId term, const char *name, const int *theta, int ns);
/* A VM for the programs, with lanes for min(intervals, SOLVE_CHUNK). */
void job_term_open(JobTerm *t, const double *params, int intervals);
/* A SolveTermFn: ctx is the JobTerm. */
int job_term_eval(void *ctx, int depth, int B, const double *in, double *out);
void job_term_close(JobTerm *t);
/* After the parameter values changed in place: the VM recomputes what
 * depends on them only. */
void job_term_forget(JobTerm *t);
/* After the tensors of the problem's nets changed in place (infer): the
 * programs' cached transposes and what the VM keeps. */
void job_term_refresh(JobTerm *t);
/* The adjoint's contraction for the weights of a problem's nets
 * (runtime/solve.h: SolveJob.adjoint_use), a tape of one output: on one
 * interval
 *     sum_a lam_a d/dz_a (s F + sum_j mu_j G_j) + sum_j nu_j G_j,
 * z the 2nf node values, F the objective's term and G_j the constraints';
 * inputs the term's (z, the midpoint), then lam (2nf), mu (ncons), nu
 * (ncons); the parameters P->m.par.  Its reverse sweep over the weights,
 * summed over the intervals, is minus the misfit's gradient. */
IrProgram *job_term_adjoint(Problem *P, const char *name, double s);
/* With --native, compile the term's programs (a warning and the VM where
 * that fails). */
void job_term_native(const Job *J, JobTerm *t);

/* The engine's description of problem P on `points` nodes: its fields,
 * domain, sense, objective (terms[0]), constraints (cons, their values
 * cons_value) and fixed ends (at lo, hi); the caller sets the rest
 * (tolerances, outputs, sensitivities). */
SolveJob job_problem_solve(const Problem *P, const char *name, int points, JobTerm *terms, const SolveTerm *cons,
                           const double *cons_value, const double *lo, const double *hi);

/* The job's `points` (settings of kind), refused above 1e8 with a located
 * error: 0, or 1. */
int job_points(const Job *J, int kind, int *points);
/* Each `FIELD = expr` of a setting (a guess, a closed form: expressions of
 * the domain variable and the parameters xv) evaluated at the nodes
 * first .. last, x_k = x0 + k h, into y (points x nf).  0, or 1 after a
 * diagnostic. */
int job_node_values(Problem *P, Diag *d, const Setting *s, double *xv, double x0, double h, int first, int last,
                    double *y);

/* An output file's path under -o DIR (mem_free it), or NULL for NULL. */
char *job_output(const Job *J, const Setting *s);

/* The line a job ends with on stderr (unless --quiet): "lag: JOB SYS: ...". */
void job_summary(const Job *J, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
