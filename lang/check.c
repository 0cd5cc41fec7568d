/*
 * lang/check.c — the checking pass (see check.h).
 *
 * Three stages: collect the global definitions of every loaded file
 * (consts, systems, problems, extern functions) and report duplicates;
 * check each system and problem body in its own scope; check each job's
 * targets and settings against a table of what each job accepts.
 * Expressions are resolved by one recursive walk that also folds constant
 * sub-expressions, so a division by zero or an overflow in anything
 * constant is reported where it is written.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/check.h"
#include "lang/settings.h"
#include "lang/units.h"

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/input.h"
#include "runtime/io.h"
#include "runtime/mem.h"

/* ---------- a string-keyed hash map in the arena ---------- */

typedef struct MapSlot {
    const char *key;
    void *value;
} MapSlot;

typedef struct Map {
    MapSlot *slots;
    size_t cap, len;
} Map;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void *map_get(const Map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].key)
            return NULL;
        if (strcmp(m->slots[i].key, key) == 0)
            return m->slots[i].value;
    }
}

static void map_put(Arena *a, Map *m, const char *key, void *value)
{
    if (2 * (m->len + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        MapSlot *s = arena_alloc(a, cap * sizeof *s);
        for (size_t j = 0; j < m->cap; j++) {
            if (!m->slots[j].key)
                continue;
            size_t i = hash_str(m->slots[j].key) & (cap - 1);
            while (s[i].key)
                i = (i + 1) & (cap - 1);
            s[i] = m->slots[j];
        }
        m->slots = s;
        m->cap = cap;
    }
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].key)
        m->len++;
    m->slots[i] = (MapSlot){key, value};
}

/* All keys of a map (for "did you mean" suggestions). */
static const char **map_keys(Arena *a, const Map *m, int *n)
{
    const char **v = arena_alloc(a, (m->len + 1) * sizeof *v);
    int k = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            v[k++] = m->slots[i].key;
    *n = k;
    return v;
}

/* ---------- built-ins ---------- */

typedef enum Builtin {
    B_SIN, B_COS, B_TAN, B_ASIN, B_ACOS, B_ATAN, B_ATAN2, B_SINH, B_COSH, B_TANH,
    B_EXP, B_LOG, B_SQRT, B_ABS, B_SIGN, B_MIN, B_MAX, B_COUNT
} Builtin;

static const struct {
    const char *name;
    int arity;
    int nonsmooth;
} builtins[B_COUNT] = {
    [B_SIN] = {"sin", 1, 0},   [B_COS] = {"cos", 1, 0},     [B_TAN] = {"tan", 1, 0},
    [B_ASIN] = {"asin", 1, 0}, [B_ACOS] = {"acos", 1, 0},   [B_ATAN] = {"atan", 1, 0},
    [B_ATAN2] = {"atan2", 2, 0}, [B_SINH] = {"sinh", 1, 0}, [B_COSH] = {"cosh", 1, 0},
    [B_TANH] = {"tanh", 1, 0}, [B_EXP] = {"exp", 1, 0},     [B_LOG] = {"log", 1, 0},
    [B_SQRT] = {"sqrt", 1, 0}, [B_ABS] = {"abs", 1, 1},     [B_SIGN] = {"sign", 1, 1},
    [B_MIN] = {"min", 2, 1},   [B_MAX] = {"max", 2, 1},
};

