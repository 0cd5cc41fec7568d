/*
 * lang/symprint.c — writing expressions of the symbolic core, in .lag
 * syntax (parseable back: ^ for powers, primes for velocities) and in
 * LaTeX.
 *
 * The normal form is an expanded sum of products; for reading, a printer
 * puts the factors of a product in a conventional order (numbers,
 * parameters, time, coordinates, velocities, then the rest), writes
 * negative powers as a denominator, and pulls a factor common to every
 * term of a sum out in front of it.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lang/sym.h"
#include "runtime/mem.h"

typedef struct Printer {
    Sym *S; /* not const: pulling out a common factor builds the reduced sum */
    FILE *out;
    int latex;
} Printer;

enum { P_SUM = 1, P_PRODUCT = 2, P_POWER = 4, P_ATOM = 5 };

static void expr(Printer *p, SymId id, int prec);

void sym_format_number(char *buf, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, n, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
}

static void number(Printer *p, double v)
{
    char buf[40];
    sym_format_number(buf, sizeof buf, v);
    if (p->latex && strchr(buf, 'e')) {
        char *e = strchr(buf, 'e');
        *e = '\0';
        fprintf(p->out, "%s \\cdot 10^{%d}", buf, atoi(e + 1));
        return;
    }
    fputs(buf, p->out);
}

/* ---------- LaTeX names ---------- */

static const char *const greek[] = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi",
    "Omega"};

/* Write a base name as LaTeX: a Greek letter name becomes the letter, a
 * trailing number a subscript (theta1 -> \theta_{1}, t2 -> t_{2}). */
static void latex_name(FILE *out, const char *name, int dots)
{
    size_t n = strlen(name), k = n;
    while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9')
        k--;
    if (k == 0)
        k = n;
    const char *us = memchr(name, '_', k);
    size_t stem = us ? (size_t)(us - name) : k;
    char letter[64];
    snprintf(letter, sizeof letter, "%.*s", (int)(stem < 60 ? stem : 60), name);
    int is_greek = 0;
    for (size_t i = 0; i < sizeof greek / sizeof greek[0]; i++)
        if (strcmp(letter, greek[i]) == 0)
            is_greek = 1;
    if (strcmp(letter, "th") == 0) {
        strcpy(letter, "theta");
        is_greek = 1;
    }
    if (dots)
        fputs(dots == 1 ? "\\dot{" : "\\ddot{", out);
    if (is_greek)
        fprintf(out, "\\%s", letter);
    else if (stem > 1)
        fprintf(out, "\\mathrm{%s}", letter);
    else
        fputs(letter, out);
    if (dots)
        fputc('}', out);
    const char *sub = us ? us + 1 : name + k;
    size_t sublen = us ? n - (size_t)(us + 1 - name) : n - k;
    if (sublen)
        fprintf(out, "_{%.*s}", (int)sublen, sub);
}

static void var(Printer *p, int v)
{
    const SymVar *x = &p->S->vars[v];
    if (p->latex)
        latex_name(p->out, x->base, x->order);
    else
        fputs(x->name, p->out);
}

/* ---------- products ---------- */

/* Printing order of a product's factors: parameters, time, coordinates,
 * velocities (each by number), then everything else by id. */
static long factor_key(const Sym *S, SymId id)
{
    const SymNode *x = &S->nodes[id];
    if (x->op == SYM_POW && S->nodes[x->args[1]].op == SYM_NUM)
        x = &S->nodes[x->args[0]], id = (SymId)(x - S->nodes);
    if (x->op == SYM_VAR) {
        const SymVar *v = &S->vars[x->u.var];
        long group = v->kind == SV_PARAM ? 0 : v->kind == SV_TIME ? 1 : v->kind == SV_COORD ? 2 + v->order : 4;
        return group << 40 | (long)v->index << 20;
    }
    return 5L << 40 | (long)id;
}

static const Sym *sort_sym;

static int cmp_factor_key(const void *a, const void *b)
{
    long x = factor_key(sort_sym, *(const SymId *)a), y = factor_key(sort_sym, *(const SymId *)b);
    return (x > y) - (x < y);
}

/* A term's few factor keys in ascending order (an insertion sort: this
 * runs inside every comparison of terms, where qsort's set-up dominates). */
