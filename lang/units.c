/*
 * lang/units.c — unit annotations and the dimension check of a system.
 *
 * A dimension is the exponents of the seven SI base units, in sixtieths
 * (so sqrt halves and x^(1/3) thirds exactly), or "not known".  What is not
 * annotated is not known: a parameter, coordinate or constant without a
 * unit, a net's or an extern's value.  A known dimension is never compared
 * with an unknown one, so a partly annotated system gives no false error:
 *   - a sum takes the dimension of its known terms (x + a, a unannotated, is
 *     a length when x is), a product or a power with an unknown factor is
 *     unknown, a function of anything is a number;
 *   - the number 0 is of any dimension (V = 0, x - 0);
 *   - every other number is dimensionless (2*m*l is a mass times a length);
 *   - time t is in seconds.
 * A system with no annotation at all is not checked.
 */
#include "lang/units.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { NBASE = 7, DEN = 60, MAX_EXP = 1000000 /* larger exponents: not known (no overflow) */ };

typedef struct Dim {
    int known;
    int e[NBASE]; /* exponents of kg m s A K mol cd, times DEN */
} Dim;

static const char *const base_name[NBASE] = {"kg", "m", "s", "A", "K", "mol", "cd"};

/* The units: the SI base units, the derived ones with names, and the
 * scaled ones; `prefixed` ones take a metric prefix (cm, ms, kN, mg). */
static const struct {
    const char *name;
    double scale;
    signed char e[NBASE];
    int prefixed;
} unit_defs[] = {
    {"kg", 1, {1, 0, 0, 0, 0, 0, 0}, 0},   {"m", 1, {0, 1, 0, 0, 0, 0, 0}, 1},
    {"s", 1, {0, 0, 1, 0, 0, 0, 0}, 1},    {"A", 1, {0, 0, 0, 1, 0, 0, 0}, 1},
    {"K", 1, {0, 0, 0, 0, 1, 0, 0}, 1},    {"mol", 1, {0, 0, 0, 0, 0, 1, 0}, 1},
    {"cd", 1, {0, 0, 0, 0, 0, 0, 1}, 0},   {"g", 1e-3, {1, 0, 0, 0, 0, 0, 0}, 1},
    {"N", 1, {1, 1, -2, 0, 0, 0, 0}, 1},   {"J", 1, {1, 2, -2, 0, 0, 0, 0}, 1},
    {"W", 1, {1, 2, -3, 0, 0, 0, 0}, 1},   {"Pa", 1, {1, -1, -2, 0, 0, 0, 0}, 1},
    {"Hz", 1, {0, 0, -1, 0, 0, 0, 0}, 1},  {"C", 1, {0, 0, 1, 1, 0, 0, 0}, 1},
    {"V", 1, {1, 2, -3, -1, 0, 0, 0}, 1},  {"rad", 1, {0, 0, 0, 0, 0, 0, 0}, 1},
    {"deg", 3.14159265358979323846 / 180, {0, 0, 0, 0, 0, 0, 0}, 0},
    {"min", 60, {0, 0, 1, 0, 0, 0, 0}, 0}, {"h", 3600, {0, 0, 1, 0, 0, 0, 0}, 0},
};
enum { NUNITS = sizeof unit_defs / sizeof unit_defs[0] };

static const struct {
    const char *p;
    double f;
} prefixes[] = {
    {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3},  {"h", 1e2},  {"d", 1e-1},      {"c", 1e-2},
    {"m", 1e-3}, {"u", 1e-6}, {"\xC2\xB5", 1e-6}, {"\xCE\xBC", 1e-6}, {"n", 1e-9}, {"p", 1e-12}, {"f", 1e-15},
};

/* ---------- pointer maps (an Expr or a Stmt to its dimension) ---------- */

typedef struct Slot {
    const void *key;
    Dim *dim;
} Slot;

typedef struct Map {
    Slot *v;
    size_t cap, n;
} Map;