static int builtin_index(const char *name)
{
    for (int i = 0; i < B_COUNT; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return i;
    return -1;
}

static double builtin_eval(int b, const double *x)
{
    switch ((Builtin)b) {
    case B_SIN: return sin(x[0]);
    case B_COS: return cos(x[0]);
    case B_TAN: return tan(x[0]);
    case B_ASIN: return asin(x[0]);
    case B_ACOS: return acos(x[0]);
    case B_ATAN: return atan(x[0]);
    case B_ATAN2: return atan2(x[0], x[1]);
    case B_SINH: return sinh(x[0]);
    case B_COSH: return cosh(x[0]);
    case B_TANH: return tanh(x[0]);
    case B_EXP: return exp(x[0]);
    case B_LOG: return x[0] > 0 ? log(x[0]) : NAN;
    case B_SQRT: return sqrt(x[0]);
    case B_ABS: return fabs(x[0]);
    case B_SIGN: return (x[0] > 0) - (x[0] < 0);
    case B_MIN: return fmin(x[0], x[1]);
    case B_MAX: return fmax(x[0], x[1]);
    case B_COUNT: break;
    }
    return NAN;
}

/* Names the language reserves besides the keywords (which the scanner
 * already refuses as names). */
static int reserved_name(const char *s)
{
    return builtin_index(s) >= 0 || strcmp(s, "pi") == 0 || strcmp(s, "e") == 0 ||
           strcmp(s, "integral") == 0;
}

/* ---------- symbols ---------- */

typedef enum GlobalKind { G_CONST, G_SYSTEM, G_PROBLEM, G_EXTERN } GlobalKind;

typedef struct Global {
    GlobalKind kind;
    const char *name;
    Loc loc;
    Item *item;
    const ExternFn *fn; /* G_EXTERN */
    double value;       /* G_CONST, once evaluated */
    int state;          /* G_CONST: 0 not yet, 1 evaluating, 2 done (value valid), 3 bad */
    struct Scope *scope;/* G_SYSTEM/G_PROBLEM: its checked scope */
} Global;

typedef enum LocalKind {
    L_PARAM, L_COORD, L_LET, L_NET, L_DOMAIN, L_FIELD, L_UNKNOWN, L_UNKNOWN_FN, L_DISSIPATION, L_INPUT
} LocalKind;

static const char *const local_kind_name[] = {
    "parameter", "coordinate", "let", "net", "domain variable", "field", "unknown",
    "unknown function", "dissipation function", "input"};

static const char *article(const char *word)
{
    return strchr("aeiou", word[0]) ? "an" : "a";
}

typedef struct Local {
    LocalKind kind;
    const char *name;
    Loc loc;
    Stmt *stmt;
    int index;
    int visible;        /* lets: defined yet (lets are visible after their definition) */
    int has_value;      /* params/unknowns: the default is a known constant */
    double value;
    const Expr *relu;   /* lets: a relu net call reached from this let, or NULL */
    int pointwise;      /* lets in problems: depends on a field or the domain variable */
    int net_in, net_out;/* nets */
    int relu_net;       /* nets: activation relu */
    int dim;            /* lets: 0 for a number, else the vector's components (2 or 3) */
} Local;

typedef struct Scope {
    Item *item;
    int is_problem;
    Map names;          /* name -> Local */
    Local **coords;     /* coordinates (systems) or fields (problems), in order */
    int ncoords;
    int refused_coords; /* coordinates refused (a reserved name): they were declared */
    int t_refused;      /* 'coord t' was refused */
    Local **params;
    int nparams;
    Local **unknowns;
    int nunknowns;
    int nnets;
    int has_L, has_accel;
    int has_H;          /* given by its Hamiltonian: p_q names the momentum of coordinate q */
    Local *domain;
    double dom_lo, dom_hi;
    int dom_ok;
} Scope;

typedef struct Checker {
    Diag *d;
    Arena *a;
    Map globals;
    Scope *scope;           /* the body being checked, or NULL */
    const char *const *dirs;
    int warned_nonsmooth[B_COUNT];
    int need_smooth;        /* derivatives of the expression being resolved are needed */
    int broken;             /* the item being checked had a syntax error */
    Map warned_extern;      /* extern functions without grad, warned once */
    int unknowns_ok;        /* a problem's constraint value: its unknown scalars may appear (infer
                               moves them, with their derivatives) */
} Checker;

/* What resolving an expression found out about it. */
typedef struct Val {
    int is_const;       /* a number known now */
    double v;
    const Expr *relu;   /* a call of a relu net inside */
    int pointwise;      /* depends on a field or the domain variable */
    int random;         /* a draw, uniform(a, b) or normal(m, s), inside (a job's init) */
    int bad;            /* an error was reported inside */
    int dim;            /* 0: a number; 2 or 3: a vector of that many components */
} Val;

/* Where an expression stands, which decides what names may appear. */
typedef enum Ctx {
    CX_CONST,     /* a constant: numbers, consts, pi, e, built-ins (and earlier params) */
    CX_SYSTEM,    /* L, let, force, dissipation, accel of a system */
    CX_RECORD,    /* a job's record: a system expression that may use q'' */
    CX_PLET,      /* a let of a problem: pointwise, no integral */
    CX_OBJECTIVE, /* minimize/stationary/subject: integral(...) of pointwise things */
    CX_INTEGRAND, /* inside integral(...) */
    CX_INIT,      /* a job's init value: a constant or uniform/normal */
    CX_GUESS      /* a solve guess: an expression in the domain variable */
} Ctx;

static Global *global(Checker *C, const char *name)
{
    return map_get(&C->globals, name);
}

static Local *local(Checker *C, const char *name)
{
    return C->scope ? map_get(&C->scope->names, name) : NULL;
}

/* A suggestion among locals and globals, for "unknown name" messages. */
static const char *suggest_name(Checker *C, const char *name, int functions)
{
    int ng = 0, nl = 0;
    const char **g = map_keys(C->a, &C->globals, &ng);
    const char **l = C->scope ? map_keys(C->a, &C->scope->names, &nl) : NULL;
    const char **all = arena_alloc(C->a, (size_t)(ng + nl + B_COUNT + 4) * sizeof *all);
    int n = 0;
    for (int i = 0; i < nl; i++)
        all[n++] = l[i];
    for (int i = 0; i < ng; i++)
        all[n++] = g[i];
    if (functions)
        for (int i = 0; i < B_COUNT; i++)
            all[n++] = builtins[i].name;
    else {
        all[n++] = "pi";
        if (C->scope && !C->scope->is_problem)
            all[n++] = "t";
    }
    return diag_suggest(name, all, n);
}

/* The function nearest to name (a built-in, an extern, a net or unknown
 * function of the scope), or NULL: a call is never "meant" as a variable. */
static const char *suggest_function(Checker *C, const char *name)
{
    int ng = 0, nl = 0;
    const char **g = map_keys(C->a, &C->globals, &ng);
    const char **l = C->scope ? map_keys(C->a, &C->scope->names, &nl) : NULL;
    const char **all = arena_alloc(C->a, (size_t)(ng + nl + B_COUNT + 1) * sizeof *all);
    int n = 0;
    for (int i = 0; i < nl; i++) {
        const Local *x = map_get(&C->scope->names, l[i]);
        if (x && (x->kind == L_NET || x->kind == L_UNKNOWN_FN))
            all[n++] = l[i];
    }
    for (int i = 0; i < ng; i++) {
        const Global *x = map_get(&C->globals, g[i]);
        if (x && x->kind == G_EXTERN)
            all[n++] = g[i];
    }
    for (int i = 0; i < B_COUNT; i++)
        all[n++] = builtins[i].name;
    return diag_suggest(name, all, n);
}

/* The coordinate of the current scope nearest to name, or NULL. */
static const char *suggest_coord(Checker *C, const char *name)
{
    Scope *S = C->scope;
    if (!S || S->ncoords == 0)
        return NULL;
    const char **names = arena_alloc(C->a, (size_t)S->ncoords * sizeof *names);
    for (int i = 0; i < S->ncoords; i++)
        names[i] = S->coords[i]->name;
    return diag_suggest(name, names, S->ncoords);
}

static char *did_you_mean(Checker *C, const char *s)
{
    return s ? arena_printf(C->a, " (did you mean '%s'?)", s) : "";
}

/* ---------- expressions ---------- */

static Val resolve(Checker *C, Expr *e, Ctx cx);
static Val resolve_any(Checker *C, Expr *e, Ctx cx);
static int deriv_order(const Expr *e, int depth);

static Val bad_val(void)
{
    Val v = {0};
    v.bad = 1;
    return v;
}

static Val merge(Val a, Val b)
{
    Val r = {0};
    r.relu = a.relu ? a.relu : b.relu;
    r.pointwise = a.pointwise || b.pointwise;
    r.random = a.random || b.random;
    r.bad = a.bad || b.bad;
    return r;
}

/* Report a constant whose value is not a finite number. */
static int finite_or_report(Checker *C, const Expr *e, double v, const char *what)
{
    if (isfinite(v))
        return 1;
    if (isinf(v))
        diag_error(C->d, e->loc, "%s overflows (the result is %s)", what, v > 0 ? "inf" : "-inf");
    else
        diag_error(C->d, e->loc, "%s is not a number (NaN)", what);
    return 0;
}

/* The highest time derivative of a coordinate a resolved expression
 * contains, through its lets and their primes: 0 (positions and t only),
 * 1 (velocities), 2 (accelerations).  depth bounds a let chain. */
static int deriv_order(const Expr *e, int depth)
{
    if (!e || depth > 64)
        return 0;
    if (e->kind == EX_NAME && e->ref == REF_COORD)
        return e->id.primes;
    if (e->kind == EX_NAME && e->ref == REF_LET && e->decl)
        return deriv_order(((const Stmt *)e->decl)->value, depth + 1) + e->id.primes;
    int r = deriv_order(e->a, depth + 1) + (e->kind == EX_PRIME || e->kind == EX_COMP ? e->id.primes : 0);
    int b = deriv_order(e->b, depth + 1);
    r = b > r ? b : r;
    for (const Expr *a = e->args; a; a = a->next) {
        int k = deriv_order(a, depth + 1);
        r = k > r ? k : r;
    }
    return r;
}

/* Whether the time derivative (primes of them) of value — a let called
 * name, or a parenthesised expression (name NULL) — may stand at e in
 * context cx: velocities anywhere in a system, accelerations only in a
 * record.  Reports why not. */
static int rate_allowed(Checker *C, const Expr *e, Ctx cx, const char *name, const Expr *value, int primes)
{
    int inner = deriv_order(value, 0), order = inner + primes;
    const char *what = name ? arena_printf(C->a, "'%s%.*s'", name, primes > 3 ? 3 : primes, "'''")
                            : arena_printf(C->a, "(...)%.*s", primes > 3 ? 3 : primes, "'''");
    if (order > 2) {
        diag_error(C->d, e->loc, "%s is a time derivative of order %d%s: at most the second (an acceleration) "
                   "is meaningful", what, order, inner ? " (what it differentiates contains velocities)" : "");
        return 0;
    }
    if (order == 2 && cx != CX_RECORD) {
        if (inner)
            diag_error(C->d, e->loc, "%s is the time derivative of %s, which contains velocities: it contains "
                       "accelerations, which only a job's 'record' may use", what,
                       name ? arena_printf(C->a, "'%s'", name) : "an expression");
        else
            diag_error(C->d, e->loc, "%s (an acceleration) is only allowed in a job's 'record' and in data columns",
                       what);
        return 0;
    }
    return 1;
}

/* p_q in a system given by its Hamiltonian: the momentum of coordinate c,
 * a state variable like q (mech turns it into dL/dq' of the equivalent
 * Lagrangian everywhere but in H itself). */
static Val resolve_momentum(Checker *C, Expr *e, Ctx cx, Local *c)
{
    const char *name = e->id.name;
    if (!C->scope->has_H) {
        diag_error(C->d, e->loc, "'%s' names the momentum of '%s' only in a system given by its Hamiltonian "
                   "('H = ...'); in a Lagrangian system write the momentum as an expression of %s and %s'",
                   name, c->name, c->name, c->name);
        return bad_val();
    }
    if (e->id.primes) {
        diag_error(C->d, e->loc, "'%s' has no derivative here: Hamilton's equations give it (lag el prints them)",
                   name);
        return bad_val();
    }
    if (cx != CX_SYSTEM && cx != CX_RECORD) {
        diag_error(C->d, e->loc, "'%s' (a momentum) cannot appear in a constant expression", name);
        return bad_val();
    }
    e->ref = REF_MOMENTUM;
    e->index = c->index;
    e->decl = c->stmt;
    return (Val){0};
}

static Val resolve_name(Checker *C, Expr *e, Ctx cx)
{
    const char *name = e->id.name;
    int primes = e->id.primes;
    Val r = {0};
    Local *l = local(C, name);
    Scope *S = C->scope;

    if (l && l->kind == L_LET && !l->visible) {
        diag_error(C->d, e->loc, "'%s' is used before its definition (a let must come before its use)",
                   name);
        diag_note(C->d, l->loc, "'%s' is defined here", name);
        return bad_val();
    }
    if (l && (l->kind == L_NET || l->kind == L_UNKNOWN_FN)) {
        diag_error(C->d, e->loc, "'%s' is %s %s; call it with arguments, as in %s(...)", name,
                   article(local_kind_name[l->kind]), local_kind_name[l->kind], name);
        return bad_val();
    }
    if (l && l->kind == L_DISSIPATION)
        l = NULL; /* the Rayleigh function's label is not a value */
    if (!l && S && !S->is_problem && strncmp(name, "p_", 2) == 0) {
        Local *c = local(C, name + 2);
        if (c && c->kind == L_COORD)
            return resolve_momentum(C, e, cx, c);
    }

    int let_rate = primes > 0 && l && l->kind == L_LET && S && !S->is_problem; /* a let's time derivative */
    if (primes > 0 && !l && S && S->t_refused && strcmp(name, "t") == 0)
        return bad_val(); /* 'coord t' was refused: said once */
    if (primes > 0 && !(l && (l->kind == L_COORD || l->kind == L_FIELD)) && !let_rate) {
        if (l || global(C, name) || strcmp(name, "t") == 0 || reserved_name(name))
            diag_error(C->d, e->loc, "'%s' has no derivative: only %s have primes", name,
                       S && S->is_problem ? "fields" : "coordinates");
        else
            diag_error(C->d, e->loc, "unknown name '%s'%s", name,
                       did_you_mean(C, suggest_name(C, name, 0)));
        return bad_val();
    }
    if (cx == CX_CONST || cx == CX_INIT) {
        if (l && l->kind == L_UNKNOWN && cx == CX_CONST && C->unknowns_ok && l->has_value) {
            e->ref = REF_UNKNOWN;
            e->index = l->index;
            e->decl = l->stmt;
            r.is_const = 1;
            r.v = l->value;
            return r;
        }
        if (l && l->kind == L_PARAM && cx == CX_CONST) {
            if (!l->has_value) {
                if (!l->stmt->value)
                    diag_error(C->d, e->loc, "parameter '%s' is symbolic (declared without a value), so a "
                               "constant cannot use it", name);
                else
                    diag_error(C->d, e->loc, "parameter '%s' is used before it has a value", name);
                return bad_val();
            }
            e->ref = REF_PARAM;
            e->index = l->index;
            e->decl = l->stmt;
            r.is_const = 1;
            r.v = l->value;
            return r;
        }
        if (l) {
            diag_error(C->d, e->loc, "'%s' (%s %s) cannot appear in a constant expression", name,
                       article(local_kind_name[l->kind]), local_kind_name[l->kind]);
            return bad_val();
        }
    }
    if (l) {
        e->decl = l->stmt;
        e->index = l->index;
        switch (l->kind) {
        case L_PARAM:
            e->ref = REF_PARAM;
            return r;
        case L_UNKNOWN:
            e->ref = REF_UNKNOWN;
            return r;
        case L_COORD:
            if (cx == CX_GUESS) {
                diag_error(C->d, e->loc, "a guess is an expression in 't'; it cannot use the coordinate '%s'",
                           name);
                return bad_val();
            }
            if (primes > 2 || (primes == 2 && cx != CX_RECORD)) {
                if (primes == 2)
                    diag_error(C->d, e->loc,
                               "'%s''' (an acceleration) is only allowed in a job's 'record' and "
                               "in data columns",
                               name);
                else
                    diag_error(C->d, e->loc, "'%s' has %d primes; at most %s'' is meaningful",
                               name, primes, name);
                return bad_val();
            }
            e->ref = REF_COORD;
            return r;
        case L_FIELD:
        case L_DOMAIN:
            if (primes > 1) {
                diag_error(C->d, e->loc,
                           "'%s' has %d primes; only the field and its first derivative (%s') "
                           "may appear",
                           name, primes, name);
                return bad_val();
            }
            if (cx == CX_OBJECTIVE) {
                diag_error(C->d, e->loc,
                           "'%s' outside integral(...): an objective or constraint is a number, "
                           "so write integral(...) around what depends on '%s'",
                           name, S->domain ? S->domain->name : "x");
                return bad_val();
            }
            e->ref = l->kind == L_FIELD ? REF_FIELD : REF_DOMAIN;
            if (cx == CX_GUESS && l->kind == L_FIELD) {
                diag_error(C->d, e->loc, "a guess is an expression in '%s'; it cannot use the field '%s'",
                           S->domain ? S->domain->name : "x", name);
                return bad_val();
            }
            r.pointwise = 1;
            return r;
        case L_LET:
            e->ref = REF_LET;
            r.relu = l->relu;
            r.pointwise = l->pointwise;
            r.dim = l->dim;
            if (primes > 0 && !rate_allowed(C, e, cx, name, l->stmt->value, primes))
                return bad_val();
            if (l->pointwise && cx == CX_OBJECTIVE) {
                diag_error(C->d, e->loc,
                           "'%s' depends on a field or on the domain variable; inside an "
                           "objective it must stand inside integral(...)",
                           name);
                return bad_val();
            }
            return r;
        default:
            break;
        }
    }
    if (strcmp(name, "t") == 0 && S && !S->is_problem && cx != CX_CONST && cx != CX_INIT) {
        if (cx == CX_GUESS)
            r.pointwise = 1;
        e->ref = REF_TIME;
        return r;
    }
    if (strcmp(name, "pi") == 0 || strcmp(name, "e") == 0) {
        e->ref = name[0] == 'p' ? REF_PI : REF_E;
        r.is_const = 1;
        r.v = name[0] == 'p' ? 3.14159265358979323846 : 2.71828182845904523536;
        return r;
    }
    Global *g = global(C, name);
    if (g && g->kind == G_CONST) {
        e->ref = REF_CONST;
        e->decl = g->item;
        if (g->state == 2) {
            r.is_const = 1;
            r.v = g->value;
            return r;
        }
        if (g->state == 3)
            return bad_val();
        diag_error(C->d, e->loc, "const '%s' is used before its definition", name);
        if (g->state == 0)
            diag_note(C->d, g->loc, "'%s' is defined here", name);
        return bad_val();
    }
    if (g) {
        diag_error(C->d, e->loc, "'%s' is a %s, not a value", name,
                   g->kind == G_SYSTEM ? "system" : g->kind == G_PROBLEM ? "problem"
                                                                         : "function");
        return bad_val();
    }
    if (builtin_index(name) >= 0 || strcmp(name, "integral") == 0) {
        diag_error(C->d, e->loc, "'%s' is a function; call it as %s(...)", name, name);
        return bad_val();
    }
    if (strcmp(name, "t") == 0) {
        diag_error(C->d, e->loc, "'t' (time) %s", S && S->is_problem
                   ? "is not defined in a problem; the independent variable is the domain's"
                   : "cannot appear in a constant expression");
        return bad_val();
    }
    if (!C->broken) /* after a syntax error the name may be in the skipped text */
        diag_error(C->d, e->loc, "unknown name '%s'%s", name,
                   did_you_mean(C, suggest_name(C, name, 0)));
    return bad_val();
}

/* The vector functions: 1 vec (numbers in), 2 dot, 3 cross, 4 norm
 * (vectors in); 0 for any other name. */
static int vector_function(const char *name)
{
    static const char *const names[] = {"vec", "dot", "cross", "norm"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i + 1;
    return 0;
}

static Val vector_call(Checker *C, Expr *e, Ctx cx, int fn, const Val *vs)
{
    const char *name = e->id.name;
    Val r = {0};
    for (int i = 0; i < e->nargs; i++)
        r = merge(r, vs[i]);
    if (cx == CX_CONST || cx == CX_INIT || cx == CX_GUESS) {
        diag_error(C->d, e->loc, "%s(...) is a vector operation: vectors belong in a system's or a problem's "
                   "lets and expressions, not in a constant", name);
        return bad_val();
    }
    int want = fn == 4 ? 1 : 2;
    if (fn == 1 ? e->nargs < 2 || e->nargs > 3 : e->nargs != want) {
        if (fn == 1)
            diag_error(C->d, e->loc, "vec takes 2 or 3 components, not %d", e->nargs);
        else
            diag_error(C->d, e->loc, "%s takes %d argument%s, not %d", name, want, want == 1 ? "" : "s",
                       e->nargs);
        return bad_val();
    }
    e->ref = REF_VECFN;
    e->index = fn;
    if (fn == 1) {
        r.dim = e->nargs;
        return r;
    }
    for (int i = 0; i < e->nargs; i++)
        if (!vs[i].dim) {
            diag_error(C->d, e->loc, "%s takes vectors; argument %d is a number", name, i + 1);
            return bad_val();
        }
    if (fn == 4)
        return r;
    if (vs[0].dim != vs[1].dim) {
        diag_error(C->d, e->loc, "%s of a %d-D and a %d-D vector", name, vs[0].dim, vs[1].dim);
        return bad_val();
    }
    /* cross of 3-D vectors is a vector; of 2-D ones, the number u.x v.y - u.y v.x */
    r.dim = fn == 3 && vs[0].dim == 3 ? 3 : 0;
    return r;
}

static Val resolve_call(Checker *C, Expr *e, Ctx cx)
{
    const char *name = e->id.name;
    Val r = {0};
    if (e->id.primes) {
        diag_error(C->d, e->loc, "a call cannot have a prime: '%s''(...)'", name);
        return bad_val();
    }
    int all_const = 1;
    double argv[2] = {0, 0};
    Val *vs = arena_alloc(C->a, (size_t)(e->nargs + 1) * sizeof *vs);
    int i = 0;
    Local *l = local(C, name);
    int is_integral = !l && strcmp(name, "integral") == 0;
    int is_random = !l && cx == CX_INIT && (strcmp(name, "uniform") == 0 || strcmp(name, "normal") == 0);
    Ctx argcx = is_integral ? CX_INTEGRAND : is_random ? CX_CONST : cx;
    int vector_fn = !l && !global(C, name) ? vector_function(name) : 0;
    for (Expr *a = e->args; a; a = a->next, i++) {
        vs[i] = vector_fn > 1 ? resolve_any(C, a, argcx) : resolve(C, a, argcx);
        r = merge(r, vs[i]);
        if (!vs[i].is_const)
            all_const = 0;
        else if (i < 2)
            argv[i] = vs[i].v;
    }
    if (r.bad)
        return r;

    if (vector_fn)
        return vector_call(C, e, cx, vector_fn, vs);
    if (is_integral) {
        if (cx != CX_OBJECTIVE) {
            diag_error(C->d, e->loc, "integral(...) %s",
                       cx == CX_INTEGRAND ? "cannot be nested inside another integral"
                       : C->scope && C->scope->is_problem
                           ? "is only allowed in 'minimize', 'maximize', 'stationary' and 'subject'"
                           : "belongs in a problem's objective, not here");
            return bad_val();
        }
        if (e->nargs != 1) {
            diag_error(C->d, e->loc, "integral takes 1 argument (the integrand), not %d", e->nargs);
            return bad_val();
        }
        e->ref = REF_INTEGRAL;
        r.pointwise = 0;
        return r;
    }
    if (is_random) {
        e->ref = REF_RANDOM;
        r.random = 1;
        if (e->nargs != 2) {
            diag_error(C->d, e->loc, "%s takes 2 arguments, not %d", name, e->nargs);
            return bad_val();
        }
        if (name[0] == 'u' && !(argv[0] < argv[1])) {
            diag_error(C->d, e->loc, "uniform(a, b) needs a < b (got %g and %g)", argv[0], argv[1]);
            return bad_val();
        }
        if (name[0] == 'n' && !(argv[1] > 0)) {
            diag_error(C->d, e->loc, "normal(mean, sd) needs sd > 0 (got %g)", argv[1]);
            return bad_val();
        }
        return r;
    }
    if (l && l->kind == L_NET) {
        if (cx == CX_CONST || cx == CX_INIT || cx == CX_GUESS) {
            diag_error(C->d, e->loc, "net '%s' cannot be called in a constant expression", name);
            return bad_val();
        }
        e->ref = REF_NET;
        e->decl = l->stmt;
        e->index = l->index;
        if (l->net_in && e->nargs != l->net_in) {
            diag_error(C->d, e->loc, "net '%s' takes %d input%s (in = %d) but is called with %d",
                       name, l->net_in, l->net_in == 1 ? "" : "s", l->net_in, e->nargs);
            return bad_val();
        }
        if (l->relu_net && !r.relu)
            r.relu = e;
        return r;
    }
    if (l && l->kind == L_INPUT) {
        if (cx != CX_SYSTEM && cx != CX_RECORD) {
            diag_error(C->d, e->loc, "input '%s' is a signal of time: it may appear in a system's L, lets, forces, "
                       "dissipation and in a job's 'record'", name);
            return bad_val();
        }
        if (e->nargs != 1) {
            diag_error(C->d, e->loc, "input '%s' takes 1 argument (the time), not %d", name, e->nargs);
            return bad_val();
        }
        e->ref = REF_INPUT;
        e->decl = l->stmt;
        return r;
    }
    if (l && l->kind == L_UNKNOWN_FN) {
        e->ref = REF_UNKNOWN_FN;
        e->decl = l->stmt;
        e->index = l->index;
        if (e->nargs != 1) {
            diag_error(C->d, e->loc, "unknown function '%s' takes 1 argument, not %d", name, e->nargs);
            return bad_val();
        }
        r.pointwise = 1;
        return r;
    }
    if (l) {
        diag_error(C->d, e->loc, "'%s' is %s %s, not a function%s", name,
                   article(local_kind_name[l->kind]), local_kind_name[l->kind],
                   l->kind == L_FIELD ? " (fix its value at a point with 'fix y(a) = v')" : "");
        return bad_val();
    }
    Global *g = global(C, name);
    if (g && g->kind == G_EXTERN) {
        e->ref = REF_EXTERN;
        e->decl = g->fn;
        if (e->nargs != g->fn->nparams) {
            diag_error(C->d, e->loc, "'%s' takes %d argument%s but is called with %d", name,
                       g->fn->nparams, g->fn->nparams == 1 ? "" : "s", e->nargs);
            return bad_val();
        }
        if (!g->fn->grads && C->need_smooth &&
            (cx == CX_SYSTEM || cx == CX_PLET || cx == CX_INTEGRAND) &&
            !map_get(&C->warned_extern, name)) {
            map_put(C->a, &C->warned_extern, name, e);
            diag_warning(C->d, e->loc,
                         "'%s' has no grad (...) functions; its derivatives will be taken by "
                         "central differences",
                         name);
        }
        return r; /* never folded: it is evaluated at run time */
    }
    if (g) {
        diag_error(C->d, e->loc, "'%s' is a %s, not a function", name,
                   g->kind == G_CONST ? "const" : g->kind == G_SYSTEM ? "system" : "problem");
        return bad_val();
    }
    int b = builtin_index(name);
    if (b < 0) {
        const char *hint = NULL;
        if (strcmp(name, "uniform") == 0 || strcmp(name, "normal") == 0) {
            diag_error(C->d, e->loc, "%s(...) is not allowed here: random values are only allowed in a job's 'init', a simulate job's 'param' (a value per trajectory) and the 'param' of a train job's 'data from' block",
                       name);
            return bad_val();
        } else if (strcmp(name, "poly") == 0 || strcmp(name, "spline") == 0)
            hint = " (poly(k) and spline(k) declare a problem's 'unknown' function)";
        else if (strcmp(name, "grid") == 0)
            hint = " (grid(a, b, n) is a whole initial value in a simulate job's 'init': a grid of starts)";
        if (!hint) {
            const char *near = suggest_function(C, name);
            hint = near ? did_you_mean(C, near)
                        : e->nargs == 1 && e->args->kind == EX_NAME && strcmp(e->args->id.name, "t") == 0
                              ? arena_printf(C->a, " (a signal of time is declared as an input: 'input %s(t) "
                                             "from \"file.csv\"' or 'input %s(t) = ...')", name, name)
                              : "";
        }
        diag_error(C->d, e->loc, "unknown function '%s'%s", name, hint);
        return bad_val();
    }
    e->ref = REF_BUILTIN;
    e->index = b;
    if (e->nargs != builtins[b].arity) {
        diag_error(C->d, e->loc, "%s takes %d argument%s, not %d", name, builtins[b].arity,
                   builtins[b].arity == 1 ? "" : "s", e->nargs);
        return bad_val();
    }
    if (builtins[b].nonsmooth && C->need_smooth &&
        (cx == CX_SYSTEM || cx == CX_PLET || cx == CX_INTEGRAND) && !C->warned_nonsmooth[b]) {
        C->warned_nonsmooth[b] = 1;
        diag_warning(C->d, e->loc,
                     "'%s' is not smooth; where a derivative is needed it is taken piecewise", name);
    }
    if (all_const) {
        r.is_const = 1;
        r.v = builtin_eval(b, argv);
        if (!finite_or_report(C, e, r.v, arena_printf(C->a, "%s(...) of a constant", name)))
            return bad_val();
    }
    return r;
}

static Val resolve_node(Checker *C, Expr *e, Ctx cx)
{
    Val r = {0};
    switch (e->kind) {
    case EX_NUM:
        r.is_const = 1;
        r.v = e->num;
        return r;
    case EX_STR:
        diag_error(C->d, e->loc, "a string is not a number");
        return bad_val();
    case EX_LIST:
        diag_error(C->d, e->loc, "a list [...] is not a number");
        return bad_val();
    case EX_NAME:
        return resolve_name(C, e, cx);
    case EX_CALL:
        return resolve_call(C, e, cx);
    case EX_NEG: {
        Val a = resolve_any(C, e->a, cx);
        if (a.is_const)
            a.v = -a.v;
        return a;
    }
    case EX_COMP: {
        Val a = resolve_any(C, e->a, cx);
        if (a.bad)
            return a;
        const char *c = e->id.name;
        int k = strcmp(c, "x") == 0 ? 0 : strcmp(c, "y") == 0 ? 1 : strcmp(c, "z") == 0 ? 2 : -1;
        if (!a.dim) {
            diag_error(C->d, e->loc, "'.%s' takes a component of a vector, and this is a number", c);
            return bad_val();
        }
        if (k < 0 || k >= a.dim) {
            diag_error(C->d, e->loc, "a %d-D vector has the components %s, not '.%s'", a.dim,
                       a.dim == 2 ? ".x and .y" : ".x, .y and .z", c);
            return bad_val();
        }
        if (e->id.primes) {
            if ((cx != CX_SYSTEM && cx != CX_RECORD) || (C->scope && C->scope->is_problem)) {
                diag_error(C->d, e->loc, "'.%s' with primes is a time derivative: it may appear in a system's L, "
                           "lets, forces, dissipation and accelerations, and in a job's 'record'", c);
                return bad_val();
            }
            if (!rate_allowed(C, e, cx, NULL, e->a, e->id.primes))
                return bad_val();
        }
        e->index = k;
        a.dim = 0;
        a.is_const = 0;
        return a;
    }
    case EX_PRIME: {
        if ((cx != CX_SYSTEM && cx != CX_RECORD) || (C->scope && C->scope->is_problem)) {
            diag_error(C->d, e->loc, "(...)' is a time derivative: it may appear in a system's L, lets, forces, "
                                     "dissipation and accelerations, and in a job's 'record'");
            return bad_val();
        }
        Val a = resolve_any(C, e->a, cx);
        if (a.bad || !rate_allowed(C, e, cx, NULL, e->a, e->id.primes))
            return bad_val();
        if (a.is_const)
            a.v = 0; /* the derivative of a constant */
        return a;
    }
    default: {
        Val a = resolve_any(C, e->a, cx);
        Val b = resolve_any(C, e->b, cx);
        r = merge(a, b);
        if (!r.bad && (a.dim || b.dim)) {
            /* vectors: u + v, u - v (the same dimension), s*u, u*s, u/s */
            int k = e->kind;
            const char *why = NULL;
            if ((k == EX_ADD || k == EX_SUB) && a.dim != b.dim)
                why = a.dim && b.dim ? arena_printf(C->a, "a %d-D and a %d-D vector cannot be %s", a.dim, b.dim,
                                                    k == EX_ADD ? "added" : "subtracted")
                                     : arena_printf(C->a, "a vector and a number cannot be %s",
                                                    k == EX_ADD ? "added" : "subtracted");
            else if (k == EX_MUL && a.dim && b.dim)
                why = "the product of two vectors is dot(u, v) or cross(u, v), not '*'";
            else if (k == EX_DIV && b.dim)
                why = "a vector cannot divide";
            else if (k == EX_POW)
                why = "a vector has no power: write dot(u, u) for its square";
            if (why) {
                diag_error(C->d, e->loc, "%s", why);
                return bad_val();
            }
            r.dim = a.dim ? a.dim : b.dim;
            if (e->kind == EX_DIV && b.is_const && b.v == 0) {
                diag_error(C->d, e->loc, "division by zero");
                return bad_val();
            }
            return r;
        }
        if (r.bad || !a.is_const || !b.is_const) {
            if (e->kind == EX_DIV && b.is_const && b.v == 0 && !r.bad) {
                diag_error(C->d, e->loc, "division by zero");
                return bad_val();
            }
            return r;
        }
        r.is_const = 1;
        switch (e->kind) {
        case EX_ADD: r.v = a.v + b.v; break;
        case EX_SUB: r.v = a.v - b.v; break;
        case EX_MUL: r.v = a.v * b.v; break;
        case EX_DIV:
            if (b.v == 0) {
                diag_error(C->d, e->loc, "division by zero");
                return bad_val();
            }
            r.v = a.v / b.v;
            break;
        default: r.v = pow(a.v, b.v); break;
        }
        if (!finite_or_report(C, e, r.v, "this constant expression"))
            return bad_val();
        return r;
    }
    }
}

/* Resolve e; a constant node keeps its value (Expr.folded), so that an
 * initial value with draws inside can be evaluated per sample
 * (check_draw_eval) without the checker. */
static Val resolve_any(Checker *C, Expr *e, Ctx cx)
{
    Val r = resolve_node(C, e, cx);
    if (r.is_const && !r.bad) {
        e->folded = 1;
        e->folded_v = r.v;
    }
    return r;
}

/* Resolve e where a number is needed (everywhere but the operands of the
 * vector operations and a let's value). */
static Val resolve(Checker *C, Expr *e, Ctx cx)
{
    Val r = resolve_any(C, e, cx);
    if (!r.bad && r.dim) {
        diag_error(C->d, e->loc, "this is a %d-D vector where a number is needed: take a component "
                   "(%s.x), dot(u, v) or norm(u)", r.dim,
                   e->kind == EX_NAME ? e->id.name : "(...)");
        return bad_val();
    }
    return r;
}

double check_draw_eval(const Expr *e, double (*draw)(void *ctx, int normal, double a, double b), void *ctx)
{
    if (e->folded)
        return e->folded_v;
    switch (e->kind) {
    case EX_NEG: return -check_draw_eval(e->a, draw, ctx);
    case EX_ADD: return check_draw_eval(e->a, draw, ctx) + check_draw_eval(e->b, draw, ctx);
    case EX_SUB: return check_draw_eval(e->a, draw, ctx) - check_draw_eval(e->b, draw, ctx);
    case EX_MUL: return check_draw_eval(e->a, draw, ctx) * check_draw_eval(e->b, draw, ctx);
    case EX_DIV: return check_draw_eval(e->a, draw, ctx) / check_draw_eval(e->b, draw, ctx);
    case EX_POW: return pow(check_draw_eval(e->a, draw, ctx), check_draw_eval(e->b, draw, ctx));
    case EX_CALL:
        if (e->ref == REF_RANDOM)
            return draw(ctx, e->id.name[0] == 'n', e->args->folded_v, e->args->next->folded_v);
        if (e->ref == REF_BUILTIN) {
            double x[2] = {0, 0};
            int i = 0;
            for (const Expr *a = e->args; a && i < 2; a = a->next)
                x[i++] = check_draw_eval(a, draw, ctx);
            return builtin_eval(e->index, x);
        }
        return NAN;
    default: return NAN; /* not reached: the checker folded every other node */
    }
}

/* Evaluate a constant expression; 0 on error (already reported). */
static int const_value(Checker *C, Expr *e, double *out)
{
    Val v = resolve(C, e, CX_CONST);
    if (v.bad)
        return 0;
    if (!v.is_const) {
        diag_error(C->d, e->loc, "expected a constant");
        return 0;
    }
    *out = v.v;
    return 1;
}

/* ---------- globals ---------- */

static void define_global(Checker *C, GlobalKind k, const char *name, Loc loc, Item *it,
                          const ExternFn *fn)
{
    static const char *const what[] = {"const", "system", "problem", "function"};
    if (reserved_name(name) || strcmp(name, "t") == 0) {
        diag_error(C->d, loc, "'%s' is a built-in name and cannot be redefined", name);
        return;
    }
    Global *g = global(C, name);
    if (g) {
        diag_error(C->d, loc, "%s '%s' is already defined", what[k], name);
        diag_note(C->d, g->loc, "'%s' was first defined here as a %s", name, what[g->kind]);
        return;
    }
    g = arena_alloc(C->a, sizeof *g);
    g->kind = k;
    g->name = name;
    g->loc = loc;
    g->item = it;
    g->fn = fn;
    map_put(C->a, &C->globals, name, g);
}

static void check_extern(Checker *C, Item *it, const char *dir)
{
    if (!it->str[0]) {
        diag_error(C->d, it->str_loc, "empty library name in extern");
        return;
    }
    const char *path = it->str;
    if (strchr(path, '/') && path[0] != '/' && dir)
        path = arena_printf(C->a, "%s/%s", dir, path);
    void *lib = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!lib)
        diag_error(C->d, it->str_loc, "cannot load library '%s': %s", it->str, dlerror());
    for (ExternFn *f = it->fns; f; f = f->next) {
        Map seen = {0};
        for (int i = 0; i < f->nparams; i++) {
            if (map_get(&seen, f->params[i].name))
                diag_error(C->d, f->params[i].loc, "parameter '%s' of '%s' is listed twice",
                           f->params[i].name, f->name.name);
            map_put(C->a, &seen, f->params[i].name, f);
            if (f->params[i].primes)
                diag_error(C->d, f->params[i].loc, "a parameter name cannot have a prime");
        }
        if (f->grads && f->ngrads != f->nparams)
            diag_error(C->d, f->grad_loc,
                       "'%s' has %d parameter%s but grad lists %d function%s (one partial "
                       "derivative per parameter)",
                       f->name.name, f->nparams, f->nparams == 1 ? "" : "s", f->ngrads,
                       f->ngrads == 1 ? "" : "s");
        if (lib) {
            if (!dlsym(lib, f->name.name))
                diag_error(C->d, f->name.loc, "library '%s' has no function '%s'", it->str,
                           f->name.name);
            for (int i = 0; i < f->ngrads; i++)
                if (!dlsym(lib, f->grads[i].name))
                    diag_error(C->d, f->grads[i].loc, "library '%s' has no function '%s'",
                               it->str, f->grads[i].name);
        }
        define_global(C, G_EXTERN, f->name.name, f->name.loc, it, f);
    }
    if (lib)
        dlclose(lib);
}

/* ---------- system and problem bodies ---------- */

static Local *declare(Checker *C, LocalKind k, Ident id, Stmt *s)
{
    Scope *S = C->scope;
    if (id.primes) {
        diag_error(C->d, id.loc, "a declared name cannot have a prime: '%s''", id.name);
        return NULL;
    }
    if (reserved_name(id.name) || (!S->is_problem && strcmp(id.name, "t") == 0)) {
        int time = strcmp(id.name, "t") == 0;
        diag_error(C->d, id.loc, "'%s' is %s; choose another name for this %s%s", id.name,
                   builtin_index(id.name) >= 0 || strcmp(id.name, "integral") == 0
                       ? "a built-in function"
                       : time ? "reserved: it is time in a system" : "a predefined constant",
                   local_kind_name[k], time && k == L_COORD ? " (as in 'coord th')" : "");
        if (k == L_COORD)
            S->refused_coords++; /* no "declares no coordinates" on top */
        if (time)
            S->t_refused = 1;    /* nor "'t' has no derivative" at each use */
        return NULL;
    }
    Local *old = map_get(&S->names, id.name);
    if (old) {
        diag_error(C->d, id.loc, "'%s' is already declared in %s '%s'", id.name,
                   S->is_problem ? "problem" : "system", S->item->name.name);
        diag_note(C->d, old->loc, "'%s' was first declared here as %s %s", id.name,
                  article(local_kind_name[old->kind]), local_kind_name[old->kind]);
        return NULL;
    }
    Local *l = arena_alloc(C->a, sizeof *l);
    l->kind = k;
    l->name = id.name;
    l->loc = id.loc;
    l->stmt = s;
    l->visible = k != L_LET;
    map_put(C->a, &S->names, id.name, l);
    return l;
}

static void push(Checker *C, Local ***v, int *n, Local *l)
{
    Local **w = arena_alloc(C->a, (size_t)(*n + 1) * sizeof *w);
    if (*n)
        memcpy(w, *v, (size_t)*n * sizeof *w);
    w[(*n)++] = l;
    *v = w;
}

static int positive_int(Checker *C, Expr *e, const char *what, long max, long *out)
{
    double v;
    if (!const_value(C, e, &v))
        return 0;
    if (v != floor(v) || v < 1 || v > (double)max) {
        diag_error(C->d, e->loc, "%s must be a whole number from 1 to %ld (got %g)", what, max, v);
        return 0;
    }
    *out = (long)v;
    return 1;
}

static const char *const activations[] = {"softplus", "tanh", "sigmoid", "relu2", "relu"};
static const char *const inits[] = {"lnn", "xavier"};
static const char *const net_keys[] = {"in", "hidden", "out", "activation", "init", "weights"};

static int word_in(const char *w, const char *const *v, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(w, v[i]) == 0)
            return i;
    return -1;
}

