/*
 * lang/el.c — the `lag el` command (see el.h).
 *
 * Three renderings of one Mech: readable text (with the explicit
 * accelerations where a closed form exists), LaTeX (an align* block per
 * system), and `name = expr` lines in .lag syntax that other tools parse.
 * `--stats` prints the sizes used by the benchmarks.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/el.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/hamilton.h"
#include "lang/lower.h"
#include "lang/mech.h"
#include "runtime/mem.h"

/* Parameters replaced by their default values. */
static SymId numeric(Mech *m, SymId e)
{
    Sym *S = m->S;
    double *value = arena_alloc(S->arena, (size_t)S->nvars * sizeof *value);
    char *has = arena_alloc(S->arena, (size_t)S->nvars);
    for (int k = 0; k < m->np; k++) {
        value[m->par[k]] = S->vars[m->par[k]].value;
        has[m->par[k]] = 1;
    }
    return sym_subst(S, e, value, has);
}

/* One `name = expr` line (indented in the text form, not in --lag). */
static void line(Mech *m, FILE *out, const char *indent, const char *name, SymId e)
{
    fprintf(out, "%s%s = ", indent, name);
    sym_print(m->S, out, e);
    fputc('\n', out);
}

/* A number as the expressions print theirs (sym_format_number). */
static void print_number(FILE *out, double v)
{
    char buf[40];
    sym_format_number(buf, sizeof buf, v);
    fputs(buf, out);
}

/* No force and no dissipation: Noether's theorem holds for L alone. */
static int unforced(const Mech *m)
{
    if (m->D != m->S->zero)
        return 0;
    for (int i = 0; i < m->n; i++)
        if (m->Q[i] != m->S->zero)
            return 0;
    return 1;
}

/* The constraints: each one's g (holonomic), its row of A = dC/dq' and
 * its acceleration-level right side c = -(dC/dt at q'' = 0), so that
 * A q'' = c; then the multipliers in q, q' and q''.  indent "" for --lag
 * (names g_NAME, A_NAME_q, c_NAME, lambda_NAME), else the text form. */
static void print_constraints(Mech *m, FILE *out, const char *indent)
{
    Sym *S = m->S;
    char name[300];
    int lag = !*indent;
    char inner[16], deeper[16];
    snprintf(inner, sizeof inner, "%s  ", indent);
    snprintf(deeper, sizeof deeper, "%s    ", indent);
    if (!lag)
        fprintf(out, "%sconstraints (their forces A^T lambda in M q'' = f + A^T lambda; A q'' = c):\n", indent);
    for (int k = 0; k < m->ncons; k++) {
        const MechCons *c = &m->cons[k];
        if (!lag)
            fprintf(out, "%s%s (%s):\n", inner, c->name, c->g ? "holonomic" : "on the velocities");
        if (c->g) {
            snprintf(name, sizeof name, "g_%s", c->name);
            line(m, out, lag ? "" : deeper, name, c->g);
        } else {
            snprintf(name, sizeof name, "C_%s", c->name);
            line(m, out, lag ? "" : deeper, name, c->C);
        }
        for (int i = 0; i < m->n; i++) {
            snprintf(name, sizeof name, "A_%s_%s", c->name, m->names[i]);
            line(m, out, lag ? "" : deeper, name, c->A[i]);
        }
        snprintf(name, sizeof name, "c_%s", c->name);
        line(m, out, lag ? "" : deeper, name, sym_neg(S, c->rest));
    }
    const SymId *lam = mech_multipliers(m);
    if (!lag)
        fprintf(out, "%smultipliers (from M q'' - f = A^T lambda, along the motion):\n", indent);
    /* in --lag a comment: q'' is no variable the lines define */
    for (int k = 0; k < m->ncons; k++) {
        snprintf(name, sizeof name, "lambda_%s", m->cons[k].name);
        line(m, out, lag ? "# " : inner, name, lam[k]);
    }
}

static void print_hamiltonian(Mech *m, ElFormat format, FILE *out);

