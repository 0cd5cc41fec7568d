/*
 * lang/job_solve.c — the solve driver: a problem's objective and
 * constraints as interval terms (lang/mech.h: mech_build_problem), each
 * with its exact gradient and Hessian in the node values, lowered to IR
 * programs that the VM runs over all intervals as one batch; the variational
 * engine (runtime/solve.h) does the rest.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "lang/lower.h"
#include "runtime/mem.h"
#include "runtime/solve.h"
#include "runtime/vm.h"

/* The source text of a one-line range, for the names of constraints. */
static const char *source_text(Front *F, Loc loc)
{
    if (loc.file < 0 || loc.first_line != loc.last_line)
        return NULL;
    const Source *src = &F->diag.src[loc.file];
    const char *p = src->text, *end = src->text + src->len;
    for (int line = 1; line < loc.first_line && p < end; p++)
        line += *p == '\n';
    /* columns count characters: skip UTF-8 continuation bytes */
    const char *a = p;
    for (int c = 1; c < loc.first_column && a < end && *a != '\n'; c++)
        for (a++; a < end && ((unsigned char)*a & 0xC0) == 0x80; a++)
            ;
    const char *b = a;
    for (int c = loc.first_column; c <= loc.last_column && b < end && *b != '\n'; c++)
        for (b++; b < end && ((unsigned char)*b & 0xC0) == 0x80; b++)
            ;
    return b > a ? arena_printf(F->arena, "%.*s", (int)(b - a), a) : NULL;
}