static char *word_list(Checker *C, const char *const *v, int n)
{
    char *s = "";
    for (int i = 0; i < n; i++)
        s = arena_printf(C->a, "%s%s%s", s, i ? ", " : "", v[i]);
    return s;
}

/* A bare word argument (activation = tanh): a name that is not resolved. */
static const char *word_arg(Checker *C, Expr *e, const char *key, const char *const *allowed, int n)
{
    if (e->kind != EX_NAME || e->id.primes) {
        diag_error(C->d, e->loc, "%s must be one of: %s", key, word_list(C, allowed, n));
        return NULL;
    }
    if (word_in(e->id.name, allowed, n) < 0) {
        diag_error(C->d, e->loc, "unknown %s '%s'%s; known: %s", key, e->id.name,
                   did_you_mean(C, diag_suggest(e->id.name, allowed, n)), word_list(C, allowed, n));
        return NULL;
    }
    return e->id.name;
}

static void check_net(Checker *C, Stmt *s, Local *l)
{
    if (strcmp(s->func.name, "mlp") != 0) {
        static const char *const ctors[] = {"mlp"};
        diag_error(C->d, s->func.loc, "unknown network constructor '%s'%s; known: mlp", s->func.name,
                   did_you_mean(C, diag_suggest(s->func.name, ctors, 1)));
        return;
    }
    NetArg *seen[6] = {0};
    double widths[64], in_v = 0, out_v = 1;
    int nwidths = 0, sizes_ok = 1;
    for (NetArg *a = s->netargs; a; a = a->next) {
        int k = word_in(a->key.name, net_keys, 6);
        if (k < 0 || a->key.primes) {
            diag_error(C->d, a->key.loc, "unknown mlp argument '%s'%s; known: %s", a->key.name,
                       did_you_mean(C, diag_suggest(a->key.name, net_keys, 6)),
                       word_list(C, net_keys, 6));
            continue;
        }
        if (seen[k]) {
            diag_error(C->d, a->key.loc, "mlp argument '%s' is given twice", a->key.name);
            continue;
        }
        seen[k] = a;
        long v;
        switch (k) {
        case 0: /* in */
            if (positive_int(C, a->value, "in", 4096, &v)) {
                in_v = (double)v;
                if (l)
                    l->net_in = (int)v;
            } else
                sizes_ok = 0;
            break;
        case 1: /* hidden */
            if (a->value->kind != EX_LIST) {
                diag_error(C->d, a->value->loc, "hidden must be a list of layer widths, as in [128, 128]");
                break;
            }
            for (Expr *w = a->value->args; w; w = w->next)
                if (!positive_int(C, w, "a hidden layer width", 65536, &v))
                    sizes_ok = 0;
                else if (nwidths < 64)
                    widths[nwidths++] = (double)v;
            if (a->value->nargs > 64)
                diag_error(C->d, a->value->loc, "at most 64 hidden layers");
            break;
        case 2: /* out */
            if (positive_int(C, a->value, "out", 4096, &v)) {
                out_v = (double)v;
                if (l)
                    l->net_out = (int)v;
            } else
                sizes_ok = 0;
            break;
        case 3: { /* activation */
            const char *w = word_arg(C, a->value, "activation", activations, 5);
            if (w && l)
                l->relu_net = strcmp(w, "relu") == 0;
            break;
        }
        case 4: /* init */
            word_arg(C, a->value, "init", inits, 2);
            break;
        case 5: /* weights */
            if (a->value->kind != EX_STR || !a->value->str[0])
                diag_error(C->d, a->value->loc, "weights must be a file name in quotes, as in weights = \"f.lagw\"");
            break;
        }
    }
    if (!seen[0])
        diag_error(C->d, s->loc, "net '%s' needs its input size: mlp(in = N, ...)", s->names[0].name);
    else if (sizes_ok) {
        /* the weights must fit in memory: at most 2^26 numbers (512 MiB) */
        double count = 0, prev = in_v;
        for (int i = 0; i < nwidths; i++) {
            count += (prev + 1) * widths[i];
            prev = widths[i];
        }
        count += (prev + 1) * out_v;
        if (count > 67108864.0)
            diag_error(C->d, s->loc, "net '%s' has %.4g weights; at most 67108864 (2^26) fit",
                       s->names[0].name, count);
    }
    if (l && !seen[2])
        l->net_out = 1;
}