static void print_lag(Mech *m, FILE *out)
{
    int n = m->n;
    char name[300];
    fprintf(out, "# system %s\n", m->sys->name.name);
    /* the parameters' values first, so the lines evaluate in order without
     * the .lag file */
    for (int k = 0; k < m->np; k++) {
        const SymVar *v = &m->S->vars[m->par[k]];
        fprintf(out, "%s = ", v->name);
        print_number(out, v->value);
        fputc('\n', out);
    }
    /* an input read from a file is data, not an expression: named here so
     * a reader knows what F(t) in the lines below stands for */
    for (const Stmt *st = m->sys->stmts; st; st = st->next)
        if (st->kind == ST_INPUT && st->at && st->at->kind == EX_STR) {
            fprintf(out, "# %s(%s): input from \"%s\"", st->names[0].name, st->names[1].name, st->at->str);
            for (const NetArg *o = st->netargs; o; o = o->next)
                if (o->value && o->value->kind == EX_NAME)
                    fprintf(out, ", %s %s", o->key.name, o->value->id.name);
            fputc('\n', out);
        }
    if (m->H) /* given by H: its lines first (p_q below is then dL/dq' of the equivalent L) */
        print_hamiltonian(m, EL_LAG, out);
    if (m->given_accel) {
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "accel_%s", m->names[i]);
            line(m, out, "", name, m->acc[i]);
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "p_%s", m->names[i]);
        line(m, out, "", name, m->p[i]);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            snprintf(name, sizeof name, "M_%d_%d", i + 1, j + 1);
            line(m, out, "", name, m->M[i * n + j]);
        }
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f_%s", m->names[i]);
        line(m, out, "", name, m->f[i]);
    }
    if (m->ncons) {
        print_constraints(m, out, "");
        fputs("# accel: [M, -A^T; A, 0] [q''; lambda] = [f; c], solved numerically\n", out);
    } else if (m->accel == MECH_ACCEL_SYMBOLIC) {
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "accel_%s", m->names[i]);
            line(m, out, "", name, m->acc[i]);
        }
    } else if (m->singular) {
        fputs("# no accelerations: the mass matrix is singular (det M = 0 for every state)\n", out);
    } else if (m->acc_part) {
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "accel_%s", m->names[i]);
            if (m->acc_part[i])
                line(m, out, "", name, m->acc_part[i]);
            else
                fprintf(out, "# %s: from M q'' = f, solved numerically (coupled)\n", name);
        }
    } else if (n == 3) {
        /* Cramer's rule in the names above: a closed form for any M. */
        const char *q0 = m->names[0], *q1 = m->names[1], *q2 = m->names[2];
        fprintf(out,
                "det_M = M_1_1*(M_2_2*M_3_3 - M_2_3*M_3_2) - M_1_2*(M_2_1*M_3_3 - M_2_3*M_3_1)"
                " + M_1_3*(M_2_1*M_3_2 - M_2_2*M_3_1)\n");
        fprintf(out,
                "accel_%s = (f_%s*(M_2_2*M_3_3 - M_2_3*M_3_2) - M_1_2*(f_%s*M_3_3 - M_2_3*f_%s)"
                " + M_1_3*(f_%s*M_3_2 - M_2_2*f_%s))/det_M\n",
                q0, q0, q1, q2, q1, q2);
        fprintf(out,
                "accel_%s = (M_1_1*(f_%s*M_3_3 - M_2_3*f_%s) - f_%s*(M_2_1*M_3_3 - M_2_3*M_3_1)"
                " + M_1_3*(M_2_1*f_%s - f_%s*M_3_1))/det_M\n",
                q1, q1, q2, q0, q2, q1);
        fprintf(out,
                "accel_%s = (M_1_1*(M_2_2*f_%s - f_%s*M_3_2) - M_1_2*(M_2_1*f_%s - f_%s*M_3_1)"
                " + f_%s*(M_2_1*M_3_2 - M_2_2*M_3_1))/det_M\n",
                q2, q2, q1, q2, q1, q0);
    } else {
        fprintf(out, "# no closed-form accelerations (n = %d): solve M q'' = f numerically\n", n);
    }
    line(m, out, "", "E", m->E);
    if (m->energy_conserved)
        line(m, out, "", "conserved_E", m->E);
    for (int i = 0; i < n; i++)
        if (m->cyclic[i]) {
            snprintf(name, sizeof name, "conserved_p_%s", m->names[i]);
            line(m, out, "", name, m->p[i]);
        }
    /* each symmetry: its charge (continuous ones), whether L is invariant,
     * and the charge again as conserved when it is (Noether) */
    for (int k = 0; k < m->nsyms; k++) {
        const MechSym *y = &m->syms[k];
        if (!y->swap) {
            snprintf(name, sizeof name, "noether_%s", y->name);
            line(m, out, "", name, y->Q);
        }
        fprintf(out, "invariant_%s = %d\n", y->name, y->invariant ? 1 : 0);
        if (!y->swap && y->invariant && unforced(m)) {
            snprintf(name, sizeof name, "conserved_noether_%s", y->name);
            line(m, out, "", name, y->Q);
        }
    }
}