static size_t slot_of(const Map *m, const void *k)
{
    uint64_t h = (uint64_t)(uintptr_t)k * 0x9E3779B97F4A7C15u;
    size_t i = (size_t)(h >> 20) & (m->cap - 1);
    while (m->v[i].key && m->v[i].key != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static Dim *map_find(const Map *m, const void *k)
{
    return m->cap ? m->v[slot_of(m, k)].dim : NULL;
}

static void map_set(Arena *a, Map *m, const void *k, Dim *dim)
{
    if (2 * (m->n + 1) > m->cap) { /* grow: the arena keeps the old table */
        Map g = {arena_alloc(a, (m->cap ? 2 * m->cap : 64) * sizeof *g.v), m->cap ? 2 * m->cap : 64, 0};
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].key)
                g.v[slot_of(&g, m->v[i].key)] = m->v[i], g.n++;
        *m = g;
    }
    size_t i = slot_of(m, k);
    if (!m->v[i].key)
        m->n++;
    m->v[i] = (Slot){k, dim};
}

/* ---------- dimensions ---------- */

typedef struct U {
    Diag *d;
    Arena *a;
    Map decls;    /* an annotated Stmt (param, unknown, coord) to its dimension */
    Map lets;     /* a let's Stmt to its value's dimension */
    Map reported; /* the nodes an error was reported at (each once) */
    Map split;    /* the sums that separate L's terms (checked term by term) */
    int errors;
} U;

static Dim unknown_dim(void)
{
    return (Dim){0};
}

static Dim number_dim(void)
{
    Dim r = {0};
    r.known = 1;
    return r;
}

static int dim_eq(Dim a, Dim b)
{
    return memcmp(a.e, b.e, sizeof a.e) == 0;
}

static int dim_is_number(Dim a)
{
    return a.known && dim_eq(a, number_dim());
}

static Dim dim_comb(Dim a, Dim b, int sign)
{
    if (!a.known || !b.known)
        return unknown_dim();
    for (int i = 0; i < NBASE; i++) {
        long x = (long)a.e[i] + sign * (long)b.e[i];
        if (x > MAX_EXP || x < -MAX_EXP)
            return unknown_dim();
        a.e[i] = (int)x;
    }
    return a;
}

/* d / s^n: a rate */
static Dim per_second(Dim d, int n)
{
    if (d.known && d.e[2] - n * DEN >= -MAX_EXP)
        d.e[2] -= n * DEN;
    else
        d = unknown_dim();
    return d;
}

static Dim energy(void)
{
    Dim r = number_dim();
    r.e[0] = DEN, r.e[1] = 2 * DEN, r.e[2] = -2 * DEN;
    return r;
}

static int gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a < 0 ? -a : a;
}

static void put_factor(char *buf, size_t n, int i, int e)
{
    size_t len = strlen(buf);
    const char *sep = len ? "*" : "";
    if (e == DEN)
        snprintf(buf + len, n - len, "%s%s", sep, base_name[i]);
    else if (e % DEN == 0)
        snprintf(buf + len, n - len, "%s%s^%d", sep, base_name[i], e / DEN);
    else {
        int g = gcd(e, DEN);
        snprintf(buf + len, n - len, "%s%s^(%d/%d)", sep, base_name[i], e / g, DEN / g);
    }
}

/* kg*m^2/s^2, 1/s, kg/(m*s^2), 1 */
static const char *dim_str(U *u, Dim d)
{
    char num[256] = "", den[256] = "";
    int nneg = 0;
    for (int i = 0; i < NBASE; i++) {
        if (d.e[i] > 0)
            put_factor(num, sizeof num, i, d.e[i]);
        if (d.e[i] < 0)
            nneg++;
    }
    for (int i = 0; i < NBASE; i++)
        if (d.e[i] < 0)
            put_factor(den, sizeof den, i, -d.e[i]);
    return arena_printf(u->a, "%s%s%s%s%s", num[0] ? num : "1", nneg ? "/" : "", nneg > 1 ? "(" : "", den,
                        nneg > 1 ? ")" : "");
}