static int stmt_in_system(StmtKind k)
{
    return k == ST_PARAM || k == ST_COORD || k == ST_LET || k == ST_ASSIGN || k == ST_ACCEL ||
           k == ST_FORCE || k == ST_DISSIPATION || k == ST_NET || k == ST_SYMMETRY || k == ST_UNKNOWN ||
           k == ST_BODY || k == ST_GRAVITY || k == ST_INPUT || k == ST_CONSTRAIN;
}

/* symmetry NAME: q -> expr, ... (a continuous transformation's generator,
 * each expression a function of the coordinates, parameters and t: the
 * velocities are refused where the equations are built, lang/mech.c) or
 * a <-> b, ... (an exchange of coordinates). */
static void single_outputs(Checker *C, Expr *e);

#define PRIMES "'''" /* printed with %.*s after a name: its primes (up to three) */

/* The first velocity (or acceleration) a resolved expression uses, through
 * its lets too; NULL when there is none.  depth bounds a let chain. */
static const Expr *first_velocity(const Expr *e, int depth)
{
    if (!e || depth > 64)
        return NULL;
    if (e->kind == EX_NAME && e->ref == REF_COORD && e->id.primes > 0)
        return e;
    if (e->kind == EX_PRIME)
        return e;
    if (e->kind == EX_NAME && e->ref == REF_LET && e->decl) {
        const Stmt *let = e->decl;
        if (e->id.primes > 0 || first_velocity(let->value, depth + 1))
            return e;
    }
    const Expr *r = first_velocity(e->a, depth + 1);
    if (!r)
        r = first_velocity(e->b, depth + 1);
    for (const Expr *a = e->args; a && !r; a = a->next)
        r = first_velocity(a, depth + 1);
    return r;
}

/* The system's first constraint (with velocity set: the first on the
 * velocities), or NULL. */
static const Stmt *first_constraint(const Item *sys, int velocity)
{
    for (const Stmt *s = sys ? sys->stmts : NULL; s; s = s->next)
        if (s->kind == ST_CONSTRAIN && (!velocity || first_velocity(s->value, 0) || first_velocity(s->at, 0)))
            return s;
    return NULL;
}

static void check_symmetry(Checker *C, const Item *it, Stmt *s, Map *seen_syms)
{
    Ident name = s->names[0];
    if (name.primes)
        diag_error(C->d, name.loc, "a symmetry's name cannot have a prime");
    else if (map_get(seen_syms, name.name))
        diag_error(C->d, name.loc, "a second symmetry '%s' in '%s'", name.name, it->name.name);
    else
        map_put(C->a, seen_syms, name.name, s);
    if (s->mixed) {
        diag_error(C->d, s->loc, "a symmetry is either continuous (q -> expr, ...) or an exchange (a <-> b, ...), "
                                 "not both");
        return;
    }
    Map used = {0};
    for (int i = 1; i < s->nnames; i++) {
        Ident q = s->names[i];
        Local *c = local(C, q.name);
        if (!c || c->kind != L_COORD || q.primes) {
            diag_error(C->d, q.loc, "'%s%.*s' is not a coordinate of '%s'%s%s", q.name, q.primes > 3 ? 3 : q.primes,
                       PRIMES, it->name.name,
                       q.primes ? " (a generator moves coordinates; the velocities follow)" : "",
                       q.primes ? "" : did_you_mean(C, suggest_name(C, q.name, 0)));
            continue;
        }
        if (map_get(&used, q.name)) {
            diag_error(C->d, q.loc, "'%s' appears twice in the symmetry '%s'", q.name, name.name);
            continue;
        }
        map_put(C->a, &used, q.name, s);
    }
    for (Expr *e = s->exprs; e; e = e->next) {
        Val v = resolve(C, e, CX_SYSTEM);
        single_outputs(C, e);
        const Expr *vel = v.bad ? NULL : first_velocity(e, 0);
        if (vel)
            diag_error(C->d, vel->loc, "a generator is a function of the coordinates (and t), not of the "
                                       "velocities: '%s%.*s'%s", vel->kind == EX_PRIME ? "(...)" : vel->id.name,
                       vel->id.primes > 3 ? 3 : vel->id.primes, PRIMES,
                       vel->ref == REF_LET && !vel->id.primes ? " depends on a velocity" : " is a velocity");
    }
}

static int stmt_in_problem(StmtKind k)
{
    return k == ST_PARAM || k == ST_LET || k == ST_NET || k == ST_DOMAIN || k == ST_FIELD ||
           k == ST_UNKNOWN || k == ST_FIX || k == ST_SUBJECT || k == ST_MINIMIZE ||
           k == ST_STATIONARY || k == ST_MAXIMIZE;
}

/* Check an expression that must be usable in a Lagrangian (no relu net). */
static void no_relu(Checker *C, Val v, const char *where)
{
    if (v.relu)
        diag_error(C->d, v.relu->loc,
                   "net '%s' uses relu, whose second derivative is zero, so it cannot appear "
                   "in %s (use softplus, tanh, sigmoid or relu2)",
                   v.relu->id.name, where);
}

/* A destructuring let: `let a, b = g(...)` with g a net of out = 2. */
/* Whether e uses a coordinate or a velocity (through lets too). */
static const Expr *state_in(const Expr *e, int depth)
{
    if (!e || depth > 64)
        return NULL;
    if (e->kind == EX_NAME && e->ref == REF_COORD)
        return e;
    if (e->kind == EX_NAME && e->ref == REF_LET && e->decl && state_in(((const Stmt *)e->decl)->value, depth + 1))
        return e;
    const Expr *r = state_in(e->a, depth + 1);
    if (!r)
        r = state_in(e->b, depth + 1);
    for (const Expr *a = e->args; a && !r; a = a->next)
        r = state_in(a, depth + 1);
    return r;
}

/* input F(t) = expr: a function of t (and parameters) alone; input F(t)
 * from "file.csv" { interpolation linear | cubic, outside error | hold,
 * column NAME, time NAME }: the file is read now, its times strictly
 * increasing, into the samples the runtime interpolates. */
static void check_input(Checker *C, Stmt *s)
{
    const char *name = s->names[0].name;
    if (strcmp(s->names[1].name, "t") != 0) {
        diag_error(C->d, s->names[1].loc, "an input is a function of time: write 'input %s(t)'", name);
        return;
    }
    if (s->value) {
        Val v = resolve(C, s->value, CX_SYSTEM);
        const Expr *q = v.bad ? NULL : state_in(s->value, 0);
        if (q)
            diag_error(C->d, q->loc, "an input is a function of time alone; '%s' depends on the coordinates "
                       "(write it as a let)", q->id.name);
        else if (!v.bad && deriv_order(s->value, 0))
            diag_error(C->d, s->value->loc, "an input is a function of time alone");
        return;
    }
    static const char *const keys[] = {"interpolation", "outside", "column", "time"};
    const char *opt[4] = {"linear", "error", name, "t"};
    for (const NetArg *a = s->netargs; a; a = a->next) {
        int k = 0;
        while (k < 4 && strcmp(a->key.name, keys[k]) != 0)
            k++;
        if (k == 4 || a->value->kind != EX_NAME || a->value->id.primes) {
            if (k == 4)
                diag_error(C->d, a->key.loc, "an input has no option '%s'; its options are interpolation (linear, "
                           "cubic), outside (error, hold), column NAME and time NAME", a->key.name);
            else
                diag_error(C->d, a->value->loc, "'%s' takes a word", a->key.name);
            return;
        }
        opt[k] = a->value->id.name;
        if ((k == 0 && strcmp(opt[0], "linear") && strcmp(opt[0], "cubic")) ||
            (k == 1 && strcmp(opt[1], "error") && strcmp(opt[1], "hold"))) {
            diag_error(C->d, a->value->loc, "%s is %s", keys[k], k == 0 ? "linear or cubic" : "error or hold");
            return;
        }
    }
    const char *file = s->at->str;
    const char *path = diag_beside(C->d, C->a, file, s->at->loc);
    CsvTable tab = {0};
    int io = 0;
    char err[512];
    if (csv_read(path, &tab, &io, err, sizeof err) != 0) {
        diag_error(C->d, s->at->loc, "input '%s': %s", name, err);
        return;
    }
    int ct = csv_column(&tab, opt[3]), cy = csv_column(&tab, opt[2]);
    int cubic = strcmp(opt[0], "cubic") == 0;
    long n = tab.nrows;
    if (ct < 0 || cy < 0) {
        diag_error(C->d, s->at->loc, "input '%s': %s has no column '%s'%s", name, file, ct < 0 ? opt[3] : opt[2],
                   ct < 0 ? " (the times; name another with 'time NAME')"
                          : " (the values; name another with 'column NAME')");
        csv_table_free(&tab);
        return;
    }
    if (n < (cubic ? 3 : 2)) {
        diag_error(C->d, s->at->loc, "input '%s': %s has %ld row%s; %s interpolation needs at least %d", name, file,
                   n, n == 1 ? "" : "s", opt[0], cubic ? 3 : 2);
        csv_table_free(&tab);
        return;
    }
    double *t = arena_alloc(C->a, (size_t)n * sizeof *t), *y = arena_alloc(C->a, (size_t)n * sizeof *y);
    for (long i = 0; i < n; i++) {
        t[i] = tab.data[i * tab.ncols + ct];
        y[i] = tab.data[i * tab.ncols + cy];
        if (i > 0 && !(t[i] > t[i - 1])) {
            diag_error(C->d, s->at->loc, "input '%s': the times in %s must increase strictly, but data row %ld "
                       "has t = %g after %g", name, file, i + 1, t[i], t[i - 1]);
            csv_table_free(&tab);
            return;
        }
    }
    csv_table_free(&tab);
    InputData *d = arena_alloc(C->a, sizeof *d);
    *d = (InputData){name, file, (int)n, t, y, NULL, strcmp(opt[1], "hold") == 0, arena_alloc(C->a, sizeof(int))};
    if (cubic) {
        double *m = arena_alloc(C->a, (size_t)n * sizeof *m), *work = arena_alloc(C->a, (size_t)n * sizeof *work);
        input_spline((int)n, t, y, m, work);
        d->m = m;
    }
    InputFn *fns = arena_alloc(C->a, 5 * sizeof *fns);
    for (int k = 0; k < 5; k++)
        fns[k] = (InputFn){d, k};
    s->input = fns;
}

static void check_let(Checker *C, Stmt *s, Ctx cx)
{
    Val v;
    Expr *e = s->value;
    Local *net = e->kind == EX_CALL ? local(C, e->id.name) : NULL;
    int outs = net && net->kind == L_NET ? net->net_out : 1;
    v = s->nnames == 1 ? resolve_any(C, e, cx) : resolve(C, e, cx);
    if (!v.bad && outs != s->nnames) {
        if (s->nnames > 1 && !(net && net->kind == L_NET))
            diag_error(C->d, e->loc,
                       "%d names are bound but the right-hand side is a single value "
                       "(destructuring needs a net with out = %d)",
                       s->nnames, s->nnames);
        else
            diag_error(C->d, e->loc, "net '%s' returns %d value%s but %d name%s bound", e->id.name,
                       outs, outs == 1 ? "" : "s", s->nnames, s->nnames == 1 ? " is" : "s are");
    }
    for (int i = 0; i < s->nnames; i++) {
        Local *l = local(C, s->names[i].name);
        if (l && l->stmt == s) {
            l->visible = 1;
            l->relu = v.relu;
            l->pointwise = v.pointwise;
            l->dim = v.bad ? 0 : v.dim;
        }
    }
}

/* The space of a system's bodies, points and gravity: one dimension for
 * all, a vector for each position, a 3-D position for a body with angles. */
typedef struct Space {
    const Stmt *body;    /* the body or point whose lets are being checked */
    const Stmt *gravity; /* the gravity statement, once seen */
    int dim;             /* 2 or 3 once a position or the gravity has one */
    const char *first;   /* what set dim, for the message */
    int bad;             /* an error reported: T and V are not checked */
} Space;

static const NetArg *body_prop(const Stmt *b, const char *key)
{
    for (const NetArg *a = b ? b->netargs : NULL; a; a = a->next)
        if (strcmp(a->key.name, key) == 0)
            return a;
    return NULL;
}

/* After a let the parser wrote for a body, point or gravity (s): its
 * position's (or the gravity's) dimension against the others'. */
static void check_space(Checker *C, Space *sp, const Stmt *s)
{
    const char *name = s->names[0].name, *hash = strchr(name, '#');
    int grav = !hash && sp->gravity && strcmp(name, sp->gravity->names[0].name) == 0;
    if (!grav && !(hash && strcmp(hash, "#at") == 0 && sp->body && sp->body->written))
        return; /* (a body with an error in its properties has had its message) */
    Local *l = local(C, name);
    if (!l || l->stmt != s)
        return;
    const Stmt *b = grav ? sp->gravity : sp->body;
    const char *what = grav ? "gravity" : b->func.name, *who = grav ? name : b->names[0].name;
    const Expr *e = s->value;
    if (e->kind == EX_LIST)
        return; /* a tuple: reported as one */
    if (l->dim == 0) {
        if (grav)
            diag_error(C->d, e->loc, "gravity '%s' is a number; gravity is a vector: vec(0, -9.81) in the plane, "
                       "vec(0, 0, -9.81) in space", who);
        else
            diag_error(C->d, e->loc, "the position of %s '%s' is a number; 'at' takes a vector: vec(x, y) in the "
                       "plane, vec(x, y, z) in space", what, who);
        sp->bad = 1;
        return;
    }
    if (!grav && body_prop(b, "angles") && l->dim != 3) {
        diag_error(C->d, e->loc, "body '%s' turns in space ('angles'), so its position must be 3-D: "
                   "vec(x, y, z)", who);
        sp->bad = 1;
        return;
    }
    if (sp->dim && l->dim != sp->dim) {
        diag_error(C->d, e->loc, "%s '%s' is %d-D but %s is %d-D: the bodies, points and gravity of a system "
                   "share one space", what, who, l->dim, sp->first, sp->dim);
        sp->bad = 1;
        return;
    }
    if (!sp->dim) {
        sp->dim = l->dim;
        sp->first = arena_printf(C->a, "%s '%s'", what, who);
    }
}

/* Calls of a multi-output net are only allowed as a destructuring let. */
static void single_outputs(Checker *C, Expr *e)
{
    if (!e)
        return;
    if (e->kind == EX_CALL && e->ref == REF_NET) {
        Local *l = local(C, e->id.name);
        if (l && l->net_out > 1)
            diag_error(C->d, e->loc,
                       "net '%s' returns %d values; bind them with 'let a, b = %s(...)' and use "
                       "the names",
                       e->id.name, l->net_out, e->id.name);
    }
    single_outputs(C, e->a);
    single_outputs(C, e->b);
    for (Expr *a = e->args; a; a = a->next)
        single_outputs(C, a);
}