/* ---------- the Hamiltonian view (lang/hamilton.h) ---------- */

static void latex_coord(FILE *out, Mech *m, int i, int dots);

/* The parameters' values as --lag lines. */
static void lag_params(Mech *m, FILE *out)
{
    for (int k = 0; k < m->np; k++) {
        const SymVar *v = &m->S->vars[m->par[k]];
        fprintf(out, "%s = ", v->name);
        print_number(out, v->value);
        fputc('\n', out);
    }
}

static int forced(const Mech *m)
{
    return !m->given_accel && !unforced(m);
}

/* H, Hamilton's equations and (a system given by H) the equivalent L, in
 * format; the reason instead when H has no closed form here. */
static void print_hamiltonian(Mech *m, ElFormat format, FILE *out)
{
    Sym *S = m->S;
    int n = m->n;
    char name[300], why[300];
    Ham h;
    int ok = ham_view(m, &h, why, sizeof why) == 0;
    /* with constraints, each p' gets the forces of constraint sum_c A_c lambda_c
     * (the multipliers as named variables: --lag, whose lines evaluate in
     * order, says so in a comment instead) */
    if (ok && m->ncons && format != EL_LAG)
        for (int c = 0; c < m->ncons; c++) {
            int lv = sym_add_var(S, arena_printf(S->arena, "lambda_%s", m->cons[c].name), "lambda", SV_PARAM,
                                 m->np + c, 0, 0);
            for (int i = 0; i < n; i++)
                h.dp[i] = sym_add2(S, h.dp[i], sym_mul2(S, m->cons[c].A[i], sym_var(S, lv)));
        }
    if (format == EL_LAG) {
        if (!ok) {
            fprintf(out, "# H has no closed form here: %s\n", why);
            return;
        }
        line(m, out, "", "H", h.H);
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "d%s_dt", m->names[i]);
            line(m, out, "", name, h.dq[i]);
        }
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "dp_%s_dt", m->names[i]);
            line(m, out, "", name, h.dp[i]);
        }
        if (m->H)
            line(m, out, "", "L", m->L);
        if (m->ncons)
            fputs("# with constraints, each dp_q_dt gets + A_NAME_q*lambda_NAME for each constraint NAME (lag el --lag prints A_NAME_q)\n",
                  out);
        return;
    }
    if (format == EL_LATEX) {
        if (!ok) {
            fprintf(out, "%% H has no closed form here: %s\n", why);
            return;
        }
        fprintf(out, "%% system %s: the Hamiltonian view\n\\begin{align*}\nH &= ", m->sys->name.name);
        sym_print_latex(S, out, h.H);
        for (int i = 0; i < n; i++) {
            fputs(" \\\\\n", out);
            latex_coord(out, m, i, 1);
            fputs(" &= ", out);
            sym_print_latex(S, out, h.dq[i]);
        }
        for (int i = 0; i < n; i++) {
            fputs(" \\\\\n\\dot{p}_{", out);
            latex_coord(out, m, i, 0);
            fputs("} &= ", out);
            sym_print_latex(S, out, h.dp[i]);
        }
        if (m->H) {
            fputs(" \\\\\nL &= ", out);
            sym_print_latex(S, out, m->L);
        }
        fputs("\n\\end{align*}\n", out);
        return;
    }
    if (!ok) {
        fprintf(out, "  Hamiltonian: H has no closed form here: %s\n", why);
        return;
    }
    fprintf(out, "  Hamiltonian%s:\n", m->H ? " (given)" : " (the Legendre transform of L)");
    line(m, out, "    ", "H", h.H);
    fprintf(out, "  Hamilton's equations%s%s:\n", forced(m) ? " (with the forces at q' = dH/dp)" : "",
            m->ncons ? " (with the forces of constraint A^T lambda)" : "");
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s'", m->names[i]);
        line(m, out, "    ", name, h.dq[i]);
    }
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "p_%s'", m->names[i]);
        line(m, out, "    ", name, h.dp[i]);
    }
    if (m->ncons)
        fputs("  the constraints (their rows A = dC/dq', with q' = dH/dp):\n", out);
    for (int c = 0; c < m->ncons; c++) {
        snprintf(name, sizeof name, "%s: %s", m->cons[c].name, m->cons[c].g ? "g" : "C");
        fprintf(out, "    %s = ", name);
        sym_print(S, out, m->cons[c].g ? m->cons[c].g : m->cons[c].C);
        fputs(" = 0\n", out);
    }
    if (m->H) {
        fputs("  the equivalent Lagrangian (the inverse Legendre transform):\n", out);
        line(m, out, "    ", "L", m->L);
    }
}