static void sort_keys(long *v, int n)
{
    for (int i = 1; i < n; i++) {
        long key = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > key; j--)
            v[j] = v[j - 1];
        v[j] = key;
    }
}

/* Compare two terms of a sum by the print keys of their factors, in
 * printing order; a number goes last. */
static int cmp_terms(const void *pa, const void *pb)
{
    const Sym *S = sort_sym;
    SymId a = *(const SymId *)pa, b = *(const SymId *)pb;
    int na = S->nodes[a].op == SYM_NUM, nb = S->nodes[b].op == SYM_NUM;
    if (na || nb)
        return na - nb;
    const SymNode *x = &S->nodes[a], *y = &S->nodes[b];
    int double_a = x->op == SYM_MUL && S->nodes[x->args[0]].op == SYM_NUM;
    int double_b = y->op == SYM_MUL && S->nodes[y->args[0]].op == SYM_NUM;
    int la = x->op == SYM_MUL ? x->n - double_a : 1, lb = y->op == SYM_MUL ? y->n - double_b : 1;
    const SymId *fa = x->op == SYM_MUL ? x->args + double_a : &a;
    const SymId *fb = y->op == SYM_MUL ? y->args + double_b : &b;
    long ka[la], kb[lb];
    for (int i = 0; i < la; i++)
        ka[i] = factor_key(S, fa[i]);
    for (int i = 0; i < lb; i++)
        kb[i] = factor_key(S, fb[i]);
    sort_keys(ka, la);
    sort_keys(kb, lb);
    for (int i = 0; i < la && i < lb; i++)
        if (ka[i] != kb[i])
            return ka[i] < kb[i] ? -1 : 1;
    if (la != lb)
        return la < lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int neg_power(const Sym *S, SymId id, double *e)
{
    const SymNode *x = &S->nodes[id];
    return x->op == SYM_POW && sym_is_num(S, x->args[1], e) && *e < 0;
}

static void factor(Printer *p, SymId id, double flip)
{
    const Sym *S = p->S;
    const SymNode *x = &S->nodes[id];
    double e;
    if (flip && x->op == SYM_POW && sym_is_num(S, x->args[1], &e)) {
        e = -e;
        if (e == 1) {
            expr(p, x->args[0], P_POWER);
            return;
        }
        if (p->latex && e == 0.5) {
            fputs("\\sqrt{", p->out);
            expr(p, x->args[0], 0);
            fputc('}', p->out);
            return;
        }
        expr(p, x->args[0], P_ATOM);
        fputs(p->latex ? "^{" : "^", p->out);
        number(p, e);
        if (p->latex)
            fputc('}', p->out);
        return;
    }
    expr(p, id, P_PRODUCT + 1);
}

/* A product: coef * factors (ids); negative powers go below a fraction bar. */
static void product(Printer *p, double coef, const SymId *f, int n, int prec)
{
    const Sym *S = p->S;
    SymId *v = mem_xalloc((size_t)(n + 1) * sizeof *v);
    memcpy(v, f, (size_t)n * sizeof *v);
    sort_sym = S;
    qsort(v, (size_t)n, sizeof *v, cmp_factor_key);
    int nden = 0;
    for (int i = 0; i < n; i++) {
        double e;
        nden += neg_power(S, v[i], &e);
    }
    int nnum = n - nden;
    int negative = coef < 0;
    if (negative)
        coef = -coef;
    int paren = prec > P_PRODUCT || (negative && prec > P_SUM);
    if (paren)
        fputs(p->latex ? "\\left(" : "(", p->out);
    if (negative)
        fputc('-', p->out);
    if (p->latex && nden) {
        fputs("\\frac{", p->out);
    }
    int first = 1;
    if (coef != 1 || nnum == 0) {
        number(p, coef);
        first = 0;
    }
    /* Inside \frac{}{} a lone factor needs no parentheses. */
    int bare = p->latex && nden && nnum == 1 && first;
    for (int i = 0; i < n; i++) {
        double e;
        if (neg_power(S, v[i], &e))
            continue;
        if (!first)
            fputs(p->latex ? " " : "*", p->out);
        if (bare)
            expr(p, v[i], 0);
        else
            factor(p, v[i], 0);
        first = 0;
    }
    if (nden) {
        if (p->latex)
            fputs("}{", p->out);
        else
            fputs(nden > 1 ? "/(" : "/", p->out);
        first = 1;
        for (int i = 0; i < n; i++) {
            double e;
            if (!neg_power(S, v[i], &e))
                continue;
            if (!first)
                fputs(p->latex ? " " : "*", p->out);
            if (nden == 1 && p->latex && e == -1) {
                expr(p, S->nodes[v[i]].args[0], 0);
            } else if (nden == 1 && !p->latex) {
                /* a lone denominator binds like a power: x/y^2, x/(a + b) */
                const SymNode *x = &S->nodes[v[i]];
                if (e == -1)
                    expr(p, x->args[0], P_POWER);
                else
                    factor(p, v[i], 1);
            } else {
                factor(p, v[i], 1);
            }
            first = 0;
        }
        fputs(p->latex ? "}" : nden > 1 ? ")" : "", p->out);
    }
    if (paren)
        fputs(p->latex ? "\\right)" : ")", p->out);
    mem_free(v);
}

/* Split a product node into coefficient and factors. */
static double split(const Sym *S, SymId id, const SymId **f, int *n, SymId *one)
{
    const SymNode *x = &S->nodes[id];
    if (x->op == SYM_MUL) {
        double c;
        if (sym_is_num(S, x->args[0], &c)) {
            *f = x->args + 1;
            *n = x->n - 1;
            return c;
        }
        *f = x->args;
        *n = x->n;
        return 1;
    }
    *one = id;
    *f = one;
    *n = 1;
    return 1;
}

static int term_negative(const Sym *S, SymId id)
{
    const SymNode *x = &S->nodes[id];
    double c;
    if (x->op == SYM_NUM)
        return x->u.num < 0;
    return x->op == SYM_MUL && sym_is_num(S, x->args[0], &c) && c < 0;
}

/* Print a term of a sum with its sign dropped. */
static void term_abs(Printer *p, SymId id, int prec)
{
    const SymNode *x = &p->S->nodes[id];
    if (x->op == SYM_NUM) {
        number(p, fabs(x->u.num));
        return;
    }
    const SymId *f;
    int n;
    SymId one;
    double c = split(p->S, id, &f, &n, &one);
    product(p, fabs(c), f, n, prec);
}

/* ---------- sums, with a common factor pulled out ---------- */

/* The factors (non-numeric) that appear in every term of a sum; *common
 * is allocated (free it). */
static int common_factors(const Sym *S, const SymNode *x, SymId **commonp)
{
    const SymId *f0;
    int n0;
    SymId one;
    split(S, x->args[0], &f0, &n0, &one);
    SymId *common = *commonp = mem_xalloc((size_t)(n0 + 1) * sizeof *common);
    if (S->nodes[x->args[0]].op == SYM_NUM)
        return 0;
    int k = 0;
    for (int i = 0; i < n0; i++) {
        int everywhere = 1;
        for (int t = 1; t < x->n && everywhere; t++) {
            const SymId *f;
            int n;
            SymId one2;
            if (S->nodes[x->args[t]].op == SYM_NUM) {
                everywhere = 0;
                break;
            }
            split(S, x->args[t], &f, &n, &one2);
            int found = 0;
            for (int j = 0; j < n && !found; j++)
                found = f[j] == f0[i];
            everywhere = found;
        }
        if (everywhere)
            common[k++] = f0[i];
    }
    return k;
}

static void sum(Printer *p, SymId id, int prec)
{
    const Sym *S = p->S;
    /* A copy: building the reduced sum below may move S->nodes. */
    SymNode node = S->nodes[id];
    const SymNode *x = &node;
    SymId *common = NULL;
    int nc = common_factors(S, x, &common);
    if (nc > 0) {
        /* print common * (rest): factors first, then the reduced sum */
        int paren = prec > P_PRODUCT;
        if (paren)
            fputs(p->latex ? "\\left(" : "(", p->out);
        SymId *rest = mem_xalloc((size_t)x->n * sizeof *rest);
        Sym *W = p->S;
        for (int t = 0; t < x->n; t++) {
            const SymId *f;
            int n;
            SymId one;
            double c = split(S, x->args[t], &f, &n, &one);
            SymId *keep = mem_xalloc((size_t)(n + 1) * sizeof *keep);
            int kk = 0;
            keep[kk++] = sym_num(W, c);
            for (int j = 0; j < n; j++) {
                int is_common = 0;
                for (int m = 0; m < nc; m++)
                    is_common |= f[j] == common[m];
                if (!is_common)
                    keep[kk++] = f[j];
            }
            rest[t] = sym_mul(W, keep, kk);
            mem_free(keep);
        }
        SymId inner = sym_add(W, rest, x->n);
        mem_free(rest);
        /* numerator factors, then the sum, then the denominator */
        SymId *all = mem_xalloc((size_t)(nc + 1) * sizeof *all);
        memcpy(all, common, (size_t)nc * sizeof *all);
        all[nc] = inner;
        product(p, 1, all, nc + 1, P_PRODUCT);
        mem_free(all);
        if (paren)
            fputs(p->latex ? "\\right)" : ")", p->out);
        mem_free(common);
        return;
    }
    mem_free(common);
    int paren = prec > P_SUM;
    if (paren)
        fputs(p->latex ? "\\left(" : "(", p->out);
    /* Terms in a conventional order (by their factors' print keys: m1
     * before m2, t1 before t2), constants last; a positive term leads. */
    int nt = x->n;
    SymId *order = mem_xalloc((size_t)nt * sizeof *order);
    memcpy(order, x->args, (size_t)nt * sizeof *order);
    sort_sym = S;
    qsort(order, (size_t)nt, sizeof *order, cmp_terms);
    int start = 0;
    for (int t = 0; t < nt; t++)
        if (!term_negative(S, order[t])) {
            start = t;
            break;
        }
    for (int k = 0; k < nt; k++) {
        /* the first positive term, then the others in order */
        int t = k == 0 ? start : k <= start ? k - 1 : k;
        SymId a = order[t];
        int neg = term_negative(S, a);
        if (k == 0) {
            if (neg)
                fputc('-', p->out);
        } else {
            fputs(neg ? " - " : " + ", p->out);
        }
        term_abs(p, a, P_SUM + 1);
    }
    mem_free(order);
    if (paren)
        fputs(p->latex ? "\\right)" : ")", p->out);
}

static const char *latex_fn(int fn)
{
    switch (fn) {
    case FN_SIN: return "\\sin";
    case FN_COS: return "\\cos";
    case FN_TAN: return "\\tan";
    case FN_ASIN: return "\\arcsin";
    case FN_ACOS: return "\\arccos";
    case FN_ATAN: return "\\arctan";
    case FN_SINH: return "\\sinh";
    case FN_COSH: return "\\cosh";
    case FN_TANH: return "\\tanh";
    case FN_EXP: return "\\exp";
    case FN_LOG: return "\\log";
    case FN_MIN: return "\\min";
    case FN_MAX: return "\\max";
    default: return NULL;
    }
}

/* Vector nodes appear only in learned systems, whose equations are not
 * printed by `lag el`; this notation is for debugging. */
static void vector(Printer *p, SymId id)
{
    const Sym *S = p->S;
    SymNode x = S->nodes[id];
    FILE *out = p->out;
    switch ((SymOp)x.op) {
    case SYM_VEC:
        fputc('[', out);
        for (int i = 0; i < x.n; i++) {
            fputs(i ? ", " : "", out);
            expr(p, x.args[i], 0);
        }
        fputc(']', out);
        return;
    case SYM_COMP:
        expr(p, x.args[0], P_ATOM);
        fprintf(out, "[%u]", x.u.var);
        return;
    case SYM_SUMV:
        fputs("sum(", out);
        expr(p, x.args[0], 0);
        fputc(')', out);
        return;
    case SYM_VPARAM:
        fputs(S->tensors[x.u.var].name, out);
        return;
    case SYM_VONES:
        fprintf(out, "ones(%u)", x.len);
        return;
    case SYM_MATVEC:
    case SYM_MATTVEC:
        fprintf(out, x.op == SYM_MATVEC ? "%s*" : "transpose(%s)*", S->tensors[x.u.var].name);
        expr(p, x.args[0], P_ATOM);
        return;
    case SYM_VADD:
    case SYM_VMUL:
        fputc('(', out);
        expr(p, x.args[0], 0);
        fputs(x.op == SYM_VADD ? " + " : " .* ", out);
        expr(p, x.args[1], 0);
        fputc(')', out);
        return;
    case SYM_VSCALE:
        expr(p, x.args[0], P_ATOM);
        fputc('*', out);
        expr(p, x.args[1], P_ATOM);
        return;
    case SYM_ACT:
        fprintf(out, "%s", sym_act_name((SymAct)x.fn));
        if (x.u.var)
            fprintf(out, "_d%u", x.u.var);
        fputc('(', out);
        expr(p, x.args[0], 0);
        fputc(')', out);
        return;
    default:
        return;
    }
}

static void expr(Printer *p, SymId id, int prec)
{
    const Sym *S = p->S;
    SymNode node = S->nodes[id]; /* a copy: printing may intern nodes */
    const SymNode *x = &node;
    if (x->op == SYM_EXT) {
        /* an extern call; a derivative by differences is name_dIJ (the
         * arguments differentiated, 1-based) */
        fputs(p->S->externs[x->fn].name, p->out);
        if (x->u.var) {
            fputs("_d", p->out);
            for (uint32_t d = x->u.var; d; d >>= 4)
                fprintf(p->out, "%u", d & 15u);
        }
        fputc('(', p->out);
        for (int i = 0; i < x->n; i++) {
            if (i)
                fputs(", ", p->out);
            expr(p, x->args[i], 0);
        }
        fputc(')', p->out);
        return;
    }
    if (x->op >= SYM_VEC) {
        vector(p, id);
        return;
    }
    switch ((SymOp)x->op) {
    default:
        return;
    case SYM_NUM:
        if (x->u.num < 0 && prec > P_SUM) {
            fputs(p->latex ? "\\left(" : "(", p->out);
            number(p, x->u.num);
            fputs(p->latex ? "\\right)" : ")", p->out);
        } else {
            number(p, x->u.num);
        }
        return;
    case SYM_VAR:
        var(p, (int)x->u.var);
        return;
    case SYM_ADD:
        sum(p, id, prec);
        return;
    case SYM_MUL: {
        const SymId *f;
        int n;
        SymId one;
        double c = split(S, id, &f, &n, &one);
        product(p, c, f, n, prec);
        return;
    }
    case SYM_POW: {
        double e;
        if (sym_is_num(S, x->args[1], &e) && e < 0) {
            product(p, 1, &id, 1, prec);
            return;
        }
        if (p->latex && sym_is_num(S, x->args[1], &e) && e == 0.5) {
            fputs("\\sqrt{", p->out);
            expr(p, x->args[0], 0);
            fputc('}', p->out);
            return;
        }
        int paren = prec > P_POWER;
        if (paren)
            fputs(p->latex ? "\\left(" : "(", p->out);
        expr(p, x->args[0], P_ATOM);
        fputs(p->latex ? "^{" : "^", p->out);
        expr(p, x->args[1], p->latex ? 0 : P_ATOM);
        if (p->latex)
            fputc('}', p->out);
        if (paren)
            fputs(p->latex ? "\\right)" : ")", p->out);
        return;
    }
    case SYM_FN:
        if (p->latex) {
            if (x->fn == FN_SQRT) {
                fputs("\\sqrt{", p->out);
                expr(p, x->args[0], 0);
                fputc('}', p->out);
                return;
            }
            if (x->fn == FN_ABS) {
                fputs("\\left|", p->out);
                expr(p, x->args[0], 0);
                fputs("\\right|", p->out);
                return;
            }
            const char *name = latex_fn(x->fn);
            if (name)
                fputs(name, p->out);
            else
                fprintf(p->out, "\\operatorname{%s}", sym_fn_name((SymFn)x->fn));
            fputs("\\left(", p->out);
        } else {
            fprintf(p->out, "%s(", sym_fn_name((SymFn)x->fn));
        }
        for (int i = 0; i < x->n; i++) {
            if (i)
                fputs(", ", p->out);
            expr(p, x->args[i], 0);
        }
        fputs(p->latex ? "\\right)" : ")", p->out);
        return;
    }
}

void sym_print(Sym *S, FILE *out, SymId id)
{
    Printer p = {S, out, 0};
    expr(&p, id, 0);
}

void sym_print_latex(Sym *S, FILE *out, SymId id)
{
    Printer p = {S, out, 1};
    expr(&p, id, 0);
}

char *sym_to_string(Sym *S, Arena *a, SymId id)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return arena_strdup(a, "");
    sym_print(S, m, id);
    fclose(m);
    char *s = arena_strndup(a, buf, len);
    free(buf);
    return s;
}