/* The fields an expression of a problem uses, directly or through lets
 * (checked: lets are acyclic), as bits by field index. */
static void fields_used(const Expr *e, uint64_t *mask, int depth)
{
    if (!e || depth > 64)
        return;
    if (e->kind == EX_NAME && e->ref == REF_FIELD && e->index < 64)
        *mask |= (uint64_t)1 << e->index;
    if (e->kind == EX_NAME && e->ref == REF_LET && e->decl)
        fields_used(((const Stmt *)e->decl)->value, mask, depth + 1);
    fields_used(e->a, mask, depth);
    fields_used(e->b, mask, depth);
    for (const Expr *a = e->args; a; a = a->next)
        fields_used(a, mask, depth);
}

/* H = expr: a function of the coordinates, their momenta p_q and t. */
static void check_hamiltonian(Checker *C, Stmt *s)
{
    Val v = resolve(C, s->value, CX_SYSTEM);
    single_outputs(C, s->value);
    no_relu(C, v, "a Hamiltonian");
    if (v.bad)
        return;
    const Expr *vel = first_velocity(s->value, 0);
    if (vel && vel->kind == EX_NAME && vel->ref == REF_COORD)
        diag_error(C->d, vel->loc, "the Hamiltonian is a function of the coordinates, their momenta and t, not "
                   "of the velocities: write p_%s (the momentum of %s) instead of %s'",
                   vel->id.name, vel->id.name, vel->id.name);
    else if (vel && vel->kind == EX_NAME)
        diag_error(C->d, vel->loc, "the Hamiltonian is a function of the coordinates, their momenta and t, not "
                   "of the velocities, and '%s' uses one", vel->id.name);
    else if (vel)
        diag_error(C->d, vel->loc, "the Hamiltonian is a function of the coordinates, their momenta and t, not "
                   "of the velocities, and this rate of change uses them");
}

/* The rules of a system given by H (whole body): one formalism, and no
 * declaration named like a momentum. */
static void hamiltonian_rules(Checker *C, const Item *it, const Stmt *H, const Stmt *L, const Stmt *accel)
{
    if (!H)
        return;
    if (L) {
        diag_error(C->d, H->loc, "a system has either a Lagrangian ('L = ...') or a Hamiltonian ('H = ...'), "
                                 "not both");
        diag_note(C->d, L->loc, "the Lagrangian is here");
    }
    if (accel) {
        diag_error(C->d, accel->loc, "a system has either 'H = ...' or 'accel ...', not both");
        diag_note(C->d, H->loc, "the Hamiltonian is here");
    }
    for (const Stmt *s = it->stmts; s; s = s->next)
        for (int i = 0; i < s->nnames && s->kind != ST_ASSIGN && s->kind != ST_ACCEL && s->kind != ST_FORCE &&
                        s->kind != ST_SYMMETRY; i++) {
            const char *name = s->names[i].name;
            Local *c = strncmp(name, "p_", 2) == 0 ? local(C, name + 2) : NULL;
            if (c && c->kind == L_COORD)
                diag_error(C->d, s->names[i].loc, "'%s' is the momentum of the coordinate '%s' in a system given "
                           "by its Hamiltonian: choose another name", name, name + 2);
        }
}

static void check_body(Checker *C, Item *it)
{
    const int errors_before = C->d->errors;
    Scope *S = arena_alloc(C->a, sizeof *S);
    C->broken = it->broken;
    S->item = it;
    S->is_problem = it->kind == IT_PROBLEM;
    C->scope = S;
    const char *what = S->is_problem ? "problem" : "system";
    Global *g = global(C, it->name.name);
    if (g && g->item == it)
        g->scope = S;

    /* Pass 1: declarations visible in the whole body (params, coords,
     * fields, nets, unknowns, the domain); lets come into scope in order. */
    Stmt *L = NULL, *accel = NULL, *objective = NULL, *H = NULL;
    for (Stmt *s = it->stmts, *prev = NULL; s; prev = s, s = s->next) {
        if (S->is_problem ? !stmt_in_problem(s->kind) : !stmt_in_system(s->kind)) {
            const char *kw = s->kind == ST_ASSIGN ? "L = ..." : s->kind == ST_BODY ? s->func.name
                                                                                  : ast_stmt_keyword(s->kind);
            diag_error(C->d, s->loc, "'%s' belongs in a %s, not in a %s", kw,
                       S->is_problem ? "system" : "problem", what);
            continue;
        }
        Local *l;
        switch (s->kind) {
        case ST_PARAM:
            if (!s->value && S->is_problem)
                diag_error(C->d, s->loc, "a problem's parameter needs a value ('param %s = ...'): its domain and "
                           "fixed ends are numbers", s->names[0].name);
            if ((l = declare(C, L_PARAM, s->names[0], s))) {
                l->index = S->nparams;
                push(C, &S->params, &S->nparams, l);
            }
            break;
        case ST_UNKNOWN:
            if (!s->value) {
                diag_error(C->d, s->loc, "an unknown needs the value its fit starts from, as in 'unknown %s = 1'",
                           s->names[0].name);
                break;
            }
            if ((l = declare(C, L_UNKNOWN, s->names[0], s))) {
                Expr *v = s->value;
                if (v->kind == EX_CALL && (strcmp(v->id.name, "poly") == 0 ||
                                           strcmp(v->id.name, "spline") == 0) && !S->is_problem) {
                    diag_error(C->d, v->loc, "an unknown function of the domain variable belongs in a problem; "
                               "a system's unknowns are scalars (unknown k = 1), fitted by train");
                    v->ref = REF_UNKNOWN_FN;
                } else if (v->kind == EX_CALL && (strcmp(v->id.name, "poly") == 0 ||
                                           strcmp(v->id.name, "spline") == 0)) {
                    l->kind = L_UNKNOWN_FN;
                    long k;
                    if (v->nargs != 1)
                        diag_error(C->d, v->loc, "%s takes 1 argument (its %s), not %d", v->id.name,
                                   v->id.name[0] == 'p' ? "degree" : "number of knots", v->nargs);
                    else if (v->id.name[0] == 'p') {
                        double d;
                        if (const_value(C, v->args, &d) && (d != floor(d) || d < 0 || d > 50))
                            diag_error(C->d, v->args->loc,
                                       "the degree of poly must be a whole number from 0 to 50 (got %g)", d);
                    } else if (positive_int(C, v->args, "the number of spline knots", 1000, &k) && k < 2)
                        diag_error(C->d, v->args->loc, "a spline needs at least 2 knots");
                    v->ref = REF_UNKNOWN_FN;
                }
                l->index = S->nunknowns;
                push(C, &S->unknowns, &S->nunknowns, l);
            }
            break;
        case ST_COORD:
        case ST_FIELD:
            if ((l = declare(C, s->kind == ST_COORD ? L_COORD : L_FIELD, s->names[0], s))) {
                l->index = S->ncoords;
                push(C, &S->coords, &S->ncoords, l);
            }
            break;
        case ST_NET:
            if ((l = declare(C, L_NET, s->names[0], s)))
                l->index = S->nnets++;
            check_net(C, s, l);
            break;
        case ST_DOMAIN:
            if (S->domain) {
                diag_error(C->d, s->loc, "a problem has one domain; '%s' is already declared",
                           S->domain->name);
                break;
            }
            if ((l = declare(C, L_DOMAIN, s->names[0], s)))
                S->domain = l;
            break;
        case ST_ASSIGN:
            if (strcmp(s->names[0].name, "H") == 0 && !s->names[0].primes) {
                if (H) {
                    diag_error(C->d, s->loc, "the Hamiltonian H is defined twice");
                    diag_note(C->d, H->loc, "first defined here");
                } else
                    H = s;
                break;
            }
            if (strcmp(s->names[0].name, "L") != 0 && prev &&
                (prev->kind == ST_PARAM || prev->kind == ST_UNKNOWN) &&
                prev->loc.last_line == s->loc.first_line) {
                diag_error(C->d, s->loc, "'%s = ...' follows a '%s' list on the same line: separate "
                           "its items with ','",
                           s->names[0].name, ast_stmt_keyword(prev->kind));
                break;
            }
            if (C->broken && strcmp(s->names[0].name, "L") != 0)
                break; /* after a syntax error, likely the rest of a list the parser gave up on */
            if (strcmp(s->names[0].name, "L") != 0 || s->names[0].primes) {
                diag_error(C->d, s->loc,
                           "'%s = ...': only the Lagrangian L and the Hamiltonian H are assigned like "
                           "this; write 'let %s = ...' for a named expression",
                           s->names[0].name, s->names[0].name);
                break;
            }
            if (L) {
                diag_error(C->d, s->loc, "the Lagrangian L is defined twice");
                diag_note(C->d, L->loc, "first defined here");
                break;
            }
            L = s;
            break;
        case ST_ACCEL:
            if (accel) {
                diag_error(C->d, s->loc, "accel is given twice; list all coordinates in one accel statement");
                break;
            }
            accel = s;
            break;
        case ST_MINIMIZE:
        case ST_MAXIMIZE:
        case ST_STATIONARY:
            if (objective) {
                diag_error(C->d, s->loc, "a problem has one objective ('minimize', 'maximize' or 'stationary')");
                diag_note(C->d, objective->loc, "the first objective is here");
                break;
            }
            objective = s;
            break;
        case ST_DISSIPATION:
            declare(C, L_DISSIPATION, s->names[0], s);
            break;
        case ST_INPUT:
            declare(C, L_INPUT, s->names[0], s);
            break;
        case ST_LET: /* declared now, visible from its definition on */
            for (int i = 0; i < s->nnames; i++)
                if ((l = declare(C, L_LET, s->names[i], s)))
                    l->index = i;
            break;
        default:
            break;
        }
    }
    S->has_L = L != NULL;
    S->has_accel = accel != NULL;
    S->has_H = H != NULL;

    /* Pass 2: expressions, in order. */
    C->need_smooth = 1;
    Map fixed = {0};
    Map symmetries = {0};
    Map constraints = {0};
    Space space = {0};
    for (Stmt *s = it->stmts; s; s = s->next) {
        if (S->is_problem ? !stmt_in_problem(s->kind) : !stmt_in_system(s->kind))
            continue;
        Local *l;
        Val v;
        switch (s->kind) {
        case ST_PARAM:
        case ST_UNKNOWN:
            l = local(C, s->names[0].name);
            if (!s->value || (s->kind == ST_UNKNOWN && s->value->ref == REF_UNKNOWN_FN))
                break; /* a symbolic parameter: a job or --set gives its value */
            if (l && l->stmt == s) {
                double x;
                if (const_value(C, s->value, &x)) {
                    l->value = x;
                    l->has_value = 1;
                }
            }
            break;
        case ST_LET:
            if (s->written && space.bad && (strcmp(s->names[0].name, "T") == 0 || strcmp(s->names[0].name, "V") == 0)) {
                /* the energies of bodies already reported: no second message */
                if ((l = local(C, s->names[0].name)) && l->stmt == s)
                    l->visible = 1;
                break;
            }
            check_let(C, s, S->is_problem ? CX_PLET : CX_SYSTEM);
            if (s->written)
                check_space(C, &space, s);
            break;
        case ST_BODY:
            space.body = s;
            break;
        case ST_GRAVITY:
            space.gravity = s;
            break;
        case ST_INPUT:
            check_input(C, s);
            break;
        case ST_DOMAIN: /* its ends may use the params before it */
            if (!S->domain || S->domain->stmt != s)
                break;
            if (const_value(C, s->value, &S->dom_lo) & const_value(C, s->hi, &S->dom_hi)) {
                if (!(S->dom_lo < S->dom_hi))
                    diag_error(C->d, s->loc,
                               "the domain %g .. %g is empty: the lower end must be below the upper",
                               S->dom_lo, S->dom_hi);
                else
                    S->dom_ok = 1;
            }
            break;
        case ST_ASSIGN:
            if (s == H) {
                check_hamiltonian(C, s);
                break;
            }
            if (s != L)
                break;
            v = resolve(C, s->value, CX_SYSTEM);
            single_outputs(C, s->value);
            no_relu(C, v, "a Lagrangian");
            break;
        case ST_ACCEL: {
            int i = 0;
            C->need_smooth = 0; /* accelerations are evaluated, not differentiated */
            for (Expr *e = s->exprs; e; e = e->next) {
                resolve(C, e, CX_SYSTEM);
                single_outputs(C, e);
            }
            C->need_smooth = 1;
            Map seen = {0};
            for (i = 0; i < s->nnames; i++) {
                Local *c = local(C, s->names[i].name);
                if (!c || c->kind != L_COORD || s->names[i].primes)
                    diag_error(C->d, s->names[i].loc, "accel names '%s', which is not a coordinate of '%s'",
                               s->names[i].name, it->name.name);
                else if (map_get(&seen, c->name))
                    diag_error(C->d, s->names[i].loc, "accel names '%s' twice", c->name);
                map_put(C->a, &seen, s->names[i].name, s);
            }
            if (s->nnames != s->nexprs)
                diag_error(C->d, s->loc, "accel lists %d name%s but %d expression%s", s->nnames,
                           s->nnames == 1 ? "" : "s", s->nexprs, s->nexprs == 1 ? "" : "s");
            else
                for (i = 0; i < S->ncoords; i++)
                    if (!map_get(&seen, S->coords[i]->name))
                        diag_error(C->d, s->loc, "accel gives no acceleration for the coordinate '%s'",
                                   S->coords[i]->name);
            break;
        }
        case ST_FORCE: {
            Local *c = local(C, s->names[0].name);
            if (c && c->kind != L_COORD && c->kind != L_DISSIPATION)
                diag_error(C->d, s->names[0].loc, "force on '%s', which is %s %s of '%s': only coordinates take "
                           "forces (force q = ..., the generalised force on the coordinate q)",
                           s->names[0].name, article(local_kind_name[c->kind]), local_kind_name[c->kind],
                           it->name.name);
            else if (!c || c->kind != L_COORD || s->names[0].primes)
                diag_error(C->d, s->names[0].loc, "force on '%s%s', which is not a coordinate of '%s'%s",
                           s->names[0].name, s->names[0].primes ? "'" : "", it->name.name,
                           s->names[0].primes ? " (a force acts on a coordinate; its velocity follows)"
                                              : did_you_mean(C, suggest_coord(C, s->names[0].name)));
            C->need_smooth = 0; /* a force is evaluated, not differentiated */
            resolve(C, s->value, CX_SYSTEM);
            C->need_smooth = 1;
            single_outputs(C, s->value);
            break;
        }
        case ST_DISSIPATION:
            v = resolve(C, s->value, CX_SYSTEM);
            single_outputs(C, s->value);
            no_relu(C, v, "a dissipation function (its velocity derivative is needed)");
            break;
        case ST_SYMMETRY:
            check_symmetry(C, it, s, &symmetries);
            break;
        case ST_CONSTRAIN: {
            /* g(q, t) = 0, or a(q, t).q' + b(q, t) = 0: linear in the
             * velocities, which lang/mech.c checks on the derived form */
            const Stmt *first = map_get(&constraints, s->names[0].name);
            if (first) {
                diag_error(C->d, s->names[0].loc, "the constraint '%s' is declared twice", s->names[0].name);
                diag_note(C->d, first->loc, "first declared here");
            } else
                map_put(C->a, &constraints, s->names[0].name, s);
            resolve(C, s->value, CX_SYSTEM);
            single_outputs(C, s->value);
            resolve(C, s->at, CX_SYSTEM);
            single_outputs(C, s->at);
            break;
        }
        case ST_FIX: {
            Local *f = local(C, s->names[0].name);
            double at, val;
            if (f && f->kind == L_FIELD && s->names[0].primes) {
                diag_error(C->d, s->names[0].loc,
                           "fix sets a field's value, not its derivative; leave the end free for "
                           "the natural boundary condition");
                break;
            }
            if (f && f->kind == L_UNKNOWN_FN && !s->names[0].primes) {
                /* a value of an unknown function: anywhere in the domain, once */
                const char *key = arena_printf(C->a, "%s@fn", f->name);
                if (map_get(&fixed, key))
                    diag_error(C->d, s->loc, "the unknown function '%s' is fixed twice (one value can be fixed)",
                               f->name);
                map_put(C->a, &fixed, key, s);
                const Stmt *decl = f->stmt;
                if (decl && decl->value->kind == EX_CALL && strcmp(decl->value->id.name, "poly") == 0) {
                    double deg;
                    if (const_value(C, decl->value->args, &deg) && deg == 0)
                        diag_error(C->d, s->loc, "fixing a value of '%s', a poly(0) (a constant), leaves nothing "
                                   "to fit: make it a parameter instead", f->name);
                }
                if (const_value(C, s->at, &at) && S->dom_ok && (at < S->dom_lo || at > S->dom_hi))
                    diag_error(C->d, s->at->loc, "the point %g is outside the domain %g .. %g", at, S->dom_lo,
                               S->dom_hi);
                const_value(C, s->value, &val);
                break;
            }
            if (!f || f->kind != L_FIELD) {
                diag_error(C->d, s->names[0].loc, "fix names '%s', which is not a field of '%s'%s",
                           s->names[0].name, it->name.name,
                           f && f->kind == L_UNKNOWN_FN ? " (an unknown function's value is fixed as fix f(a) = v)" : "");
                break;
            }
            if (const_value(C, s->at, &at) && S->dom_ok) {
                if (at < S->dom_lo || at > S->dom_hi)
                    diag_error(C->d, s->at->loc, "the point %g is outside the domain %g .. %g", at,
                               S->dom_lo, S->dom_hi);
                else if (at != S->dom_lo && at != S->dom_hi)
                    diag_error(C->d, s->at->loc,
                               "fix applies at the ends of the domain (%g or %g), not at %g",
                               S->dom_lo, S->dom_hi, at);
                else {
                    const char *key = arena_printf(C->a, "%s@%s", f->name, at == S->dom_lo ? "lo" : "hi");
                    if (map_get(&fixed, key))
                        diag_error(C->d, s->loc, "%s(%g) is fixed twice", f->name, at);
                    map_put(C->a, &fixed, key, s);
                }
            }
            C->unknowns_ok = 1; /* an end's height may be an unknown: infer fits it */
            const_value(C, s->value, &val);
            C->unknowns_ok = 0;
            break;
        }
        case ST_SUBJECT:
            resolve(C, s->value, CX_OBJECTIVE);
            single_outputs(C, s->value);
            {
                double rhs;
                C->unknowns_ok = 1;
                const_value(C, s->at, &rhs);
                C->unknowns_ok = 0;
            }
            break;
        case ST_MINIMIZE:
        case ST_MAXIMIZE:
        case ST_STATIONARY:
            if (s != objective)
                break;
            resolve(C, s->value, CX_OBJECTIVE);
            single_outputs(C, s->value);
            break;
        default:
            break;
        }
    }

    /* Whole-body rules (not after a syntax error: the parser skipped text). */
    if (it->broken) {
        C->scope = NULL;
        return;
    }
    if (!S->is_problem) {
        if (S->ncoords == 0 && S->refused_coords == 0)
            diag_error(C->d, it->name.loc, "system '%s' declares no coordinates (add 'coord q, ...')",
                       it->name.name);
        if (!L && !accel && !H)
            diag_error(C->d, it->name.loc,
                       "system '%s' has no Lagrangian ('L = ...'), Hamiltonian ('H = ...') or accelerations "
                       "('accel ...')",
                       it->name.name);
        hamiltonian_rules(C, it, H, L, accel);
        if (L && accel) {
            diag_error(C->d, accel->loc, "a system has either 'L = ...' or 'accel ...', not both");
            diag_note(C->d, L->loc, "the Lagrangian is here");
        }
        for (Stmt *s = it->stmts; s && accel && !L; s = s->next)
            if (s->kind == ST_SYMMETRY)
                diag_error(C->d, s->loc, "a symmetry needs a Lagrangian (its Noether charge and L's change are "
                                         "built from L), and '%s' gives accelerations", it->name.name);
        int ncons = 0;
        for (Stmt *s = it->stmts; s; s = s->next) {
            if (s->kind != ST_CONSTRAIN)
                continue;
            if (accel && !L)
                diag_error(C->d, s->loc, "a constraint's force comes from a Lagrangian (a multiplier in the "
                                         "Euler-Lagrange equations), and '%s' gives accelerations",
                           it->name.name);
            else if (++ncons == S->ncoords && S->ncoords > 0)
                diag_error(C->d, s->loc, "%d constraint%s on %d coordinate%s leave%s nothing free to move",
                           ncons, ncons == 1 ? "" : "s", S->ncoords, S->ncoords == 1 ? "" : "s",
                           ncons == 1 ? "s" : "");
        }
        for (Stmt *s = it->stmts; s && accel && !L; s = s->next)
            if (s->kind == ST_FORCE || s->kind == ST_DISSIPATION)
                diag_error(C->d, s->loc,
                           "'%s' modifies Euler-Lagrange equations, but this system gives its "
                           "accelerations directly: add the term to 'accel'",
                           ast_stmt_keyword(s->kind));
    } else {
        if (!S->domain)
            diag_error(C->d, it->name.loc, "problem '%s' has no domain (add 'domain x = a .. b')",
                       it->name.name);
        if (S->ncoords == 0)
            diag_error(C->d, it->name.loc, "problem '%s' declares no field (add 'field y')",
                       it->name.name);
        if (!objective)
            diag_error(C->d, it->name.loc,
                       "problem '%s' has no objective (add 'minimize ...', 'maximize ...' or 'stationary ...')",
                       it->name.name);
        else if (C->d->errors == errors_before && S->ncoords > 0 && S->ncoords <= 64) {
            /* every field must be determined: used by the objective or a
             * constraint (a field no integral sees has no equation) */
            uint64_t in_obj = 0, in_any = 0;
            fields_used(objective->value, &in_obj, 0);
            in_any = in_obj;
            for (Stmt *s = it->stmts; s; s = s->next)
                if (s->kind == ST_SUBJECT)
                    fields_used(s->value, &in_any, 0);
            if (!in_obj)
                diag_error(C->d, objective->loc, "the objective of '%s' does not depend on any field, so "
                           "every shape is optimal", it->name.name);
            else
                for (int i = 0; i < S->ncoords; i++)
                    if (!(in_any >> i & 1))
                        diag_error(C->d, S->coords[i]->stmt->loc, "field '%s' appears in no integral of the "
                                   "objective or a constraint, so nothing determines it", S->coords[i]->name);
        }
    }
    units_check(C->d, C->a, it, C->d->errors == errors_before); /* lang/units.c */
    C->scope = NULL;
}