static void print_text(Mech *m, FILE *out)
{
    int n = m->n;
    char name[300];
    fprintf(out, "system %s\n", m->sys->name.name);
    fputs("  coordinates: ", out);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? ", " : "", m->names[i]);
    fputc('\n', out);
    if (m->H) /* given by H: its view first, then the equivalent L's equations */
        print_hamiltonian(m, EL_TEXT, out);
    if (m->given_accel) {
        fputs("  accelerations (given):\n", out);
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "%s''", m->names[i]);
            line(m, out, "    ", name, m->acc[i]);
        }
        return;
    }
    fputs("  momenta:\n", out);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "p_%s", m->names[i]);
        line(m, out, "    ", name, m->p[i]);
    }
    fprintf(out, "  mass matrix%s:\n", n > 1 ? " (symmetric; upper triangle)" : "");
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            snprintf(name, sizeof name, "M_%d_%d", i + 1, j + 1);
            line(m, out, "    ", name, m->M[i * n + j]);
        }
    fprintf(out, "  equations of motion, M q'' = f%s:\n", m->ncons ? " + A^T lambda" : "");
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f_%s", m->names[i]);
        line(m, out, "    ", name, m->f[i]);
    }
    if (m->ncons) {
        print_constraints(m, out, "  ");
        fputs("  accelerations: [M, -A^T; A, 0] [q''; lambda] = [f; c] is solved numerically\n", out);
    } else if (m->accel == MECH_ACCEL_SYMBOLIC) {
        fputs("  accelerations:\n", out);
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "%s''", m->names[i]);
            line(m, out, "    ", name, m->acc[i]);
        }
    } else if (m->singular) {
        fputs("  accelerations: none: the mass matrix is singular (det M = 0 for every state)\n", out);
    } else if (m->acc_part) {
        fputs("  accelerations:\n", out);
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "%s''", m->names[i]);
            if (m->acc_part[i])
                line(m, out, "    ", name, m->acc_part[i]);
            else
                fprintf(out, "    %s: from M q'' = f, solved numerically (coupled)\n", name);
        }
    } else if (n == 3) {
        /* the closed form --lag prints too: Cramer's rule in M and f above */
        const char *q0 = m->names[0], *q1 = m->names[1], *q2 = m->names[2];
        fputs("  accelerations (Cramer's rule in M and f above; evaluated numerically):\n", out);
        fprintf(out, "    det M = M_1_1*(M_2_2*M_3_3 - M_2_3*M_3_2) - M_1_2*(M_2_1*M_3_3 - M_2_3*M_3_1)"
                     " + M_1_3*(M_2_1*M_3_2 - M_2_2*M_3_1)\n");
        fprintf(out, "    %s'' = (f_%s*(M_2_2*M_3_3 - M_2_3*M_3_2) - M_1_2*(f_%s*M_3_3 - M_2_3*f_%s)"
                     " + M_1_3*(f_%s*M_3_2 - M_2_2*f_%s))/det M\n", q0, q0, q1, q2, q1, q2);
        fprintf(out, "    %s'' = (M_1_1*(f_%s*M_3_3 - M_2_3*f_%s) - f_%s*(M_2_1*M_3_3 - M_2_3*M_3_1)"
                     " + M_1_3*(M_2_1*f_%s - f_%s*M_3_1))/det M\n", q1, q1, q2, q0, q2, q1);
        fprintf(out, "    %s'' = (M_1_1*(M_2_2*f_%s - f_%s*M_3_2) - M_1_2*(M_2_1*f_%s - f_%s*M_3_1)"
                     " + f_%s*(M_2_1*M_3_2 - M_2_2*M_3_1))/det M\n", q2, q2, q1, q2, q1, q0);
    } else {
        fputs("  accelerations: M q'' = f is solved numerically\n", out);
    }
    fputs("  energy:\n", out);
    line(m, out, "    ", "E", m->E);
    fputs("  conserved:", out);
    int any = 0;
    if (m->energy_conserved) {
        fputs(" E (L has no explicit t, no force or dissipation)", out);
        any = 1;
    }
    for (int i = 0; i < n; i++)
        if (m->cyclic[i]) {
            fprintf(out, "%s p_%s (%s is cyclic)", any ? "," : "", m->names[i], m->names[i]);
            any = 1;
        }
    for (int k = 0; k < m->nsyms; k++)
        if (!m->syms[k].swap && m->syms[k].invariant && unforced(m)) {
            fprintf(out, "%s noether_%s (symmetry %s)", any ? "," : "", m->syms[k].name, m->syms[k].name);
            any = 1;
        }
    fputs(any ? "\n" : " none found\n", out);
    if (m->nsyms)
        fputs("  symmetries:\n", out);
    for (int k = 0; k < m->nsyms; k++) {
        const MechSym *y = &m->syms[k];
        char how[160];
        if (y->invariant == 1)
            snprintf(how, sizeof how, "L is invariant (its change simplifies to 0)");
        else if (y->invariant == 2)
            snprintf(how, sizeof how, "L is invariant to rounding at %d random states (|dL| <= %.1e of |L|)",
                     y->nstates, fmax(y->residual, 1e-300) > 1e-300 ? y->residual : 0.0);
        else
            snprintf(how, sizeof how, "L is NOT invariant (|dL| up to %.3g of max(1, |L|) at %d random states)",
                     y->residual, y->nstates);
        fprintf(out, "    %s (%s): %s\n", y->name, y->swap ? "an exchange" : "continuous", how);
        if (!y->swap) {
            snprintf(name, sizeof name, "noether_%s", y->name);
            line(m, out, "      ", name, y->Q);
        }
        if (!y->invariant) {
            snprintf(name, sizeof name, "dL_%s", y->name);
            line(m, out, "      ", name, y->dL);
        }
    }
}