/* An error at a node, once (a term of L is inferred again as a term). */
static void error_at(U *u, const Expr *e, const char *msg)
{
    if (map_find(&u->reported, e))
        return;
    map_set(u->a, &u->reported, e, arena_alloc(u->a, sizeof(Dim)));
    diag_error(u->d, e->loc, "%s", msg);
    u->errors++;
}

/* ---------- reading a unit ---------- */

static int unit_name(const char *s, Dim *dim, double *scale)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t p = 0; p < (pass ? sizeof prefixes / sizeof prefixes[0] : 1); p++) {
            const char *rest = s;
            double f = 1;
            if (pass) {
                size_t n = strlen(prefixes[p].p);
                if (strncmp(s, prefixes[p].p, n) != 0)
                    continue;
                rest = s + n;
                f = prefixes[p].f;
            }
            for (int i = 0; i < NUNITS; i++)
                if (strcmp(rest, unit_defs[i].name) == 0 && (!pass || unit_defs[i].prefixed)) {
                    *dim = number_dim();
                    for (int k = 0; k < NBASE; k++)
                        dim->e[k] = unit_defs[i].e[k] * DEN;
                    *scale = f * unit_defs[i].scale;
                    return 1;
                }
        }
    return 0;
}

/* An integer exponent: 2, -1, (3) */
static int int_power(const Expr *e, int *out)
{
    int sign = 1;
    if (e->kind == EX_NEG) {
        sign = -1;
        e = e->a;
    }
    if (e->kind != EX_NUM || e->num != floor(e->num) || fabs(e->num) > 60)
        return 0;
    *out = sign * (int)e->num;
    return 1;
}

static int unit_bounded(U *u, const Expr *e, Dim d)
{
    if (d.known)
        return 1;
    diag_error(u->d, e->loc, "this unit's powers are too large");
    u->errors++;
    return 0;
}