/* ---------- jobs ---------- */

enum { MAX_SPECS = 32 };

typedef struct JobState {
    Item *job;
    const char *where;   /* "simulate", "data from X", ... for messages */
    const JobSpec *spec; /* the settings of this kind of job (lang/settings.h) */
    Scope *S;            /* the target's scope (first target), or NULL */
    const Setting *seen[MAX_SPECS];
    double t0, t1;
    int have_range;
    double every;
    double at[2];        /* action: the times of 'from' and 'to' */
    int have_at[2];
} JobState;

/* The names of a job kind's settings, for messages. */
static const char *job_spec_names(Checker *C, const JobSpec *j)
{
    const char *names[MAX_SPECS];
    for (int i = 0; i < j->nspecs; i++)
        names[i] = j->specs[i].name;
    return word_list(C, names, j->nspecs);
}

/* Whether some kind of job has a setting called name. */
static int any_job_has(const char *name)
{
    for (int k = 0; k < SETTINGS_KINDS; k++)
        if (settings_find(settings_job(k), name))
            return 1;
    return 0;
}

static int job_const(Checker *C, Expr *e, double *v)
{
    Scope *saved = C->scope;
    C->scope = NULL; /* job constants see consts, pi and e only */
    int ok = const_value(C, e, v);
    C->scope = saved;
    return ok;
}

static int want_form(Checker *C, const Setting *s, SettingForm f, const char *example)
{
    if (s->form == f)
        return 1;
    diag_error(C->d, s->loc, "'%s' expects %s", s->head.name, example);
    return 0;
}

/* A coordinate (or, with primes = 1, a velocity) of the target system. */
static Local *coord_ref(Checker *C, JobState *J, Ident id, int max_primes, const char *what)
{
    Scope *S = J->S;
    if (!S)
        return NULL;
    Local *l = map_get(&S->names, id.name);
    LocalKind want = S->is_problem ? L_FIELD : L_COORD;
    if (l && l->kind == L_PARAM && !S->is_problem) {
        diag_error(C->d, id.loc, "%s '%s', which is a parameter of '%s'; override it with 'param %s = ...'",
                   what, id.name, S->item->name.name, id.name);
        return NULL;
    }
    if (!l || l->kind != want || id.primes > max_primes) {
        const char **names = arena_alloc(C->a, (size_t)(S->ncoords + 1) * sizeof *names);
        for (int i = 0; i < S->ncoords; i++)
            names[i] = S->coords[i]->name;
        const char *sugg = diag_suggest(id.name, names, S->ncoords);
        diag_error(C->d, id.loc, "%s '%s%s', which is not a %s of '%s' (%sits %ss: %s)", what, id.name,
                   id.primes == 1 ? "'" : id.primes > 1 ? "''" : "",
                   S->is_problem ? "field" : max_primes ? "coordinate or velocity" : "coordinate",
                   S->item->name.name, sugg ? arena_printf(C->a, "did you mean '%s'? ", sugg) : "",
                   S->is_problem ? "field" : "coordinate", word_list(C, names, S->ncoords));
        return NULL;
    }
    return l;
}

static void no_duplicate_assign(Checker *C, Map *seen, const Assign *a)
{
    const char *key = arena_printf(C->a, "%s%.*s", a->name.name, a->name.primes, "''''''''");
    if (map_get(seen, key))
        diag_error(C->d, a->name.loc, "'%s' is given twice", key);
    map_put(C->a, seen, key, (void *)a);
}

static void check_settings(Checker *C, JobState *J, Setting *list);

/* The first call of a net in e, or NULL. */
static const Expr *net_call_in(const Expr *e)
{
    if (!e)
        return NULL;
    if (e->kind == EX_CALL && e->ref == REF_NET)
        return e;
    const Expr *x = net_call_in(e->a);
    if (!x)
        x = net_call_in(e->b);
    for (const Expr *a = e->kind == EX_CALL ? e->args : NULL; a && !x; a = a->next)
        x = net_call_in(a);
    return x;
}

/* An initial value (or a data block's parameter): a constant, a draw
 * uniform(a, b) / normal(m, s), or an expression with draws inside
 * (ASSIGN_DRAWS), such as 0.99999*tanh(normal(0, 2)). */
static void drawn_value(Checker *C, Assign *a, const char *what)
{
    Val r = resolve(C, a->value, CX_INIT);
    if (r.bad)
        return;
    if (!r.is_const && !r.random) {
        diag_error(C->d, a->value->loc, "%s must be a constant, a draw uniform(a, b) / normal(m, s), or an "
                   "expression of draws", what);
        return;
    }
    if (r.is_const)
        a->v = r.v;
    else if (a->value->kind == EX_CALL && a->value->ref == REF_RANDOM) {
        /* constant arguments, checked by resolve */
        a->draw = strcmp(a->value->id.name, "uniform") == 0 ? ASSIGN_UNIFORM : ASSIGN_NORMAL;
        a->p1 = a->value->args->folded_v;
        a->p2 = a->value->args->next->folded_v;
    } else
        a->draw = ASSIGN_DRAWS;
}

/* The symmetry statement called name in system it, or NULL. */
static const Stmt *symmetry_in(const Item *it, const char *name)
{
    for (const Stmt *st = it ? it->stmts : NULL; st; st = st->next)
        if (st->kind == ST_SYMMETRY && strcmp(st->names[0].name, name) == 0)
            return st;
    return NULL;
}

/* penalty SYMMETRY λ (train): a symmetry declared in the trained system or
 * in the system its data come from (data from Sys), a weight >= 0. */
static void check_penalty(Checker *C, JobState *J, Setting *s)
{
    if (s->form != SET_WORD || s->e1->kind != EX_NUM) {
        diag_error(C->d, s->loc, "'penalty' expects a symmetry and a weight, as in 'penalty swap 0.1'");
        return;
    }
    double v = s->v1 = s->e1->num;
    if (!(v >= 0) || !isfinite(v))
        diag_error(C->d, s->e1->loc, "a penalty's weight is a number >= 0 (got %g)", v);
    const Scope *S = J->S;
    if (!S)
        return;
    if (S->has_accel) {
        diag_error(C->d, s->loc, "a symmetry penalty needs a Lagrangian, but '%s' gives accelerations",
                   S->item->name.name);
        return;
    }
    const Item *source = NULL;
    for (const Setting *d = J->job->settings; d; d = d->next)
        if (d->form == SET_BLOCK && strcmp(d->head.name, "data") == 0) {
            Global *g = global(C, d->target.name);
            if (g && g->kind == G_SYSTEM)
                source = g->item;
        }
    if (!symmetry_in(S->item, s->word.name) && !symmetry_in(source, s->word.name))
        diag_error(C->d, s->word.loc, "no symmetry '%s' in '%s'%s%s%s", s->word.name, S->item->name.name,
                   source ? " or in its data's system '" : "", source ? source->name.name : "", source ? "'" : "");
}

/* The first name with two primes (an acceleration) in e, or NULL. */
static const Expr *accel_in(const Expr *e)
{
    if (!e)
        return NULL;
    if (e->kind == EX_NAME && e->id.primes == 2)
        return e;
    const Expr *r = accel_in(e->a);
    if (!r)
        r = accel_in(e->b);
    for (const Expr *x = e->args; x && !r; x = x->next)
        r = accel_in(x);
    return r;
}

/* The first name in e that is the reference's own (a parameter, a let, a
 * net...), which another model of a compare job cannot evaluate, or NULL. */
static const Expr *own_name_in(const Expr *e)
{
    if (!e)
        return NULL;
    if ((e->kind == EX_NAME || e->kind == EX_CALL) && e->ref != REF_NONE && e->ref != REF_COORD &&
        e->ref != REF_TIME && e->ref != REF_PI && e->ref != REF_E && e->ref != REF_CONST && e->ref != REF_BUILTIN &&
        e->ref != REF_VECFN)
        return e;
    const Expr *r = own_name_in(e->a);
    if (!r)
        r = own_name_in(e->b);
    for (const Expr *x = e->args; x && !r; x = x->next)
        r = own_name_in(x);
    return r;
}

/* stop when EXPR crosses 0 [rising|falling] (simulate): EXPR an
 * expression of the target system as a record's, without q''; `record
 * when` (head record) the same, the trajectory going on after. */