static void latex_coord(FILE *out, Mech *m, int i, int dots)
{
    /* Reuse the printer's naming: print the variable node. */
    Sym *S = m->S;
    SymId v = sym_var(S, dots ? m->v[i] : m->q[i]);
    if (dots < 2) {
        sym_print_latex(S, out, v);
        return;
    }
    /* \ddot{x}: print \dot{x} and patch the macro name */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return;
    sym_print_latex(S, mem, v);
    fclose(mem);
    const char *dot = strstr(buf, "\\dot{");
    if (dot)
        fprintf(out, "%.*s\\ddot{%s", (int)(dot - buf), buf, dot + 5);
    else
        fputs(buf, out);
    free(buf);
}

static void print_latex(Mech *m, FILE *out)
{
    Sym *S = m->S;
    int n = m->n;
    fprintf(out, "%% system %s\n\\begin{align*}\n", m->sys->name.name);
    if (m->given_accel) {
        for (int i = 0; i < n; i++) {
            latex_coord(out, m, i, 2);
            fputs(" &= ", out);
            sym_print_latex(S, out, m->acc[i]);
            fputs(i + 1 < n ? " \\\\\n" : "\n", out);
        }
        fputs("\\end{align*}\n", out);
        return;
    }
    for (int i = 0; i < n; i++) {
        fputs("p_{", out);
        latex_coord(out, m, i, 0);
        fputs("} &= ", out);
        sym_print_latex(S, out, m->p[i]);
        fputs(" \\\\\n", out);
    }
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            fprintf(out, "M_{%d%d} &= ", i + 1, j + 1);
            sym_print_latex(S, out, m->M[i * n + j]);
            fputs(" \\\\\n", out);
        }
    for (int i = 0; i < n; i++) {
        /* the i-th equation: sum_j M_ij q_j'' = f_i */
        int first = 1;
        for (int j = 0; j < n; j++) {
            if (m->M[i * n + j] == S->zero)
                continue;
            fprintf(out, "%sM_{%d%d}\\,", first ? "" : " + ", i < j ? i + 1 : j + 1,
                    i < j ? j + 1 : i + 1);
            latex_coord(out, m, j, 2);
            first = 0;
        }
        fputs(" &= ", out);
        int shown = m->f[i] != S->zero || !m->ncons;
        if (shown)
            sym_print_latex(S, out, m->f[i]);
        for (int k = 0; k < m->ncons; k++)
            if (m->cons[k].A[i] != S->zero) {
                fputs(shown ? " + (" : "(", out);
                shown = 1;
                sym_print_latex(S, out, m->cons[k].A[i]);
                fputs(")\\,\\lambda_{\\mathrm{", out);
                for (const char *ch = m->cons[k].name; *ch; ch++)
                    fputs(*ch == '_' ? "\\_" : (char[2]){*ch, 0}, out);
                fputs("}}", out);
            }
        if (!shown)
            fputs("0", out);
        fputs(" \\\\\n", out);
    }
    for (int k = 0; k < m->ncons; k++) {
        /* each constraint at the acceleration level: sum_j A_kj q_j'' = c_k,
         * its force A_k^T lambda_k added to f above */
        const MechCons *c = &m->cons[k];
        int first = 1;
        for (int j = 0; j < n; j++) {
            if (c->A[j] == S->zero)
                continue;
            fputs(first ? "" : " + ", out);
            fputc('(', out);
            sym_print_latex(S, out, c->A[j]);
            fputs(")\\,", out);
            latex_coord(out, m, j, 2);
            first = 0;
        }
        fputs(" &= ", out);
        sym_print_latex(S, out, sym_neg(S, c->rest));
        fputs(" \\quad (\\lambda_{\\mathrm{", out);
        for (const char *ch = c->name; *ch; ch++)
            fputs(*ch == '_' ? "\\_" : (char[2]){*ch, 0}, out);
        fputs("}}) \\\\\n", out);
    }
    if (m->accel == MECH_ACCEL_SYMBOLIC)
        for (int i = 0; i < n; i++) {
            latex_coord(out, m, i, 2);
            fputs(" &= ", out);
            sym_print_latex(S, out, m->acc[i]);
            fputs(" \\\\\n", out);
        }
    fputs("E &= ", out);
    sym_print_latex(S, out, m->E);
    /* the charges of the continuous symmetries */
    for (int k = 0; k < m->nsyms; k++)
        if (!m->syms[k].swap) {
            fputs(" \\\\\nQ_{\\mathrm{", out);
            for (const char *c = m->syms[k].name; *c; c++)
                fputs(*c == '_' ? "\\_" : (char[2]){*c, 0}, out);
            fputs("}} &= ", out);
            sym_print_latex(S, out, m->syms[k].Q);
        }
    fputs("\n\\end{align*}\n", out);
}