int job_solve(Job *J)
{
    Front *F = J->F;
    const Item *job = J->item, *prob = J->target;
    const Setting *set = job->settings;
    int points;
    if (job_points(J, JOB_SOLVE, &points) != 0)
        return 1;
    Sym *S = sym_new(F->arena);
    Problem P;
    if (mech_build_problem(&P, S, &F->diag, prob, J->run->trained) != 0 || P.nfuncs > 0) {
        if (P.nfuncs > 0)
            diag_error(&F->diag, P.funcs[0].stmt->loc, "'%s' is an unknown function: infer fits it; solve needs it "
                       "given (as a let)", P.funcs[0].name);
        diag_flush(&F->diag);
        sym_free(S);
        return P.m.io_errors ? 4 : 1;
    }
    const int nf = P.m.n;
    const int nterms = 1 + P.ncons;
    JobTerm *terms = arena_alloc(S->arena, (size_t)nterms * sizeof *terms);
    SolveTerm *cons = arena_alloc(S->arena, (size_t)(P.ncons + 1) * sizeof *cons);
    double *cons_value = arena_alloc(S->arena, (size_t)(P.ncons + 1) * sizeof *cons_value);
    for (int k = 0; k < nterms; k++) {
        const char *name = k == 0 ? arena_printf(S->arena, "%s.objective", prob->name.name)
                                  : arena_printf(S->arena, "%s.constraint%d", prob->name.name, k);
        job_term_build(&terms[k], &P, k == 0 ? P.objective : P.cons[k - 1], name);
    }
    /* every term has the problem's parameter list: one array, h last */
    double *params = job_params(J, S, set, terms[0].prog[SOLVE_HESSIAN], prob, &P.m);
    /* the domain, the constraints' values, the fixed ends: expressions of
     * the parameters, at this job's values */
    double *xv = arena_alloc(S->arena, (size_t)(S->nvars + 1) * sizeof *xv);
    for (int j = 0; j < P.m.np; j++)
        xv[P.m.par[j]] = params[j];
    P.x0 = sym_eval(S, P.lo_e, xv);
    P.x1 = sym_eval(S, P.hi_e, xv);
    if (!(P.x0 < P.x1)) {
        fprintf(stderr, "lag: %s: solve %s: the domain %g .. %g is empty with this job's parameters\n", J->where,
                prob->name.name, P.x0, P.x1);
        for (int k = 0; k < nterms; k++)
            job_term_close(&terms[k]);
        sym_free(S);
        return 1;
    }
    const double h = (P.x1 - P.x0) / (points - 1);
    params[P.m.np - 1] = h;
    xv[P.h] = h;
    for (int k = 0; k < nterms; k++) {
        job_term_native(J, &terms[k]);
        job_term_open(&terms[k], params, points - 1);
    }
    for (int j = 0; j < P.ncons; j++) {
        const char *text = source_text(F, P.cons_stmt[j]->loc);
        cons[j] = (SolveTerm){job_term_eval, &terms[1 + j], text ? text : arena_printf(S->arena, "constraint %d", j + 1)};
        cons_value[j] = sym_eval(S, P.cons_value[j], xv);
    }
    double *lo = arena_alloc(S->arena, (size_t)nf * sizeof *lo), *hi = arena_alloc(S->arena, (size_t)nf * sizeof *hi);
    for (int i = 0; i < nf; i++) {
        lo[i] = P.fixed_lo[i] ? sym_eval(S, P.fix_lo[i], xv) : NAN;
        hi[i] = P.fixed_hi[i] ? sym_eval(S, P.fix_hi[i], xv) : NAN;
    }
    double *y = mem_xalloc((size_t)points * (size_t)nf * sizeof *y);
    for (size_t i = 0; i < (size_t)points * (size_t)nf; i++)
        y[i] = NAN; /* the engine's default guess */
    int rc = 0;
    const Setting *guess = settings_get(set, "guess");
    if (job_node_values(&P, &F->diag, guess, xv, P.x0, h, 0, points - 1, y) != 0) {
        rc = 1;
        goto done;
    }
    /* a guessed field without a guess for the others: those start as the
     * engine's default would (the line between fixed ends, else 0) */
    if (guess)
        for (int i = 0; i < nf; i++)
            if (isnan(y[i]))
                for (int k = 0; k < points; k++) {
                    double a = P.fixed_lo[i] ? lo[i] : P.fixed_hi[i] ? hi[i] : 0;
                    double b = P.fixed_hi[i] ? hi[i] : a;
                    y[(size_t)k * (size_t)nf + (size_t)i] = a + (b - a) * k / (points - 1);
                }

    /* a closed form to compare with: NaN where a field has none */
    double *exact = NULL;
    const Setting *exact_s = settings_get(set, "exact");
    if (exact_s) {
        exact = mem_xalloc((size_t)points * (size_t)nf * sizeof *exact);
        for (size_t i = 0; i < (size_t)points * (size_t)nf; i++)
            exact[i] = NAN;
        if (job_node_values(&P, &F->diag, exact_s, xv, P.x0, h, 0, points - 1, exact) != 0) {
            mem_free(exact);
            rc = 1;
            goto done;
        }
    }
    char *outpath = job_output(J, settings_get(set, "output"));
    char *plotpath = job_output(J, settings_get(set, "plot"));
    SolveJob sj = job_problem_solve(&P, prob->name.name, points, terms, cons, cons_value, lo, hi);
    sj.tol = settings_num(set, JOB_SOLVE, "tol");
    sj.max_iter = (int)settings_num(set, JOB_SOLVE, "iterations");
    sj.output = outpath;
    sj.plot = plotpath;
    sj.exact = exact;
    sj.progress = !J->opt->quiet && (J->opt->progress || isatty(2));
    SolveResult res = {0};
    res.y = y;
    res.multipliers = arena_alloc(S->arena, (size_t)(P.ncons + 1) * sizeof *res.multipliers);
    rc = solve_run(&sj, &res);
    if (J->opt->json && solve_json(stdout, &sj, &res) != 0 && rc == 0)
        rc = 4;
    if (res.status != 0)
        fprintf(stderr, "lag: %s: solve %s: %s\n", J->where, prob->name.name, res.message);
    if (rc == 0) {
        char mult[256] = "";
        for (int j = 0; j < P.ncons && strlen(mult) < 200; j++)
            snprintf(mult + strlen(mult), sizeof mult - strlen(mult), "%s multiplier %.10g", j ? "," : ";",
                     res.multipliers[j]);
        char ex[64] = "";
        if (exact)
            snprintf(ex, sizeof ex, "; max error %.3g against the closed form", res.max_error);
        job_summary(J, "%s%s%s%d iterations, objective %.10g, residual %.2g, a %s (Morse index %d)%s%s",
                    outpath ? "wrote " : "", outpath ? outpath : "", outpath ? ": " : "", res.iterations,
                    res.objective, res.residual, res.kind, res.morse_index, mult, ex);
    }
    mem_free(outpath);
    mem_free(plotpath);
    mem_free(exact);
done:
    mem_free(y);
    for (int k = 0; k < nterms; k++)
        job_term_close(&terms[k]);
    sym_free(S);
    return rc;
}