static int read_unit(U *u, const Expr *e, Dim *dim, double *scale)
{
    Dim a, b;
    double sa, sb;
    int p;
    switch (e->kind) {
    case EX_NAME:
        if (!e->id.primes && unit_name(e->id.name, dim, scale))
            return 1;
        {
            const char *cands[NUNITS + 3];
            for (int i = 0; i < NUNITS; i++)
                cands[i] = unit_defs[i].name;
            cands[NUNITS] = "cm", cands[NUNITS + 1] = "mm", cands[NUNITS + 2] = "km";
            const char *s = e->id.primes ? NULL : diag_suggest(e->id.name, cands, NUNITS + 3);
            diag_error(u->d, e->loc, "unknown unit '%s%s'%s%s%s", e->id.name, e->id.primes ? "'" : "",
                       s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
            u->errors++;
        }
        return 0;
    case EX_NUM:
        if (e->num == 1) {
            *dim = number_dim();
            *scale = 1;
            return 1;
        }
        diag_error(u->d, e->loc, "a unit is made of unit names, '*', '/', '^' and 1; the number %g belongs "
                   "to the value before the bracket", e->num);
        u->errors++;
        return 0;
    case EX_MUL:
    case EX_DIV: {
        int ok = read_unit(u, e->a, &a, &sa);
        if (!read_unit(u, e->b, &b, &sb) || !ok)
            return 0;
        *dim = dim_comb(a, b, e->kind == EX_MUL ? 1 : -1);
        *scale = e->kind == EX_MUL ? sa * sb : sa / sb;
        return unit_bounded(u, e, *dim);
    }
    case EX_POW:
        if (!int_power(e->b, &p)) {
            diag_error(u->d, e->b->loc, "a unit's power is an integer, as in m^2 or s^-1");
            u->errors++;
            return 0;
        }
        if (!read_unit(u, e->a, &a, &sa))
            return 0;
        for (int i = 0; i < NBASE; i++) {
            if (abs(a.e[i]) > MAX_EXP / 60) /* |p| <= 60 */
                return unit_bounded(u, e, unknown_dim());
            a.e[i] *= p;
        }
        *dim = a;
        *scale = pow(sa, p);
        return unit_bounded(u, e, *dim);
    default:
        diag_error(u->d, e->loc, "a unit is made of unit names, '*', '/', '^' and 1, as in [kg*m^2] or "
                   "[m/s^2]");
        u->errors++;
        return 0;
    }
}

/* ---------- inference ---------- */

static Dim infer(U *u, const Expr *e);

static Dim decl_dim(U *u, const void *decl)
{
    const Dim *d = decl ? map_find(&u->decls, decl) : NULL;
    return d ? *d : unknown_dim();
}

/* A sum's terms (at: the later one) must agree; returns the known one.
 * what: "+", "-", or the function whose arguments they are. */
static Dim same(U *u, const Expr *at, Dim a, Dim b, const char *what)
{
    if (a.known && b.known && !dim_eq(a, b) && !map_find(&u->split, at)) {
        const char *x = dim_str(u, b), *y = dim_str(u, a);
        if (strcmp(what, "+") == 0)
            error_at(u, at, arena_printf(u->a, "adding %s to %s: the terms of a sum have one dimension", x, y));
        else if (strcmp(what, "-") == 0)
            error_at(u, at, arena_printf(u->a, "subtracting %s from %s: the terms of a sum have one dimension",
                                         x, y));
        else
            error_at(u, at, arena_printf(u->a, "this argument of %s is %s, and the one before it %s: they "
                                               "need one dimension", what, x, y));
    }
    return a.known ? a : b;
}

static Dim infer_call(U *u, const Expr *e)
{
    Dim v[3] = {unknown_dim(), unknown_dim(), unknown_dim()};
    int n = 0;
    for (const Expr *x = e->args; x; x = x->next, n++) {
        Dim d = infer(u, x);
        if (n < 3)
            v[n] = d;
    }
    const char *f = e->id.name;
    if (e->ref == REF_VECFN) {
        switch (e->index) {
        case 1: { /* vec: components of one dimension */
            Dim r = v[0];
            int k = 0;
            for (const Expr *x = e->args; x; x = x->next, k++)
                if (k > 0 && k < 3)
                    r = same(u, x, r, v[k], "vec");
            return r;
        }
        case 2:
        case 3:
            return dim_comb(v[0], v[1], 1);
        default:
            return v[0];
        }
    }
    if (e->ref != REF_BUILTIN)
        return unknown_dim(); /* a net, an extern, an input: not annotated */
    if (strcmp(f, "sqrt") == 0) {
        if (v[0].known)
            for (int i = 0; i < NBASE; i++) {
                if (v[0].e[i] % 2)
                    return unknown_dim();
                v[0].e[i] /= 2;
            }
        return v[0];
    }
    if (strcmp(f, "abs") == 0)
        return v[0];
    if (strcmp(f, "sign") == 0)
        return number_dim();
    if (strcmp(f, "min") == 0 || strcmp(f, "max") == 0 || strcmp(f, "atan2") == 0) {
        Dim r = n == 2 ? same(u, e->args->next, v[0], v[1], f) : unknown_dim();
        return f[0] == 'a' ? number_dim() : r;
    }
    /* sin, cos, exp, log, ...: of a number */
    int k = 0;
    for (const Expr *x = e->args; x && k < 3; x = x->next, k++)
        if (v[k].known && !dim_is_number(v[k]))
            error_at(u, x, arena_printf(u->a, "the argument of %s is %s, not a number (dimensionless)", f,
                                        dim_str(u, v[k])));
    return number_dim();
}

static Dim infer(U *u, const Expr *e)
{
    Dim a, b;
    switch (e->kind) {
    case EX_NUM:
        return e->num == 0 ? unknown_dim() : number_dim();
    case EX_NAME:
        switch (e->ref) {
        case REF_PARAM:
        case REF_UNKNOWN:
            return decl_dim(u, e->decl);
        case REF_COORD:
            return per_second(decl_dim(u, e->decl), e->id.primes);
        case REF_LET: {
            const Stmt *let = e->decl;
            const Dim *d = let && let->nnames == 1 ? map_find(&u->lets, let) : NULL;
            return d ? per_second(*d, e->id.primes) : unknown_dim();
        }
        case REF_TIME:
            a = number_dim();
            a.e[2] = DEN;
            return a;
        case REF_PI:
        case REF_E:
            return number_dim();
        default:
            return unknown_dim();
        }
    case EX_NEG:
        return infer(u, e->a);
    case EX_ADD:
    case EX_SUB:
        a = infer(u, e->a);
        b = infer(u, e->b);
        return same(u, e->b, a, b, e->kind == EX_ADD ? "+" : "-");
    case EX_MUL:
    case EX_DIV:
        a = infer(u, e->a);
        b = infer(u, e->b);
        return dim_comb(a, b, e->kind == EX_MUL ? 1 : -1);
    case EX_POW:
        a = infer(u, e->a);
        b = infer(u, e->b);
        if (b.known && !dim_is_number(b)) {
            error_at(u, e->b, arena_printf(u->a, "an exponent is a number (dimensionless), and this one is %s",
                                           dim_str(u, b)));
            return unknown_dim();
        }
        if (!a.known || dim_is_number(a))
            return a;
        if (!e->b->folded) {
            error_at(u, e->b, arena_printf(u->a, "a quantity in %s raised to a power that varies has no "
                                                 "dimension: the exponent must be a constant", dim_str(u, a)));
            return unknown_dim();
        }
        for (int i = 0; i < NBASE; i++) {
            double x = a.e[i] * e->b->folded_v;
            if (!(fabs(x) <= MAX_EXP) || x != floor(x))
                return unknown_dim(); /* not a whole number of sixtieths: no check */
            a.e[i] = (int)x;
        }
        return a;
    case EX_CALL:
        return infer_call(u, e);
    case EX_PRIME:
        return per_second(infer(u, e->a), e->id.primes);
    case EX_COMP:
        return per_second(infer(u, e->a), e->id.primes);
    case EX_LIST:
        for (const Expr *x = e->args; x; x = x->next)
            infer(u, x);
        return unknown_dim();
    default:
        return unknown_dim();
    }
}

/* ---------- the system ---------- */

/* Whether an expression names a parameter (its value is then a quantity). */
static int uses_params(const Expr *e)
{
    if (!e)
        return 0;
    if (e->kind == EX_NAME)
        return e->ref == REF_PARAM || e->ref == REF_UNKNOWN;
    if (uses_params(e->a) || uses_params(e->b))
        return 1;
    for (const Expr *x = e->args; x; x = x->next)
        if (uses_params(x))
            return 1;
    return 0;
}

/* The terms of L, through the lets that are terms of it (L = T - V): an
 * explicit stack, as chains of lets may be long. */
typedef struct Term {
    const Expr *e;
    int written; /* in a let the parser wrote for a body, point or gravity */
} Term;

static void l_terms(U *u, const Expr *L, Term **out, int *n)
{
    int cap = 64, top = 0, ncap = 64;
    Term *stack = arena_alloc(u->a, (size_t)cap * sizeof *stack);
    Term *terms = arena_alloc(u->a, (size_t)ncap * sizeof *terms);
    Map seen = {0};
    *n = 0;
    stack[top++] = (Term){L, 0};
    while (top) {
        Term t = stack[--top];
        const Expr *e = t.e;
        while (e->kind == EX_NEG)
            e = e->a;
        if (top + 2 > cap) {
            Term *g = arena_alloc(u->a, (size_t)(2 * cap) * sizeof *g);
            memcpy(g, stack, (size_t)top * sizeof *g);
            stack = g, cap *= 2;
        }
        if (e->kind == EX_ADD || e->kind == EX_SUB) {
            map_set(u->a, &u->split, e->b, arena_alloc(u->a, sizeof(Dim)));
            stack[top++] = (Term){e->b, t.written};
            stack[top++] = (Term){e->a, t.written};
            continue;
        }
        const Stmt *let = e->kind == EX_NAME && e->ref == REF_LET && !e->id.primes ? e->decl : NULL;
        if (let && let->nnames == 1 && let->value && !map_find(&seen, let)) {
            map_set(u->a, &seen, let, arena_alloc(u->a, sizeof(Dim)));
            stack[top++] = (Term){let->value, t.written || let->written};
            continue;
        }
        if (*n == ncap) {
            Term *g = arena_alloc(u->a, (size_t)(2 * ncap) * sizeof *g);
            memcpy(g, terms, (size_t)*n * sizeof *g);
            terms = g, ncap *= 2;
        }
        terms[(*n)++] = (Term){e, t.written};
    }
    *out = terms;
}

static const Stmt *coord_named(const Item *it, const char *name)
{
    for (const Stmt *s = it->stmts; s; s = s->next)
        if (s->kind == ST_COORD && strcmp(s->names[0].name, name) == 0)
            return s;
    return NULL;
}

/* Whether e is of another dimension than want (both known); its
 * dimension in *got. */
static int differs(U *u, const Expr *e, Dim want, Dim *got)
{
    *got = infer(u, e);
    return got->known && want.known && !dim_eq(*got, want);
}

static void let_dim(U *u, const Stmt *s, const Stmt *gravity)
{
    Dim *d = arena_alloc(u->a, sizeof *d);
    *d = infer(u, s->value);
    /* a gravity vector of plain numbers is in m/s^2 */
    if (gravity && s->written && s->value == gravity->value && dim_is_number(*d))
        d->e[1] = DEN, d->e[2] = -2 * DEN;
    if (s->nnames == 1)
        map_set(u->a, &u->lets, s, d);
}

static void check_dims(U *u, Item *it)
{
    /* L's terms first: the sums that separate them are checked term by
     * term against an energy, not against each other */
    Term *terms = NULL;
    int nterms = 0;
    for (const Stmt *s = it->stmts; s; s = s->next)
        if (s->kind == ST_ASSIGN && s->value)
            l_terms(u, s->value, &terms, &nterms);
    const Stmt *gravity = NULL;
    for (const Stmt *s = it->stmts; s; s = s->next) {
        switch (s->kind) {
        case ST_PARAM:
        case ST_UNKNOWN:
            if (s->value) {
                Dim d, want = decl_dim(u, s);
                if (differs(u, s->value, s->unit_si ? want : unknown_dim(), &d))
                    error_at(u, s->value, arena_printf(u->a, "this value is %s, but its unit is %s", dim_str(u, d),
                                                       dim_str(u, want)));
            }
            break;
        case ST_GRAVITY:
            gravity = s;
            break;
        case ST_LET:
            let_dim(u, s, gravity);
            break;
        case ST_ASSIGN:
            infer(u, s->value);
            for (int i = 0; i < nterms; i++) {
                Dim d;
                if (differs(u, terms[i].e, energy(), &d))
                    error_at(u, terms[i].e, arena_printf(u->a, "%s is %s, not an energy (%s)",
                                                         terms[i].written ? "a term of L from this statement"
                                                                          : "this term of L",
                                                         dim_str(u, d), dim_str(u, energy())));
            }
            break;
        case ST_FORCE: {
            const Stmt *q = coord_named(it, s->names[0].name);
            Dim d, dq = decl_dim(u, q), want = dim_comb(energy(), dq, -1);
            if (differs(u, s->value, want, &d))
                error_at(u, s->value, arena_printf(u->a, "this force on '%s' is %s, not a generalised force on a "
                                                         "coordinate in %s (energy per %s: %s)", s->names[0].name,
                                                   dim_str(u, d), dim_str(u, dq), dim_str(u, dq), dim_str(u, want)));
            break;
        }
        case ST_DISSIPATION: {
            Dim d;
            if (differs(u, s->value, per_second(energy(), 1), &d))
                error_at(u, s->value, arena_printf(u->a, "this dissipation function is %s, not a power (%s)",
                                                   dim_str(u, d), dim_str(u, per_second(energy(), 1))));
            break;
        }
        case ST_ACCEL: {
            int k = 0;
            for (const Expr *e = s->exprs; e && k < s->nnames; e = e->next, k++) {
                const Stmt *q = coord_named(it, s->names[k].name);
                Dim d, want = per_second(decl_dim(u, q), 2);
                if (differs(u, e, want, &d))
                    error_at(u, e, arena_printf(u->a, "this acceleration of '%s' is %s, not %s", s->names[k].name,
                                                dim_str(u, d), dim_str(u, want)));
            }
            break;
        }
        case ST_CONSTRAIN: {
            /* its two sides one dimension (each checked inside as any sum) */
            Dim lhs = infer(u, s->value), rhs;
            if (differs(u, s->at, lhs, &rhs) && !(s->at->kind == EX_NUM && s->at->num == 0))
                error_at(u, s->at, arena_printf(u->a, "the constraint '%s' sets %s equal to %s", s->names[0].name,
                                                dim_str(u, lhs), dim_str(u, rhs)));
            break;
        }
        case ST_SYMMETRY:
        case ST_INPUT:
            if (s->value)
                infer(u, s->value);
            break;
        default:
            break;
        }
    }
}

int units_check(Diag *d, Arena *a, Item *it, int resolved)
{
    U u = {.d = d, .a = a};
    int any = 0;
    for (Stmt *s = it->stmts; s; s = s->next) {
        if (!s->unit)
            continue;
        if (it->kind == IT_PROBLEM) {
            diag_error(d, s->unit_loc, "units are checked in systems; a problem's parameters take none");
            u.errors++;
            continue;
        }
        Dim *dim = arena_alloc(a, sizeof *dim);
        double scale = 1;
        if (read_unit(&u, s->unit, dim, &scale)) {
            map_set(a, &u.decls, s, dim);
            if (!(scale > 0 && isfinite(scale))) {
                diag_error(d, s->unit_loc, "this unit's size in SI, %g, is out of range", scale);
                u.errors++;
                scale = 1;
            }
        }
        s->unit_scale = scale;
        s->unit_si = (s->kind == ST_PARAM || s->kind == ST_UNKNOWN) && uses_params(s->value);
        any = 1;
    }
    if (any && resolved && !u.errors && it->kind == IT_SYSTEM)
        check_dims(&u, it);
    return u.errors;
}

int units_check_expr(Diag *d, Arena *a, const Item *sys, const Expr *e)
{
    int any = 0;
    for (const Stmt *s = sys->stmts; s && sys->kind == IT_SYSTEM; s = s->next)
        any |= s->unit != NULL;
    if (!any)
        return 0;
    /* the system's units and lets again, their messages (given once,
     * when the system was checked) discarded */
    Diag quiet;
    diag_init(&quiet, a, NULL);
    U u = {.d = &quiet, .a = a};
    const Stmt *gravity = NULL;
    for (const Stmt *s = sys->stmts; s; s = s->next) {
        Dim *dim = arena_alloc(a, sizeof *dim);
        double scale;
        if (s->unit && read_unit(&u, s->unit, dim, &scale))
            map_set(a, &u.decls, s, dim);
        if (s->kind == ST_GRAVITY)
            gravity = s;
        if (s->kind == ST_LET)
            let_dim(&u, s, gravity);
    }
    diag_fini(&quiet);
    u.d = d;
    u.errors = 0;
    infer(&u, e);
    return u.errors;
}