static void print_stats(Mech *m, FILE *out)
{
    Sym *S = m->S;
    int n = m->n;
    fprintf(out, "# system %s\n", m->sys->name.name);
    if (m->given_accel) {
        fprintf(out, "ops_cse %ld\n", sym_ops_dag(S, m->acc, n));
        return;
    }
    int nr = n * n + n;
    SymId *roots = arena_alloc(S->arena, (size_t)nr * sizeof *roots);
    memcpy(roots, m->M, (size_t)(n * n) * sizeof *roots);
    memcpy(roots + n * n, m->f, (size_t)n * sizeof *roots);
    long tree = 0;
    for (int i = 0; i < nr; i++)
        tree += sym_ops_tree(S, roots[i]);
    fprintf(out, "coordinates %d\n", n);
    fprintf(out, "ops_tree %ld\n", tree);
    fprintf(out, "ops_cse %ld\n", sym_ops_dag(S, roots, nr));
    for (int i = 0; i < nr; i++)
        roots[i] = numeric(m, roots[i]);
    fprintf(out, "ops_cse_numeric %ld\n", sym_ops_dag(S, roots, nr));
    fprintf(out, "nodes %u\n", S->nnodes - 1);
}

static void print_ir(Mech *m, FILE *out)
{
    IrProgram *rhs = lower_rhs(m);
    ir_print(out, rhs);
    ir_free(rhs);
    if (!m->given_accel) {
        const char *name = "E";
        IrProgram *e = lower_exprs(m, arena_printf(m->S->arena, "%s.energy", m->sys->name.name),
                                   &m->E, &name, 1);
        ir_print(out, e);
        ir_free(e);
    }
}

/* Whether name is one of the names print_hamiltonian's --lag lines define. */
static int ham_line_name(const Mech *m, const char *name)
{
    if (strcmp(name, "H") == 0 || strcmp(name, "L") == 0)
        return 1;
    char buf[300];
    for (int q = 0; q < m->n; q++) {
        snprintf(buf, sizeof buf, "d%s_dt", m->names[q]);
        if (strcmp(name, buf) == 0)
            return 1;
        snprintf(buf, sizeof buf, "dp_%s_dt", m->names[q]);
        if (strcmp(name, buf) == 0)
            return 1;
    }
    return 0;
}