static void check_stop(Checker *C, JobState *J, Setting *s)
{
    static const char *const crosses[] = {"crosses"}, *const dirs[] = {"rising", "falling"};
    const char *h = s->head.name;
    if (s->form != SET_WHEN) {
        diag_error(C->d, s->loc, "'%s' is written '%s when EXPR crosses 0', with 'rising' or 'falling' after it "
                   "for one direction only", h, h);
        return;
    }
    if (!s->e1) {
        diag_error(C->d, s->loc, "'%s when' needs a condition: '%s when EXPR crosses 0'", h, h);
        return;
    }
    Scope *S = J->S;
    const Expr *acc = accel_in(s->e1);
    if (S && acc && strcmp(h, "record") == 0) {
        /* (the general message would send the user to 'record') */
        diag_error(C->d, acc->loc, "'%s''' (an acceleration) cannot be in the condition of 'record when': a "
                   "crossing is located on the coordinates and velocities (record it as a column: 'record name = "
                   "%s''')", acc->id.name, acc->id.name);
        S = NULL;
    }
    if (S) {
        Scope *saved = C->scope;
        int smooth = C->need_smooth;
        C->scope = S;
        C->need_smooth = 0; /* evaluated, never differentiated: abs(q) - pi is fine */
        int before = C->d->errors;
        Val r = resolve(C, s->e1, CX_SYSTEM);
        if (!r.bad)
            single_outputs(C, s->e1);
        if (C->d->errors == before)
            units_check_expr(C->d, C->a, S->item, s->e1);
        C->scope = saved;
        C->need_smooth = smooth;
        if (!r.bad && r.is_const)
            diag_error(C->d, s->e1->loc, "the condition of '%s when' is the constant %g: it never crosses 0 (write "
                       "an expression of the coordinates, velocities, parameters and t)", h, r.v);
        const Expr *own = r.bad || J->spec != settings_job(JOB_COMPARE) ? NULL : own_name_in(s->e1);
        if (own)
            diag_error(C->d, own->loc, "'%s' is the reference's own: in a compare job each model evaluates the "
                       "condition of 'record when' on its own state, so it is an expression of the coordinates, "
                       "velocities and t", own->id.name);
    }
    if (!s->word.name) {
        diag_error(C->d, s->loc, "'%s when' needs 'crosses 0' after the expression: '%s when EXPR crosses 0'", h, h);
        return;
    }
    if (strcmp(s->word.name, "=") == 0) {
        diag_error(C->d, s->word.loc, "a %s condition is '%s when EXPR crosses 0' (for A = B write '%s when "
                   "A - B crosses 0')", h, h, h);
        return;
    }
    if (strcmp(s->word.name, "crosses") != 0) {
        diag_error(C->d, s->word.loc, "expected 'crosses 0' after the expression of '%s when', not '%s'%s", h,
                   s->word.name, did_you_mean(C, diag_suggest(s->word.name, crosses, 1)));
        return;
    }
    double v = 0;
    if (job_const(C, s->e2, &v) && v != 0)
        diag_error(C->d, s->e2->loc, "a %s condition crosses 0, not %g (write '%s when EXPR - %g crosses 0')", h, v,
                   h, v);
    if (s->dir.name && word_in(s->dir.name, dirs, 2) < 0)
        diag_error(C->d, s->dir.loc, "unknown direction '%s' of a crossing: 'rising' (upwards through 0) or "
                   "'falling' (downwards); without one, either way%s", s->dir.name,
                   did_you_mean(C, diag_suggest(s->dir.name, dirs, 2)));
}

/* init q = grid(a, b, n) in a simulate job: n values from a to b; the
 * ensemble is every combination of the grid axes (ASSIGN_GRID). */
static int is_grid(const Expr *e)
{
    return e->kind == EX_CALL && !e->id.primes && strcmp(e->id.name, "grid") == 0;
}

static void grid_value(Checker *C, JobState *J, Assign *a)
{
    Expr *e = a->value;
    if (J->spec != settings_job(JOB_SIMULATE)) {
        diag_error(C->d, e->loc, "grid(a, b, n), a grid of starts, is only in a simulate job's 'init'%s",
                   J->spec == settings_job(JOB_COMPARE) ? " (compare's grid of states is its 'grid' setting)" : "");
        return;
    }
    if (e->nargs != 3) {
        diag_error(C->d, e->loc, "grid takes 3 arguments (from, to, points), not %d", e->nargs);
        return;
    }
    double lo = 0, hi = 0, n = 0;
    Expr *points = e->args->next->next;
    if (!(job_const(C, e->args, &lo) & job_const(C, e->args->next, &hi) & job_const(C, points, &n)))
        return;
    if (!(lo < hi))
        diag_error(C->d, e->loc, "grid(a, b, n) needs a < b (got %g and %g)", lo, hi);
    else if (n != floor(n) || n < 2 || n > 1e7)
        diag_error(C->d, points->loc, "grid points must be a whole number from 2 to 10000000 (got %g)", n);
    else {
        a->draw = ASSIGN_GRID;
        a->v = lo;
        a->v_hi = hi;
        a->v_count = n;
    }
}

/* p_q of the target given by H, for a name in init: its coordinate, or NULL. */
static Local *init_momentum_of(const JobState *J, const Assign *a)
{
    Scope *S = J->S;
    Local *c = S && S->has_H && !a->name.primes && strncmp(a->name.name, "p_", 2) == 0
                   ? map_get(&S->names, a->name.name + 2) : NULL;
    return c && c->kind == L_COORD ? c : NULL;
}

/* init p_q = ... in a simulate job of a system given by H: the start's
 * momentum instead of its velocity (lang/job_simulate.c turns it into
 * q' = dH/dp).  Returns 0 when a is not a momentum.  The first momentum
 * of the list also refuses the list's velocities. */
static int init_momentum(Checker *C, JobState *J, const Assign *a, const Assign *list)
{
    Local *c = init_momentum_of(J, a);
    if (!c)
        return 0;
    if (J->spec != settings_job(JOB_SIMULATE)) {
        diag_error(C->d, a->name.loc, "a start in momenta ('%s') is a simulate job's; %s starts from the "
                   "coordinates and velocities (%s')", a->name.name, J->where, c->name);
        return 1;
    }
    const Assign *first = list;
    while (first != a && !init_momentum_of(J, first))
        first = first->next;
    for (const Assign *b = list; b && first == a; b = b->next)
        if (b->name.primes)
            diag_error(C->d, b->name.loc, "init gives the momentum %s and the velocity %s': a start is given in "
                       "momenta or in velocities, not both", a->name.name, b->name.name);
    return 1;
}

static void check_setting(Checker *C, JobState *J, Setting *s)
{
    const SettingSpec *sp = settings_find(J->spec, s->head.name);
    int idx = sp ? (int)(sp - J->spec->specs) : -1;
    if (s->form == SET_CONT) {
        const char *name = s->head.name;
        if (sp)
            diag_error(C->d, s->loc, "'%s' takes its value without '=': write '%s <value>'", name, name);
        else if (s->list_before)
            diag_error(C->d, s->loc,
                       "'%s = ...' has no setting name; to continue the '%s' list, separate its "
                       "items with ','",
                       name, s->list_before->head.name);
        else
            diag_error(C->d, s->loc,
                       "'%s = ...' has no setting name (write e.g. 'init %s = ...' or 'param %s = ...')",
                       name, name, name);
        return;
    }
    if (!sp) {
        const char *names[MAX_SPECS];
        for (int i = 0; i < J->spec->nspecs; i++)
            names[i] = J->spec->specs[i].name;
        const char *sugg = diag_suggest(s->head.name, names, J->spec->nspecs);
        if (any_job_has(s->head.name))
            diag_error(C->d, s->head.loc, "'%s' is not a setting of %s (its settings: %s)",
                       s->head.name, J->where, job_spec_names(C, J->spec));
        else
            diag_error(C->d, s->head.loc, "unknown setting '%s' in %s%s", s->head.name, J->where,
                       sugg ? did_you_mean(C, sugg)
                            : arena_printf(C->a, " (its settings: %s)", job_spec_names(C, J->spec)));
        return;
    }
    if (J->seen[idx] && sp->kind != SK_PARAMS && sp->kind != SK_RECORD && sp->kind != SK_STOP) {
        diag_error(C->d, s->head.loc, "'%s' is given twice in %s", s->head.name, J->where);
        diag_note(C->d, J->seen[idx]->head.loc, "first given here");
        return;
    }
    J->seen[idx] = s;
    double v = 0;
    Scope *S = J->S;
    switch (sp->kind) {
    case SK_POS:
    case SK_NONNEG:
    case SK_FRACTION:
        if (!want_form(C, s, SET_EXPR, "a number") || !job_const(C, s->e1, &v))
            return;
        s->v1 = v;
        if (sp->kind == SK_POS && !(v > 0))
            diag_error(C->d, s->e1->loc, "%s must be > 0 (got %g)", s->head.name, v);
        else if (sp->kind == SK_NONNEG && !(v >= 0))
            diag_error(C->d, s->e1->loc, "%s must be >= 0 (got %g)", s->head.name, v);
        else if (sp->kind == SK_FRACTION && !(v >= 0 && v < 1))
            diag_error(C->d, s->e1->loc, "%s must be a fraction from 0 up to (not including) 1 (got %g)",
                       s->head.name, v);
        if (strcmp(s->head.name, "every") == 0)
            J->every = v;
        return;
    case SK_INT1:
    case SK_INT2:
    case SK_SEED:
        if (!want_form(C, s, SET_EXPR, "a whole number") || !job_const(C, s->e1, &v))
            return;
        s->v1 = v;
        {
            double lo = sp->kind == SK_SEED ? 0 : sp->kind == SK_INT2 ? 2 : 1;
            if (v != floor(v) || v < lo || v > 1e12)
                diag_error(C->d, s->e1->loc, "%s must be a whole number >= %g (got %g)", s->head.name,
                           lo, v);
        }
        return;
    case SK_RANGE: {
        double b = 0;
        if (!want_form(C, s, SET_RANGE, "a range, as in 'time 0 .. 20'"))
            return;
        if (job_const(C, s->e1, &v) & job_const(C, s->e2, &b)) {
            s->v1 = v;
            s->v2 = b;
            if (!(v < b))
                diag_error(C->d, s->loc, "the time range %g .. %g is empty: the start must be before the end",
                           v, b);
            else {
                J->t0 = v;
                J->t1 = b;
                J->have_range = 1;
            }
        }
        return;
    }
    case SK_FILE:
    case SK_PLOT:
        if (s->form != SET_EXPR || s->e1->kind != EX_STR) {
            diag_error(C->d, s->loc, "'%s' expects a file name in quotes, as in %s \"%s\"", s->head.name,
                       s->head.name, sp->kind == SK_PLOT ? "plot.svg" : "out.csv");
            return;
        }
        if (!s->e1->str[0]) {
            diag_error(C->d, s->e1->loc, "empty file name");
            return;
        }
        if (sp->kind == SK_PLOT) {
            const char *dot = strrchr(s->e1->str, '.');
            if (!dot || (strcmp(dot, ".svg") && strcmp(dot, ".png") && strcmp(dot, ".pdf")))
                diag_error(C->d, s->e1->loc, "plot file \"%s\": the name must end in .svg, .png or .pdf",
                           s->e1->str);
        }
        return;
    case SK_WORD:
        if (s->form != SET_EXPR) {
            diag_error(C->d, s->loc, "'%s' expects one of: %s", s->head.name,
                       word_list(C, sp->words, sp->nwords));
            return;
        }
        if (word_arg(C, s->e1, s->head.name, sp->words, sp->nwords) &&
            strcmp(s->e1->id.name, "variational") == 0 && S && S->has_accel)
            diag_error(C->d, s->e1->loc,
                       "the variational integrator needs a Lagrangian, but '%s' gives accelerations",
                       S->item->name.name);
        else if (s->e1->kind == EX_NAME && strcmp(s->e1->id.name, "variational") == 0 && S &&
                 first_constraint(S->item, 1)) {
            const Stmt *c = first_constraint(S->item, 1);
            diag_error(C->d, s->e1->loc, "the variational integrator takes constraints on the coordinates "
                       "(g(q, t) = 0), and '%s' constrains the velocities: use one of GSL's steppers",
                       S->item->name.name);
            diag_note(C->d, c->loc, "the constraint '%s' is here", c->names[0].name);
        }
        return;
    case SK_INIT:
    case SK_PARAMS:
    case SK_RECORD:
        if (s->form == SET_WHEN) { /* record when EXPR crosses 0 */
            check_stop(C, J, s);
            return;
        }
        /* fall through */
    case SK_GUESS:
    case SK_GRID:
    case SK_BOUNDS: {
        if (!want_form(C, s, SET_ASSIGNS, "a list of assignments, as in 'name = value, ...'"))
            return;
        Map seen = {0};
        for (Assign *a = s->assigns; a; a = a->next) {
            no_duplicate_assign(C, &seen, a);
            if (sp->kind != SK_GRID && sp->kind != SK_BOUNDS && a->hi) {
                diag_error(C->d, a->hi->loc, "a range is only meaningful in 'grid' and 'bounds'");
                continue;
            }
            Scope *saved = C->scope;
            switch (sp->kind) {
            case SK_INIT:
                if (!init_momentum(C, J, a, s->assigns))
                    coord_ref(C, J, a->name, 1, "init names");
                if (is_grid(a->value)) {
                    grid_value(C, J, a);
                    break;
                }
                C->scope = NULL;
                drawn_value(C, a, "an initial value");
                C->scope = saved;
                break;
            case SK_PARAMS: {
                if (S) {
                    Local *l = map_get(&S->names, a->name.name);
                    if (!l || (l->kind != L_PARAM && l->kind != L_UNKNOWN) || a->name.primes) {
                        const char **names = arena_alloc(C->a, (size_t)(S->nparams + 1) * sizeof *names);
                        for (int i = 0; i < S->nparams; i++)
                            names[i] = S->params[i]->name;
                        diag_error(C->d, a->name.loc, "'%s' is not a parameter of '%s'%s", a->name.name,
                                   S->item->name.name,
                                   S->nparams ? did_you_mean(C, diag_suggest(a->name.name, names, S->nparams))
                                              : " (it has no parameters)");
                    }
                }
                if (J->spec == settings_job(SETTINGS_DATA) || J->spec == settings_job(JOB_SIMULATE)) {
                    /* drawn per sample in a data block, per trajectory in a simulation */
                    C->scope = NULL;
                    drawn_value(C, a, J->spec == settings_job(JOB_SIMULATE) ? "a parameter of a simulation"
                                                                            : "a parameter of the data");
                    C->scope = saved;
                } else if (job_const(C, a->value, &v))
                    a->v = v;
                break;
            }
            case SK_RECORD:
                if (a->name.primes) {
                    diag_error(C->d, a->name.loc, "a record column name cannot have a prime");
                    break;
                }
                if (S) {
                    static const char *const fixed[] = {"t", "E", "traj"};
                    Local *l = map_get(&S->names, a->name.name);
                    if (word_in(a->name.name, fixed, 3) >= 0 || (l && l->kind == L_COORD))
                        diag_error(C->d, a->name.loc, "record '%s' would clash with a default output column",
                                   a->name.name);
                    C->scope = S;
                    int before = C->d->errors;
                    resolve(C, a->value, CX_RECORD);
                    single_outputs(C, a->value);
                    if (C->d->errors == before)
                        units_check_expr(C->d, C->a, S->item, a->value);
                    C->scope = saved;
                }
                break;
            case SK_GUESS:
                /* A starting shape: an expression in the domain variable
                 * (solve, infer) or in time (action); in infer also an
                 * unknown scalar's starting value (a constant). */
                if (S && J->job->job == JOB_INFER) {
                    Local *l = map_get(&S->names, a->name.name);
                    if (l && l->kind == L_UNKNOWN && !a->name.primes) {
                        if (job_const(C, a->value, &v))
                            a->v = v;
                        break;
                    }
                    if (l && (l->kind == L_UNKNOWN_FN || ((l->kind == L_NET || l->kind == L_LET) && S->nnets > 0)) &&
                        !a->name.primes && strcmp(s->head.name, "exact") == 0) {
                        C->scope = S;
                        resolve(C, a->value, CX_GUESS);
                        C->scope = saved;
                        break;
                    }
                }
                if (!S || !coord_ref(C, J, a->name, 0, arena_printf(C->a, "'%s' names", s->head.name)))
                    break;
                C->scope = S;
                resolve(C, a->value, CX_GUESS);
                C->scope = saved;
                break;
            case SK_BOUNDS: {
                Local *l = S ? map_get(&S->names, a->name.name) : NULL;
                if (S && (!l || l->kind != L_UNKNOWN || a->name.primes))
                    diag_error(C->d, a->name.loc, "'bounds' names '%s', which is not an unknown scalar of '%s'",
                               a->name.name, S->item->name.name);
                double lo = 0, hi = 0;
                if (!a->hi || a->count) {
                    diag_error(C->d, a->loc, "a bound is 'name = low .. high', as in 'GM = 0 .. 10'");
                    break;
                }
                if (job_const(C, a->value, &lo) & job_const(C, a->hi, &hi)) {
                    a->v = lo;
                    a->v_hi = hi;
                    if (!(lo < hi))
                        diag_error(C->d, a->loc, "the bounds %g .. %g are empty", lo, hi);
                }
                break;
            }
            case SK_GRID: {
                coord_ref(C, J, a->name, 1, "grid names");
                int axis = 0;
                for (const Assign *b = s->assigns; b != a; b = b->next)
                    axis++;
                if (axis == 2)
                    diag_error(C->d, a->loc, "a grid has one or two axes (maps are drawn over at most two)");
                double lo = 0, hi = 0, n = 0;
                if (!a->hi || !a->count) {
                    diag_error(C->d, a->loc, "a grid axis is 'name = low .. high : points', as in 't1 = -pi .. pi : 101'");
                    break;
                }
                if (job_const(C, a->value, &lo) & job_const(C, a->hi, &hi) & job_const(C, a->count, &n)) {
                    a->v = lo;
                    a->v_hi = hi;
                    a->v_count = n;
                    if (!(lo < hi))
                        diag_error(C->d, a->loc, "the grid range %g .. %g is empty", lo, hi);
                    if (n != floor(n) || n < 2 || n > 1e6)
                        diag_error(C->d, a->count->loc, "grid points must be a whole number from 2 to 1000000 (got %g)", n);
                }
                break;
            }
            default:
                break;
            }
        }
        return;
    }
    case SK_AT: {
        if (!want_form(C, s, SET_AT, "a time and states, as in 'from 0: q = 0.1'"))
            return;
        if (job_const(C, s->e1, &v)) {
            int k = strcmp(s->head.name, "from") == 0 ? 0 : 1;
            s->v1 = v;
            J->at[k] = v;
            J->have_at[k] = 1;
        }
        Map seen = {0};
        int given = 0;
        for (Assign *a = s->assigns; a; a = a->next) {
            no_duplicate_assign(C, &seen, a);
            given += coord_ref(C, J, a->name, 0, arena_printf(C->a, "'%s' names", s->head.name)) != NULL;
            if (a->hi)
                diag_error(C->d, a->hi->loc, "a range is only meaningful in 'grid'");
            if (job_const(C, a->value, &v))
                a->v = v;
        }
        /* A boundary-value problem fixes every coordinate at both ends. */
        for (int k = 0; S && k < S->ncoords && given == (int)seen.len; k++)
            if (!map_get(&seen, S->coords[k]->name))
                diag_error(C->d, s->loc, "'%s' must give every coordinate of '%s'; '%s' is missing",
                           s->head.name, S->item->name.name, S->coords[k]->name);
        return;
    }
    case SK_DATA: {
        if (s->form == SET_EXPR && s->e1->kind == EX_STR) {
            if (!s->e1->str[0])
                diag_error(C->d, s->e1->loc, "empty file name");
            return;
        }
        if (s->form != SET_BLOCK || strcmp(s->word.name, "from") != 0) {
            diag_error(C->d, s->loc, "'data' expects a CSV file (data \"file.csv\") or a system (data from System { ... })");
            return;
        }
        Global *g = global(C, s->target.name);
        JobState D = {0};
        D.job = J->job;
        D.spec = settings_job(SETTINGS_DATA);
        D.where = arena_printf(C->a, "'data from %s'", s->target.name);
        if (!g || g->kind != G_SYSTEM) {
            int n;
            const char **keys = map_keys(C->a, &C->globals, &n);
            diag_error(C->d, s->target.loc, "%s", !g ? arena_printf(C->a, "unknown system '%s'%s", s->target.name,
                                                         did_you_mean(C, diag_suggest(s->target.name, keys, n)))
                                                   : arena_printf(C->a, "'%s' is not a system", s->target.name));
        } else {
            D.S = g->scope;
            const Stmt *cons = first_constraint(g->scope->item, 0);
            if (cons) {
                diag_error(C->d, s->target.loc, "system '%s' has constraints: training data are drawn at "
                           "random states, which are not on them; simulate it and train on its output file",
                           s->target.name);
                diag_note(C->d, cons->loc, "its constraint '%s' is here", cons->names[0].name);
            }
            if (J->S && D.S == J->S && D.S->nnets)
                diag_error(C->d, s->target.loc,
                           "the data come from '%s', the model being trained; name the reference "
                           "system that generates them",
                           s->target.name);
        }
        check_settings(C, &D, s->sub);
        return;
    }
    case SK_LOSS:
        if (s->form == SET_EXPR && s->e1->kind == EX_NAME && !s->e1->id.primes &&
            (strcmp(s->e1->id.name, "accel") == 0 || strcmp(s->e1->id.name, "action") == 0)) {
            if (s->e1->id.name[1] == 'c' && S && S->has_accel)
                diag_error(C->d, s->e1->loc, "'loss action' needs a Lagrangian, but '%s' gives accelerations",
                           S->item->name.name);
            return;
        }
        if (s->form == SET_WORD && strcmp(s->word.name, "accel") == 0 && s->e1->kind == EX_NAME &&
            (strcmp(s->e1->id.name, "l1") == 0 || strcmp(s->e1->id.name, "mse") == 0))
            return;
        diag_error(C->d, s->loc, "'loss' expects accel, accel l1, accel mse or action");
        return;
    case SK_PENALTY:
        check_penalty(C, J, s);
        return;
    case SK_STOP:
        check_stop(C, J, s);
        return;
    case SK_SYSEXPR:
        if (!want_form(C, s, SET_EXPR, arena_printf(C->a, "an expression, as in '%s 1 + x^2'", s->head.name)) || !S)
            return;
        {
            Scope *saved = C->scope;
            C->scope = S;
            Val r = resolve(C, s->e1, CX_SYSTEM);
            C->scope = saved;
            const Expr *net = r.bad ? NULL : net_call_in(s->e1);
            if (net)
                diag_error(C->d, net->loc, "'%s' cannot call the net '%s': it would change with the weights being "
                           "trained", s->head.name, net->id.name);
        }
        return;
    case SK_CHECKPOINT:
        if (s->form != SET_WORD || strcmp(s->word.name, "every") != 0 || s->e1->kind != EX_NUM) {
            diag_error(C->d, s->loc, "'checkpoint' expects 'every N' (steps)");
            return;
        }
        v = s->v1 = s->e1->num;
        if (v != floor(v) || v < 1)
            diag_error(C->d, s->e1->loc, "checkpoint every N needs a whole number N >= 1 (got %g)", v);
        return;
    }
}