/* Whether name is one of the names print_lag defines for m. */
static int lag_line_name(const Mech *m, const char *name, int ham)
{
    if (ham && ham_line_name(m, name))
        return 1;
    static const char *const fixed[] = {"E", "conserved_E", "det_M"};
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
        if (strcmp(name, fixed[k]) == 0)
            return 1;
    char mij[64];
    for (int i = 1; i <= m->n; i++)
        for (int j = 1; j <= m->n; j++) {
            snprintf(mij, sizeof mij, "M_%d_%d", i, j);
            if (strcmp(name, mij) == 0)
                return 1;
        }
    static const char *const sprefix[] = {"noether_", "invariant_", "conserved_noether_"};
    for (size_t k = 0; k < sizeof sprefix / sizeof sprefix[0]; k++) {
        size_t pl = strlen(sprefix[k]);
        if (strncmp(name, sprefix[k], pl) == 0)
            for (int y = 0; y < m->nsyms; y++)
                if (strcmp(name + pl, m->syms[y].name) == 0)
                    return 1;
    }
    static const char *const prefix[] = {"p_", "f_", "accel_", "conserved_p_"};
    for (size_t k = 0; k < sizeof prefix / sizeof prefix[0]; k++) {
        size_t pl = strlen(prefix[k]);
        if (strncmp(name, prefix[k], pl) == 0)
            for (int q = 0; q < m->n; q++)
                if (strcmp(name + pl, m->names[q]) == 0)
                    return 1;
    }
    return 0;
}

/* --lag defines names in order; a parameter or coordinate of the same name
 * as one of its lines would make the lines mean something else when
 * evaluated: an error, located at the declaration.  ham: 1 with the
 * Hamiltonian lines (a system given by H), 2 those alone (--hamiltonian). */
static int lag_names_clash(Front *F, const Mech *m, int ham)
{
    int errors = 0;
    for (const Stmt *s = m->sys->stmts; s; s = s->next)
        if ((s->kind == ST_PARAM || s->kind == ST_COORD) &&
            (ham == 2 ? ham_line_name(m, s->names[0].name) : lag_line_name(m, s->names[0].name, ham))) {
            diag_error(&F->diag, s->loc,
                       "lag el --lag prints a line named '%s', which is also the name of this %s: "
                       "rename the %s",
                       s->names[0].name, s->kind == ST_PARAM ? "parameter" : "coordinate",
                       s->kind == ST_PARAM ? "parameter" : "coordinate");
            errors++;
        }
    return errors;
}

/* The Hamiltonian view names the momentum of q p_q: a parameter or
 * coordinate of that name would read as the momentum (an error, located
 * at the declaration; a system given by H refuses one when checked). */
static int momentum_names_clash(Front *F, const Mech *m)
{
    int errors = 0;
    for (const Stmt *s = m->sys->stmts; s; s = s->next)
        for (int q = 0; q < m->n && (s->kind == ST_PARAM || s->kind == ST_COORD); q++)
            if (strncmp(s->names[0].name, "p_", 2) == 0 && strcmp(s->names[0].name + 2, m->names[q]) == 0) {
                diag_error(&F->diag, s->loc, "lag el --hamiltonian names the momentum of '%s' '%s', which is also "
                           "the name of this %s: rename the %s", m->names[q], s->names[0].name,
                           s->kind == ST_PARAM ? "parameter" : "coordinate",
                           s->kind == ST_PARAM ? "parameter" : "coordinate");
                errors++;
            }
    return errors;
}

/* --set values of this system replace its defaults (the last one given
 * wins, as in lag run). */
static void apply_sets(Mech *m, const Override *sets, int nsets)
{
    for (int i = 0; i < nsets; i++)
        if (sets[i].sys == m->sys)
            for (int k = 0; k < m->np; k++)
                if (strcmp(m->S->vars[m->par[k]].name, sets[i].param) == 0)
                    m->S->vars[m->par[k]].value = sets[i].value;
}

static int one_system(Front *F, const Item *it, ElFormat format, const Override *sets, int nsets,
                      int view, FILE *out)
{
    Sym *S = sym_new(F->arena);
    Mech m;
    /* the IR of a learned system is printable; its symbolic equations are not */
    if (mech_build(&m, S, &F->diag, it, format == EL_IR ? MECH_NETS : 0) != 0) {
        sym_free(S);
        return 1;
    }
    int ham = view == EL_VIEW_HAMILTONIAN || m.H;
    if (view == EL_VIEW_HAMILTONIAN ? momentum_names_clash(F, &m) != 0 ||
                                          (format == EL_LAG && lag_names_clash(F, &m, 2) != 0)
                                    : format == EL_LAG && lag_names_clash(F, &m, ham) != 0) {
        sym_free(S);
        return 1;
    }
    apply_sets(&m, sets, nsets);
    if (view == EL_VIEW_HAMILTONIAN) {
        /* H alone: after the system's header (and, in --lag, its parameters) */
        if (format == EL_LAG) {
            fprintf(out, "# system %s\n", it->name.name);
            lag_params(&m, out);
        } else if (format == EL_TEXT)
            fprintf(out, "system %s\n", it->name.name);
        print_hamiltonian(&m, format, out);
        sym_free(S);
        return 0;
    }
    if (m.H && format == EL_LATEX) /* given by H: its view, then the equivalent L's equations */
        print_hamiltonian(&m, format, out);
    if (format == EL_IR)
        print_ir(&m, out);
    else if (format == EL_LAG)
        print_lag(&m, out);
    else if (format == EL_LATEX)
        print_latex(&m, out);
    else if (format == EL_STATS)
        print_stats(&m, out);
    else
        print_text(&m, out);
    sym_free(S);
    return 0;
}

int ir_run(Front *F, const char *system, FILE *out)
{
    return el_run(F, system, EL_IR, out);
}

int el_run(Front *F, const char *system, ElFormat format, FILE *out)
{
    return el_run_sets(F, system, format, NULL, 0, out);
}

int el_run_sets(Front *F, const char *system, ElFormat format, const Override *sets, int nsets,
                FILE *out)
{
    return el_run_view(F, system, format, sets, nsets, EL_VIEW_LAGRANGIAN, out);
}

static int has_net(const Item *it)
{
    for (const Stmt *s = it->stmts; s; s = s->next)
        if (s->kind == ST_NET)
            return 1;
    return 0;
}

/* What el_run does with item it of file f: 0 nothing, 1 a comment (a
 * learned system, when listing everything), 2 its equations. */
static int selection(const Item *it, int f, const char *system, ElFormat format)
{
    /* without a name: the root file's systems; with one: any file's */
    if (it->kind != IT_SYSTEM ||
        (system ? strcmp(it->name.name, system) != 0 : f > 0 || !it->stmts))
        return 0;
    return has_net(it) && !system && format != EL_IR ? 1 : 2;
}

/* Each --set (already checked against the program) names a system that is
 * printed; the first that does not is reported (exit 2). */
static int check_sets(Front *F, const char *system, ElFormat format, const Override *sets, int nsets)
{
    for (int i = 0; i < nsets; i++) {
        int printed = 0;
        for (int f = 0; f < F->prog.nfiles && !printed; f++)
            for (const Item *it = F->prog.files[f]; it && !printed; it = it->next)
                printed = it == sets[i].sys && selection(it, f, system, format) == 2;
        if (printed)
            continue;
        const char *name = sets[i].sys->name.name;
        if (sets[i].sys->kind != IT_SYSTEM)
            fprintf(stderr, "lag: el: --set '%s': '%s' is a problem; lag el prints systems\n", sets[i].arg, name);
        else if (has_net(sets[i].sys) && !system)
            fprintf(stderr, "lag: el: --set '%s': system '%s' is learned and not printed\n", sets[i].arg, name);
        else
            fprintf(stderr, "lag: el: --set '%s': system '%s' is not printed (name it after the file to print it)\n",
                    sets[i].arg, name);
        return 2;
    }
    return 0;
}

int el_run_view(Front *F, const char *system, ElFormat format, const Override *sets, int nsets,
                ElView view, FILE *out)
{
    int rc = 0, found = 0, first = 1;
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            found += selection(it, f, system, format) != 0;
    if (system && !found) {
        const char *near = front_near_system(F, system);
        fprintf(stderr, "lag: el: no system '%s' in the program%s%s%s\n", system, near ? " (did you mean '" : "",
                near ? near : "", near ? "'?)" : "");
        return 1;
    }
    if (nsets > 0 && check_sets(F, system, format, sets, nsets) != 0)
        return 2;
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next) {
            int what = selection(it, f, system, format);
            if (what == 0)
                continue;
            if (!first && format == EL_TEXT)
                fputc('\n', out);
            first = 0;
            /* learned systems are skipped when listing everything */
            if (what == 1) {
                fprintf(out, "%s system %s: learned (has a net); its equations are evaluated "
                             "numerically\n",
                        format == EL_LATEX ? "%" : "#", it->name.name);
                continue;
            }
            if (one_system(F, it, format, sets, nsets, view, out) != 0)
                rc = 1;
        }
    return rc;
}