/* What a simulate job's settings say together: a grid of starts sets the
 * number of trajectories; events come from 'stop when', which the
 * variational integrator's fixed steps do not locate. */
static void check_simulate(Checker *C, const Setting *list)
{
    const Setting *init = settings_get(list, "init"), *samples = settings_get(list, "samples");
    double size = 1;
    const char *dims = "";
    int axes = 0;
    for (const Assign *a = init && init->form == SET_ASSIGNS ? init->assigns : NULL; a; a = a->next)
        if (a->draw == ASSIGN_GRID) {
            size *= a->v_count;
            dims = arena_printf(C->a, "%s%s%g", dims, axes++ ? " x " : "", a->v_count);
        }
    if (axes && samples && samples->form == SET_EXPR && samples->v1 != size)
        diag_error(C->d, samples->e1->loc, "samples %g contradicts the grid of starts in 'init' (%s%s%g "
                   "trajectories): leave 'samples' out", samples->v1, axes > 1 ? dims : "", axes > 1 ? " = " : "",
                   size);
    const Setting *stop = settings_get(list, "stop"), *events = settings_get(list, "events"),
                  *method = settings_get(list, "method");
    for (const Setting *s = list; s; s = s->next)
        if (s->form == SET_WHEN && strcmp(s->head.name, "record") == 0 && (!stop || s->loc.first_line <
                                                                           stop->loc.first_line)) {
            stop = s; /* the first condition written, of either kind */
            break;
        }
    if (events && !stop)
        diag_error(C->d, events->loc, "'events' writes the events of 'stop when' or 'record when EXPR crosses 0', "
                   "and this job has none");
    if (stop && method && method->form == SET_EXPR && method->e1->kind == EX_NAME &&
        strcmp(method->e1->id.name, "variational") == 0)
        diag_error(C->d, stop->loc, "'%s when' needs one of GSL's steppers: the variational integrator's fixed "
                   "steps locate no events (use e.g. method rk8pd)", stop->head.name);
}

/* 'record when' in a compare job: not with the variational integrator. */
static void check_compare_events(Checker *C, const Setting *list)
{
    const Setting *rec = settings_get(list, "record"), *method = settings_get(list, "method");
    if (rec && method && method->form == SET_EXPR && method->e1->kind == EX_NAME &&
        strcmp(method->e1->id.name, "variational") == 0)
        diag_error(C->d, rec->loc, "'record when' needs one of GSL's steppers: the variational integrator's fixed "
                   "steps locate no events (use e.g. method rk8pd)");
}

static void check_settings(Checker *C, JobState *J, Setting *list)
{
    for (Setting *s = list; s; s = s->next)
        check_setting(C, J, s);
    if (J->spec == settings_job(JOB_SIMULATE))
        check_simulate(C, list);
    if (J->spec == settings_job(JOB_COMPARE))
        check_compare_events(C, list);
    const Setting *to = settings_get(list, "to"), *every = settings_get(list, "every");
    if (J->have_at[0] && J->have_at[1] && !(J->at[0] < J->at[1]) && to)
        diag_error(C->d, to->e1->loc, "the end time %g must be after the start time %g", J->at[1], J->at[0]);
    if (J->have_range && J->every > 0 && J->every > J->t1 - J->t0 && every && every->form == SET_EXPR)
        diag_error(C->d, every->e1->loc, "every %g is longer than the time range %g .. %g", J->every, J->t0,
                   J->t1);
}

/* How a required setting is written, for messages. */
static const char *required_example(const char *name)
{
    static const struct {
        const char *name, *example;
    } examples[] = {
        {"time", "time 0 .. 10"}, {"data", "data from System { ... }' or 'data \"file.csv\""},
        {"from", "from 0: q = 0"}, {"to", "to 1: q = 1"}, {"observe", "observe \"shape.csv\""},
    };
    for (size_t k = 0; k < sizeof examples / sizeof examples[0]; k++)
        if (strcmp(examples[k].name, name) == 0)
            return examples[k].example;
    return name;
}

static void check_job(Checker *C, Item *it)
{
    JobState J = {0};
    C->broken = it->broken;
    J.job = it;
    J.spec = settings_job(it->job);
    J.where = ast_job_name(it->job);
    int need_problem = it->job == JOB_SOLVE || it->job == JOB_INFER;
    if (it->job == JOB_COMPARE ? it->ntargets < 2 : it->ntargets != 1) {
        diag_error(C->d, it->loc, it->job == JOB_COMPARE
                                      ? "compare needs a reference system and at least one model: compare A, B { ... }"
                                      : "%s names one %s", J.where, need_problem ? "problem" : "system");
    }
    for (int i = 0; i < it->ntargets; i++) {
        Ident id = it->targets[i];
        Global *g = global(C, id.name);
        const char *want = need_problem ? "problem" : "system";
        if (!g || (g->kind != G_SYSTEM && g->kind != G_PROBLEM)) {
            int n, m = 0;
            const char **keys = map_keys(C->a, &C->globals, &n);
            for (int k = 0; k < n; k++) {
                Global *h = global(C, keys[k]);
                if (h->kind == (need_problem ? G_PROBLEM : G_SYSTEM))
                    keys[m++] = keys[k];
            }
            diag_error(C->d, id.loc, "%s %s '%s'%s", g ? "not a" : "unknown", want, id.name,
                       did_you_mean(C, diag_suggest(id.name, keys, m)));
            continue;
        }
        if ((g->kind == G_PROBLEM) != need_problem) {
            diag_error(C->d, id.loc, "'%s' is a %s; %s needs a %s", id.name,
                       g->kind == G_PROBLEM ? "problem" : "system", J.where, want);
            continue;
        }
        if (!g->scope)
            continue;
        for (int k = 0; k < i; k++)
            if (strcmp(it->targets[k].name, id.name) == 0)
                diag_error(C->d, id.loc, "'%s' is compared with itself", id.name);
        if (i == 0)
            J.S = g->scope;
        if (it->job == JOB_TRAIN && g->scope->nnets == 0 && g->scope->nunknowns == 0)
            diag_error(C->d, id.loc, "system '%s' has no net (and no unknown) to train", id.name);
        else if (it->job == JOB_TRAIN && g->scope->nnets == 0) {
            const Setting *ls = settings_get(it->settings, "loss");
            if (!ls || ls->form != SET_EXPR || ls->e1->kind != EX_NAME || strcmp(ls->e1->id.name, "action") != 0)
                diag_error(C->d, id.loc, "system '%s' has unknowns but no net: its unknowns are fitted with 'loss "
                           "action' (from positions), the only loss that fits unknowns yet", id.name);
        }
        if (it->job == JOB_INFER && g->scope->nunknowns == 0 && g->scope->nnets == 0)
            diag_error(C->d, id.loc, "problem '%s' has no unknown (and no net) to infer", id.name);
        if (it->job == JOB_ACTION && g->scope->has_accel)
            diag_error(C->d, id.loc, "system '%s' is given by accelerations and has no action", id.name);
        const Stmt *cons = it->job != JOB_SIMULATE && it->job != JOB_ACTION ? first_constraint(g->scope->item, 0)
                                                                            : NULL;
        if (cons) {
            diag_error(C->d, id.loc, "system '%s' has constraints: %s takes systems without them yet "
                       "(simulate, action and lag el take them)", id.name, J.where);
            diag_note(C->d, cons->loc, "its constraint '%s' is here", cons->names[0].name);
        }
        if (i > 0 && J.S && g->scope->ncoords != J.S->ncoords)
            diag_error(C->d, id.loc, "'%s' has %d coordinates but the reference '%s' has %d", id.name,
                       g->scope->ncoords, J.S->item->name.name, J.S->ncoords);
        else if (i > 0 && J.S)
            for (int k = 0; k < J.S->ncoords; k++)
                if (strcmp(g->scope->coords[k]->name, J.S->coords[k]->name) != 0) {
                    diag_error(C->d, id.loc,
                               "the coordinates of '%s' must be those of the reference '%s' "
                               "(coordinate %d is '%s', not '%s')",
                               id.name, J.S->item->name.name, k + 1, g->scope->coords[k]->name,
                               J.S->coords[k]->name);
                    break;
                }
    }
    check_settings(C, &J, it->settings);
    if (it->broken)
        return;

    /* Required settings. */
    for (int k = 0; k < J.spec->nspecs; k++) {
        const SettingSpec *sp = &J.spec->specs[k];
        if (sp->required && !J.seen[k])
            diag_error(C->d, it->loc, "%s needs '%s' (as in '%s')", J.where, sp->name, required_example(sp->name));
    }
}

/* ---------- the pass ---------- */

int check_program(Diag *d, Arena *a, Item *const *files, const char *const *dirs, int nfiles)
{
    Checker C = {0};
    C.d = d;
    C.a = a;
    C.dirs = dirs;
    int before = d->errors;

    /* Globals, in load order; consts are evaluated as they are defined. */
    for (int f = 0; f < nfiles; f++) {
        for (Item *it = files[f]; it; it = it->next) {
            switch (it->kind) {
            case IT_CONST:
                define_global(&C, G_CONST, it->name.name, it->name.loc, it, NULL);
                if (it->name.primes)
                    diag_error(d, it->name.loc, "a const name cannot have a prime");
                break;
            case IT_SYSTEM:
                define_global(&C, G_SYSTEM, it->name.name, it->name.loc, it, NULL);
                break;
            case IT_PROBLEM:
                define_global(&C, G_PROBLEM, it->name.name, it->name.loc, it, NULL);
                break;
            case IT_EXTERN:
                check_extern(&C, it, dirs ? dirs[f] : NULL);
                break;
            default:
                break;
            }
            if (d->gave_up)
                return d->errors - before;
        }
    }
    /* Consts in order: each may use the ones before it. */
    for (int f = 0; f < nfiles; f++)
        for (Item *it = files[f]; it && !d->gave_up; it = it->next) {
            Global *g = it->kind == IT_CONST ? global(&C, it->name.name) : NULL;
            if (g && g->item == it) {
                g->state = 1;
                g->state = const_value(&C, it->value, &g->value) ? 2 : 3;
            }
        }
    for (int f = 0; f < nfiles; f++)
        for (Item *it = files[f]; it && !d->gave_up; it = it->next)
            if (it->kind == IT_SYSTEM || it->kind == IT_PROBLEM)
                check_body(&C, it);
    for (int f = 0; f < nfiles; f++)
        for (Item *it = files[f]; it && !d->gave_up; it = it->next)
            if (it->kind == IT_JOB)
                check_job(&C, it);
    return d->errors - before;
}
