/*
 * lang/mech.c — the Euler–Lagrange equations of a system (see mech.h).
 *
 * With p = ∂L/∂q', the equations d/dt p = ∂L/∂q + Q − ∂D/∂q' expand, by the
 * chain rule, into M q'' = f with
 *     M_ij = ∂p_i/∂q'_j,
 *     f_i  = ∂L/∂q_i − Σ_j (∂p_i/∂q_j) q'_j − ∂p_i/∂t + Q_i − ∂D/∂q'_i.
 */
#include "lang/mech.h"

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "lang/hamilton.h"
#include "runtime/input.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/weights.h"

/* A let's value, built on first use in each mode (expanded at the top
 * level, unexpanded inside function arguments). */
typedef struct LetValue {
    const Stmt *stmt;
    SymId value[2];
} LetValue;

/* A net's layers once built: its tensors in the symbolic core. */
typedef struct NetLayers {
    const Stmt *decl;
    int nlayers;  /* weight matrices: hidden layers + 1 */
    int *w, *b;   /* tensor ids of each layer's weights and biases */
    SymAct act;
} NetLayers;

typedef struct Tr {
    Sym *S;
    Diag *d;
    Mech *m;
    LetValue *lets;
    int nlets;
    int errors;
    NetLayers *nets;
    int nnets;
    int allow_nets;
    int io_errors; /* weights files that cannot be read (exit status 4) */
    Problem *prob; /* translating a problem's interval terms, or NULL */
} Tr;

static SymId tr(Tr *T, const Expr *e);
static SymId tr_extern(Tr *T, const Expr *e);
static SymId tr_func(Tr *T, const ProbFunc *f, SymId x);
static void sym_generators(Tr *T, const Stmt *s);
static void sym_invariance(Mech *m, MechSym *y);
static SymId tr_net_vector(Tr *T, const Expr *e);
static int constraints(Tr *T);

/* A let's value: for `let a, b = net(...)` the net's output vector. */
static SymId let_expr(Tr *T, const Stmt *s)
{
    return s->nnames > 1 ? tr_net_vector(T, s->value) : tr(T, s->value);
}

static SymId let_value(Tr *T, const Stmt *s)
{
    int mode = T->S->no_expand > 0;
    for (int i = 0; i < T->nlets; i++)
        if (T->lets[i].stmt == s) {
            if (!T->lets[i].value[mode])
                T->lets[i].value[mode] = let_expr(T, s);
            return T->lets[i].value[mode];
        }
    return 0;
}

/* A field (or an action's coordinate) on an interval of the variational
 * engine: the midpoint value, or with a prime the slope. */
static SymId on_interval(Tr *T, const Expr *e)
{
    Sym *S = T->S;
    const Problem *P = T->prob;
    SymId u = sym_var(S, P->u[e->index]), w = sym_var(S, P->w[e->index]);
    return e->id.primes ? sym_div(S, sym_sub(S, w, u), sym_var(S, P->h))
                        : sym_mul2(S, sym_num(S, 0.5), sym_add2(S, u, w));
}

/* The accelerations' variables q'' (records), made on first use. */
static const int *accel_vars(Mech *m)
{
    Sym *S = m->S;
    if (!m->a) {
        m->a = arena_alloc(S->arena, (size_t)m->n * sizeof *m->a);
        for (int i = 0; i < m->n; i++)
            m->a[i] = sym_add_var(S, arena_printf(S->arena, "%s''", m->names[i]), m->names[i], SV_COORD, i, 2, 0);
    }
    return m->a;
}

/* The total time derivative of v, an expression of the coordinates,
 * velocities and t: sum_i dv/dq_i q_i' + dv/dq_i' q_i'' + dv/dt, in one
 * forward sweep (the accelerations only when v has velocities: the
 * checker allows that in records alone). */
static SymId time_deriv(Mech *m, SymId v)
{
    Sym *S = m->S;
    const int n = m->n;
    int *vars = mem_xalloc((size_t)(2 * n + 1) * sizeof *vars);
    SymId *dirs = mem_xalloc((size_t)(2 * n + 1) * sizeof *dirs);
    int moving = 0;
    for (int i = 0; i < n; i++)
        moving |= sym_depends(S, v, m->v[i], -1);
    for (int i = 0; i < n; i++) {
        vars[i] = m->q[i];
        dirs[i] = sym_var(S, m->v[i]);
        vars[n + i] = m->v[i];
        dirs[n + i] = moving ? sym_var(S, accel_vars(m)[i]) : S->zero;
    }
    vars[2 * n] = m->t;
    dirs[2 * n] = S->one;
    SymId r = sym_jvp(S, v, vars, dirs, 2 * n + 1);
    mem_free(vars);
    mem_free(dirs);
    return r;
}

/* The components of a vector value (a SYM_VEC node, or the zero vector):
 * its length, 0 for a number. */
static int vdim(Sym *S, SymId v)
{
    return (int)sym_node(S, v)->len;
}

/* The time derivative of a number or, component by component, of a vector. */
static SymId rate_of(Mech *m, SymId v)
{
    Sym *S = m->S;
    int n = vdim(S, v);
    if (!n)
        return time_deriv(m, v);
    SymId c[3];
    for (int i = 0; i < n && i < 3; i++)
        c[i] = time_deriv(m, sym_comp(S, v, i));
    return sym_vec(S, c, n);
}

/* An arithmetic operation on numbers, or on vectors component by
 * component (u + v, u - v, s*u, u*s, u/s, -u; the checker allows no other). */
static SymId arith(Sym *S, ExprKind k, SymId a, SymId b)
{
    int n = vdim(S, a) ? vdim(S, a) : b ? vdim(S, b) : 0;
    if (!n) {
        switch (k) {
        case EX_NEG: return sym_neg(S, a);
        case EX_ADD: return sym_add2(S, a, b);
        case EX_SUB: return sym_sub(S, a, b);
        case EX_MUL: return sym_mul2(S, a, b);
        case EX_DIV: return sym_div(S, a, b);
        default: return sym_pow(S, a, b);
        }
    }
    SymId c[3];
    for (int i = 0; i < n && i < 3; i++) {
        SymId x = vdim(S, a) ? sym_comp(S, a, i) : a;
        SymId y = b ? (vdim(S, b) ? sym_comp(S, b, i) : b) : 0;
        c[i] = arith(S, k, x, y);
    }
    return sym_vec(S, c, n);
}

/* dot(u, v), and cross(u, v): a vector in 3-D, u.x v.y - u.y v.x in 2-D. */
static SymId vdot(Sym *S, SymId u, SymId v)
{
    SymId t[3];
    int n = vdim(S, u);
    for (int i = 0; i < n && i < 3; i++)
        t[i] = sym_mul2(S, sym_comp(S, u, i), sym_comp(S, v, i));
    return sym_add(S, t, n);
}

static SymId vcross(Sym *S, SymId u, SymId v)
{
    SymId a[3], b[3], c[3];
    int n = vdim(S, u);
    for (int i = 0; i < n && i < 3; i++) {
        a[i] = sym_comp(S, u, i);
        b[i] = sym_comp(S, v, i);
    }
    if (n == 2)
        return sym_sub(S, sym_mul2(S, a[0], b[1]), sym_mul2(S, a[1], b[0]));
    for (int i = 0; i < 3; i++) {
        int j = (i + 1) % 3, k = (i + 2) % 3;
        c[i] = sym_sub(S, sym_mul2(S, a[j], b[k]), sym_mul2(S, a[k], b[j]));
    }
    return sym_vec(S, c, 3);
}

/* The time derivative (primes of them) of e: the let a primed name
 * refers to, or the operand of (e)'.  Built in the system's own
 * variables; on an action's interval (T->prob) the coordinates, velocities
 * and t are then replaced by the interval's midpoint, slope and midpoint
 * time, as everywhere else in the action's term. */
/* v, an expression of a system's q, q' and t, on an action's interval:
 * q the midpoint (u + w)/2 of the nodes' values, q' the slope (w - u)/h,
 * t the midpoint. */
static SymId interval_form(const Problem *P, SymId v)
{
    const Mech *m = &P->m;
    Sym *S = m->S;
    SymId *with = mem_xalloc((size_t)S->nvars * sizeof *with);
    memset(with, 0, (size_t)S->nvars * sizeof *with);
    for (int i = 0; i < m->n; i++) {
        SymId u = sym_var(S, P->u[i]), w = sym_var(S, P->w[i]);
        with[m->q[i]] = sym_mul2(S, sym_num(S, 0.5), sym_add2(S, u, w));
        with[m->v[i]] = sym_div(S, sym_sub(S, w, u), sym_var(S, P->h));
    }
    with[m->t] = sym_var(S, P->x);
    v = sym_replace(S, v, with);
    mem_free(with);
    return v;
}

static SymId tr_rate(Tr *T, const Expr *e, int primes)
{
    Sym *S = T->S;
    Mech *m = T->m;
    Tr C = *T;
    if (T->prob) {
        C.prob = NULL;
        C.lets = m->lets;
        C.nlets = m->nlets;
    }
    SymId v;
    if (e->kind == EX_NAME) {
        const Stmt *let = e->decl;
        v = let_value(&C, let);
        if (v && let->nnames > 1)
            v = sym_comp(S, v, e->index);
    } else if (e->kind == EX_COMP) {
        v = tr(&C, e->a);
        v = vdim(S, v) > e->index ? sym_comp(S, v, e->index) : 0;
    } else
        v = tr(&C, e->a);
    T->errors = C.errors;
    T->nets = C.nets;
    T->nnets = C.nnets;
    T->io_errors = C.io_errors;
    if (!v)
        return S->zero;
    for (int k = 0; k < primes; k++)
        v = rate_of(m, v);
    return T->prob ? interval_form(T->prob, v) : v;
}

/* A force on coordinate i in a unit (SI value times the scale: the force
 * on the coordinate in its unit), or its acceleration (the SI value over
 * the scale: in the coordinate's unit per s^2). */
static SymId coord_scaled(Sym *S, const Item *sys, int i, SymId v, int divide)
{
    for (const Stmt *s = sys->stmts; s; s = s->next)
        if (s->kind == ST_COORD && i-- == 0)
            return !s->unit || !(s->unit_scale > 0) || s->unit_scale == 1 ? v
                   : divide ? sym_div(S, v, sym_num(S, s->unit_scale)) : sym_mul2(S, sym_num(S, s->unit_scale), v);
    return v;
}

/* A quantity declared with a unit enters the equations in coherent SI:
 * its variable (in the declared unit) times the unit's scale (units.c). */
static SymId in_si(Sym *S, const void *decl, SymId v)
{
    const Stmt *s = decl;
    return s && s->unit && s->unit_scale > 0 && s->unit_scale != 1 ? sym_mul2(S, sym_num(S, s->unit_scale), v) : v;
}

static SymId tr_name(Tr *T, const Expr *e)
{
    Sym *S = T->S;
    Mech *m = T->m;
    switch (e->ref) {
    case REF_PARAM:
        return in_si(S, e->decl, sym_var(S, m->par[e->index]));
    case REF_COORD:
        if (T->prob && e->id.primes < 2) /* the action's interval term */
            return in_si(S, e->decl, on_interval(T, e));
        if (e->id.primes == 2)
            return in_si(S, e->decl, sym_var(S, accel_vars(m)[e->index]));
        return in_si(S, e->decl, sym_var(S, e->id.primes ? m->v[e->index] : m->q[e->index]));
    case REF_TIME:
        return sym_var(S, T->prob ? T->prob->x : m->t);
    case REF_MOMENTUM:
        if (m->pv && !T->prob)
            return sym_var(S, m->pv[e->index]);
        break;
    case REF_PI:
        return sym_num(S, 3.14159265358979323846);
    case REF_E:
        return sym_num(S, 2.71828182845904523536);
    case REF_CONST:
        return tr(T, ((const Item *)e->decl)->value);
    case REF_LET: {
        if (e->id.primes)
            return tr_rate(T, e, e->id.primes);
        SymId v = let_value(T, e->decl);
        if (v)
            return ((const Stmt *)e->decl)->nnames > 1 ? sym_comp(S, v, e->index) : v;
        break;
    }
    case REF_FIELD:
        if (T->prob)
            return on_interval(T, e);
        break;
    case REF_DOMAIN:
        if (T->prob)
            return sym_var(S, T->prob->x);
        break;
    case REF_UNKNOWN:
        if (T->prob) /* solve: an unknown scalar keeps its given value (infer fits it) */
            return sym_var(S, m->par[T->prob->nparams + e->index]);
        if (m->nunknowns) /* a system's: a parameter train fits */
            return in_si(S, e->decl, sym_var(S, m->par[m->np - m->nunknowns + e->index]));
        break;
    default:
        break;
    }
    diag_error(T->d, e->loc, "'%s' cannot be used in the equations of motion here", e->id.name);
    T->errors++;
    return S->zero;
}

/* The arguments of a call, built unexpanded (sums stay sums inside a
 * function, for accuracy).  Returns their number (at most max). */
static int call_args(Tr *T, const Expr *e, SymId *args, int max)
{
    int n = 0;
    T->S->no_expand++;
    for (const Expr *a = e->args; a && n < max; a = a->next)
        args[n++] = tr(T, a);
    T->S->no_expand--;
    return n;
}

/* An extern function: its symbol (and its grad functions') from the library,
 * opened once for the process (a library path with a '/' is relative to
 * the .lag file that names it). */
static int extern_index(Tr *T, const ExternFn *f, const char *name, const Expr *at)
{
    Sym *S = T->S;
    const char *lib = f->lib;
    if (strchr(lib, '/')) /* a bare name is dlopen's to search */
        lib = diag_beside(T->d, T->S->arena, lib, at->loc);
    void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    void *fn = h ? dlsym(h, name) : NULL;
    if (!fn) {
        diag_error(T->d, at->loc, "cannot load '%s' from '%s'", name, f->lib);
        T->errors++;
    }
    return sym_add_extern(S, name, f->nparams, fn);
}

static SymId tr_extern(Tr *T, const Expr *e)
{
    Sym *S = T->S;
    const ExternFn *f = e->decl;
    int k = extern_index(T, f, f->name.name, e);
    if (f->grads && !S->externs[k].grad) {
        int *g = mem_xalloc((size_t)f->ngrads * sizeof *g);
        for (int i = 0; i < f->ngrads; i++)
            g[i] = extern_index(T, f, f->grads[i].name, e);
        S->externs[k].grad = g;
    }
    SymId args[16];
    int n = call_args(T, e, args, 16);
    return sym_ext(S, k, args, n, 0);
}

/* An input F(arg): data as the extern "F" whose derivatives are the
 * externs "F'", "F''", ... (each one's grad the next: the interpolant's own
 * derivatives); an expression input as its value with t replaced by arg. */
static SymId tr_input(Tr *T, const Expr *e)
{
    Sym *S = T->S;
    Mech *m = T->m;
    const Stmt *in = e->decl;
    SymId arg = tr(T, e->args);
    if (!in->input) {
        SymId v = tr(T, in->value);
        SymId *with = mem_xalloc((size_t)S->nvars * sizeof *with);
        memset(with, 0, (size_t)S->nvars * sizeof *with);
        with[T->prob ? T->prob->x : m->t] = arg; /* t, or an action's midpoint time */
        v = sym_replace(S, v, with);
        mem_free(with);
        return v;
    }
    const InputFn *fns = in->input;
    int k[5];
    for (int order = 0; order < 5; order++)
        k[order] = sym_add_input(S, arena_printf(S->arena, "%s%.*s", in->names[0].name, order, "''''"), &fns[order]);
    for (int order = 0; order < 5; order++)
        if (!S->externs[k[order]].grad) {
            int *g = mem_xalloc(sizeof *g); /* sym_free frees it */
            *g = k[order < 4 ? order + 1 : 4]; /* the fourth derivative is 0, and so is its own */
            S->externs[k[order]].grad = g;
        }
    return sym_ext(S, k[0], &arg, 1, 0);
}

double mech_const_value(const Expr *e)
{
    switch (e->kind) {
    case EX_NUM: return e->num;
    case EX_NAME:
        if (e->ref == REF_PI)
            return 3.14159265358979323846;
        if (e->ref == REF_E)
            return 2.71828182845904523536;
        if (e->ref == REF_CONST)
            return mech_const_value(((const Item *)e->decl)->value);
        return NAN;
    case EX_NEG: return -mech_const_value(e->a);
    case EX_ADD: return mech_const_value(e->a) + mech_const_value(e->b);
    case EX_SUB: return mech_const_value(e->a) - mech_const_value(e->b);
    case EX_MUL: return mech_const_value(e->a) * mech_const_value(e->b);
    case EX_DIV: return mech_const_value(e->a) / mech_const_value(e->b);
    case EX_POW: return pow(mech_const_value(e->a), mech_const_value(e->b));
    case EX_CALL: {
        int fn = sym_fn_by_name(e->id.name);
        if (fn < 0)
            return NAN;
        double a = mech_const_value(e->args), b = e->nargs > 1 ? mech_const_value(e->args->next) : 0;
        return sym_fn_eval((SymFn)fn, a, b);
    }
    default: return NAN;
    }
}

static const Expr *net_arg(const Stmt *s, const char *key)
{
    for (const NetArg *a = s->netargs; a; a = a->next)
        if (strcmp(a->key.name, key) == 0)
            return a->value;
    return NULL;
}

/* The seed of a net's initial weights: from its name, so a file gives the
 * same network on every run and on every machine (FNV-1a). */
static unsigned long net_seed(const char *name)
{
    uint64_t h = io_fnv1a(name, strlen(name), IO_FNV_INIT);
    return (unsigned long)(h ^ (h >> 32));
}

/* Replace a net's initial weights by those of its weights file: tensors
 * W1, b1, W2, b2, ... with the net's shapes, or NAME.W1, NAME.b1, ... (a
 * file `train` saved, which may hold several nets).  A file that cannot be
 * read is an I/O error; one that does not fit the net is an error in the
 * input. */
static void load_weights(Tr *T, NetLayers *N, const Expr *wfile)
{
    Sym *S = T->S;
    const char *path = wfile->str;
    path = diag_beside(T->d, T->S->arena, path, wfile->loc);
    WeightsTensor *w;
    int n, bits;
    char err[1024];
    if (weights_read_bits(path, &w, &n, &bits, err, sizeof err) != 0) {
        diag_error(T->d, wfile->loc, "%s", err);
        T->errors++;
        T->io_errors++;
        return;
    }
    T->m->single_weights |= bits == 32;
    const char *net = N->decl->names[0].name;
    const size_t nl = strlen(net);
    /* the net's own tensors when the file names them, else the file's */
    int first = -1, count = 0;
    for (int k = 0; k < n; k++)
        if (strncmp(w[k].name, net, nl) == 0 && w[k].name[nl] == '.') {
            if (first < 0)
                first = k;
            count++;
        }
    int prefixed = first >= 0;
    if (!prefixed) {
        first = 0;
        count = n;
    }
    if (count != 2 * N->nlayers) {
        diag_error(T->d, wfile->loc, "'%s' holds %d tensors%s%s; net '%s' has %d layers, so %d (W1, b1, ...)",
                   wfile->str, count, prefixed ? " of " : "", prefixed ? net : "", net, N->nlayers,
                   2 * N->nlayers);
        T->errors++;
    }
    for (int k = 0; k < count && k < 2 * N->nlayers; k++) {
        const WeightsTensor *x = &w[first + k];
        const SymTensor *st = &S->tensors[k % 2 ? N->b[k / 2] : N->w[k / 2]];
        const char *have = prefixed ? x->name + nl + 1 : x->name;
        char want[32];
        snprintf(want, sizeof want, "%c%d", k % 2 ? 'b' : 'W', k / 2 + 1);
        if (strcmp(have, want) != 0 || x->rows != st->rows || x->cols != st->cols) {
            diag_error(T->d, wfile->loc, "'%s': tensor %d is %s (%dx%d); net '%s' needs %s (%dx%d)",
                       wfile->str, first + k + 1, x->name, x->rows, x->cols, net, want, st->rows, st->cols);
            T->errors++;
            break;
        }
        memcpy(st->data, x->data, (size_t)st->rows * (size_t)st->cols * sizeof(double));
    }
    weights_free(w, n);
}

void mech_trained_set(MechTrained **list, const Item *sys, const char *name, int rows, int cols,
                      const double *data, int bits)
{
    MechTrained *t = *list;
    while (t && !(t->sys == sys && strcmp(t->name, name) == 0))
        t = t->next;
    if (!t) {
        t = mem_xalloc(sizeof *t);
        size_t len = strlen(name) + 1;
        t->sys = sys;
        t->name = mem_xalloc(len);
        memcpy(t->name, name, len);
        t->data = NULL;
        t->next = *list;
        *list = t;
    } else if (t->rows * t->cols != rows * cols) {
        mem_free(t->data);
        t->data = NULL;
    }
    if (!t->data)
        t->data = mem_xalloc((size_t)rows * (size_t)cols * sizeof *t->data);
    t->rows = rows;
    t->cols = cols;
    t->bits = bits;
    memcpy(t->data, data, (size_t)rows * (size_t)cols * sizeof *t->data);
}

void mech_trained_free(MechTrained *list)
{
    while (list) {
        MechTrained *next = list->next;
        mem_free(list->name);
        mem_free(list->data);
        mem_free(list);
        list = next;
    }
}

/* Weights trained earlier in the run for this system's tensor replace its
 * initial ones (and a weights file's).  A trained tensor of another shape
 * is an error, never skipped. */
static void use_trained(Tr *T, const Stmt *decl, int tensor)
{
    SymTensor *st = &T->S->tensors[tensor];
    for (const MechTrained *t = T->m->trained; t; t = t->next) {
        if (t->sys != T->m->sys || strcmp(t->name, st->name) != 0)
            continue;
        if (t->rows != st->rows || t->cols != st->cols) {
            diag_error(T->d, decl->loc, "'%s' was trained as %d x %d earlier in this run but is %d x %d here",
                       st->name, t->rows, t->cols, st->rows, st->cols);
            T->errors++;
            return;
        }
        memcpy(st->data, t->data, (size_t)t->rows * (size_t)t->cols * sizeof *t->data);
        T->m->single_weights |= t->bits == 32;
    }
}

/* Build the tensors of an mlp net (checked) and initialise them.
 *   lnn:    Cranmer et al., "Lagrangian Neural Networks" (2020), appendix:
 *           biases 0; weights normal, sigma = 2.2/sqrt(n) in the first
 *           layer, 0.58 i/sqrt(n) in hidden layer i (i = 1, 2, ...), and
 *           sqrt(n) in the output layer, n = max(fan in, fan out).
 *   xavier: Glorot and Bengio (2010): biases 0; weights uniform in
 *           [-a, a], a = sqrt(6/(fan in + fan out)). */
static NetLayers *net_layers(Tr *T, const Stmt *decl)
{
    for (int i = 0; i < T->nnets; i++)
        if (T->nets[i].decl == decl)
            return &T->nets[i];
    Sym *S = T->S;
    NetLayers *grown = arena_alloc(S->arena, (size_t)(T->nnets + 1) * sizeof *grown);
    if (T->nnets)
        memcpy(grown, T->nets, (size_t)T->nnets * sizeof *grown);
    T->nets = grown;
    NetLayers *N = &T->nets[T->nnets++];
    const Expr *hidden = net_arg(decl, "hidden"), *act = net_arg(decl, "activation"),
               *init = net_arg(decl, "init"), *out = net_arg(decl, "out");
    int nh = hidden ? hidden->nargs : 0;
    int *width = arena_alloc(S->arena, (size_t)(nh + 2) * sizeof *width);
    width[0] = (int)mech_const_value(net_arg(decl, "in"));
    int k = 1;
    for (const Expr *w = hidden ? hidden->args : NULL; w; w = w->next)
        width[k++] = (int)mech_const_value(w);
    width[k] = out ? (int)mech_const_value(out) : 1;
    N->decl = decl;
    N->nlayers = nh + 1;
    N->w = arena_alloc(S->arena, (size_t)N->nlayers * sizeof *N->w);
    N->b = arena_alloc(S->arena, (size_t)N->nlayers * sizeof *N->b);
    N->act = ACT_SOFTPLUS;
    for (int a = 0; act && a < ACT_COUNT; a++)
        if (strcmp(act->id.name, sym_act_name((SymAct)a)) == 0)
            N->act = (SymAct)a;
    int xavier = !init || strcmp(init->id.name, "xavier") == 0; /* xavier by default: docs/learning.md */
    /* GSL allocates outside runtime/mem.h: mem_fault lets fault injection reach it */
    gsl_rng *rng = mem_fault() ? NULL : gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng)
        mem_out_of_memory(0);
    gsl_rng_set(rng, net_seed(decl->names[0].name));
    const char *name = decl->names[0].name;
    for (int l = 0; l < N->nlayers; l++) {
        int fan_in = width[l], fan_out = width[l + 1];
        N->w[l] = sym_add_tensor(S, arena_printf(S->arena, "%s.W%d", name, l + 1), fan_out, fan_in);
        N->b[l] = sym_add_tensor(S, arena_printf(S->arena, "%s.b%d", name, l + 1), fan_out, 1);
        double *w = arena_alloc(S->arena, (size_t)fan_out * (size_t)fan_in * sizeof *w);
        double *b = arena_alloc(S->arena, (size_t)fan_out * sizeof *b);
        double n = fan_in > fan_out ? fan_in : fan_out;
        double sigma = l == 0 ? 2.2 / sqrt(n) : l == N->nlayers - 1 ? sqrt(n) : 0.58 * l / sqrt(n);
        double lim = sqrt(6.0 / (fan_in + fan_out));
        for (size_t i = 0; i < (size_t)fan_out * (size_t)fan_in; i++)
            w[i] = xavier ? gsl_ran_flat(rng, -lim, lim) : gsl_ran_gaussian(rng, sigma);
        for (int i = 0; i < fan_out; i++)
            b[i] = 0;
        S->tensors[N->w[l]].data = w;
        S->tensors[N->b[l]].data = b;
    }
    gsl_rng_free(rng);
    const Expr *wfile = net_arg(decl, "weights");
    if (wfile)
        load_weights(T, N, wfile);
    for (int l = 0; l < N->nlayers; l++) {
        use_trained(T, decl, N->w[l]);
        use_trained(T, decl, N->b[l]);
    }
    return N;
}

/* A net's output vector at the input vector h. */
static SymId net_output(Sym *S, const NetLayers *N, SymId h)
{
    for (int l = 0; l < N->nlayers; l++) {
        h = sym_vadd(S, sym_matvec(S, N->w[l], h), sym_vparam(S, N->b[l]));
        if (l < N->nlayers - 1)
            h = sym_act(S, N->act, 0, h);
    }
    return h;
}

/* A call of a net: its layers as vector nodes (a network is a handful of
 * nodes, whatever its width).  Returns the output vector. */
static SymId tr_net_vector(Tr *T, const Expr *e)
{
    Sym *S = T->S;
    NetLayers *N = net_layers(T, e->decl);
    SymId args[4096];
    int n = call_args(T, e, args, 4096);
    return net_output(S, N, sym_vec(S, args, n));
}

/* Whether an expression calls a net (uses a tensor). */
static int uses_net(const Sym *S, SymId id)
{
    const SymNode *x = &S->nodes[id];
    if (x->op == SYM_VPARAM || x->op == SYM_MATVEC || x->op == SYM_MATTVEC)
        return 1;
    for (int i = 0; i < x->n; i++)
        if (uses_net(S, x->args[i]))
            return 1;
    return 0;
}

int mech_net_curves(Problem *P, const char **names, SymId *values, int max)
{
    Mech *m = &P->m;
    Sym *S = m->S;
    const LetValue *lets = m->lets;
    int n = 0;
    for (int i = 0; i < m->nlets && n < max; i++) {
        if (lets[i].stmt->nnames != 1)
            continue;
        SymId v = lets[i].value[0];
        int field = 0;
        for (int f = 0; f < m->n && !field; f++)
            field = sym_depends(S, v, P->u[f], -1) || sym_depends(S, v, P->w[f], -1);
        if (field || !uses_net(S, v))
            continue;
        names[n] = lets[i].stmt->names[0].name;
        values[n++] = v;
    }
    for (int k = 0; k < m->nnets && n == 0; k++) {
        int in, out;
        const char *name = mech_net_info(m, k, &in, &out);
        if (in != 1 || out != 1 || n == max)
            continue;
        SymId xs = sym_var(S, P->x);
        names[n] = name;
        values[n++] = mech_net_apply(m, k, &xs, 0);
    }
    return n;
}

const char *mech_net_info(const Mech *m, int k, int *in, int *out)
{
    const NetLayers *N = &((const NetLayers *)m->nets)[k];
    *in = m->S->tensors[N->w[0]].cols;
    *out = m->S->tensors[N->w[N->nlayers - 1]].rows;
    return N->decl->names[0].name;
}

SymId mech_net_apply(Mech *m, int k, const SymId *args, int o)
{
    Sym *S = m->S;
    const NetLayers *N = &((const NetLayers *)m->nets)[k];
    return sym_comp(S, net_output(S, N, sym_vec(S, args, S->tensors[N->w[0]].cols)), o);
}

static SymId tr(Tr *T, const Expr *e)
{
    Sym *S = T->S;
    switch (e->kind) {
    case EX_NUM:
        return sym_num(S, e->num);
    case EX_NAME:
        return tr_name(T, e);
    case EX_NEG:
        return arith(S, EX_NEG, tr(T, e->a), 0);
    case EX_PRIME:
        return tr_rate(T, e, e->id.primes);
    case EX_COMP: {
        if (e->id.primes)
            return tr_rate(T, e, e->id.primes);
        SymId v = tr(T, e->a);
        return vdim(S, v) > e->index ? sym_comp(S, v, e->index) : S->zero;
    }
    case EX_ADD:
    case EX_SUB:
    case EX_MUL:
    case EX_DIV:
    case EX_POW: {
        if (e->kind == EX_POW && e->a->kind == EX_CALL && e->a->ref == REF_VECFN && e->a->index == 4 &&
            e->b->kind == EX_NUM && fmod(e->b->num, 2) == 0) {
            /* norm(u)^2k = dot(u, u)^k, exactly (a sum of squares is not negative) */
            SymId u = tr(T, e->a->args);
            return sym_powi(S, vdot(S, u, u), e->b->num / 2);
        }
        /* the right operand first: the order the nodes are made in (which the IR's
         * instruction order follows) is the one the golden files record */
        SymId b = tr(T, e->b);
        return arith(S, e->kind, tr(T, e->a), b);
    }
    case EX_CALL: {
        if (e->ref == REF_VECFN) {
            SymId v[3] = {0, 0, 0};
            int n = 0;
            for (const Expr *a = e->args; a && n < 3; a = a->next)
                v[n++] = tr(T, a);
            switch (e->index) {
            case 1: return sym_vec(S, v, n);
            case 2: return vdot(S, v[0], v[1]);
            case 3: return vcross(S, v[0], v[1]);
            default: {
                SymId d = vdot(S, v[0], v[0]);
                return sym_fn(S, FN_SQRT, d, 0);
            }
            }
        }
        if (e->ref == REF_EXTERN)
            return tr_extern(T, e);
        if (e->ref == REF_INPUT)
            return tr_input(T, e);
        if (e->ref == REF_INTEGRAL && T->prob)
            return sym_mul2(S, sym_var(S, T->prob->h), tr(T, e->args));
        if (e->ref == REF_UNKNOWN_FN) {
            for (int k = 0; T->prob && k < T->prob->nfuncs; k++)
                if (T->prob->funcs[k].stmt == e->decl)
                    return tr_func(T, &T->prob->funcs[k], tr(T, e->args));
            diag_error(T->d, e->loc, "'%s' is an unknown function: infer fits it; solve needs it given",
                       e->id.name);
            T->errors++;
            return S->zero;
        }
        if (e->ref == REF_NET && T->allow_nets)
            return sym_comp(S, tr_net_vector(T, e), 0);
        int fn = e->ref == REF_BUILTIN ? sym_fn_by_name(e->id.name) : -1;
        if (fn < 0) {
            diag_error(T->d, e->loc,
                       "'%s' is a learned net: its equations are evaluated numerically, not "
                       "derived symbolically",
                       e->id.name);
            T->errors++;
            return S->zero;
        }
        SymId ab[2] = {0, 0}; /* built-ins take one or two arguments (checked) */
        call_args(T, e, ab, 2);
        return sym_fn(S, (SymFn)fn, ab[0], ab[1]);
    }
    default:
        break;
    }
    diag_error(T->d, e->loc, "this expression has no numeric value");
    T->errors++;
    return S->zero;
}

SymId mech_expr(Mech *m, Diag *d, const Expr *e)
{
    Tr T = {m->S, d, m, m->lets, m->nlets, 0, m->nets, m->nnets, m->allow_nets, 0, NULL};
    SymId r = tr(&T, e);
    m->nets = T.nets; /* a record may call a net L does not */
    m->nnets = T.nnets;
    if (m->psub && !T.errors) /* a momentum p_q: dL/dq' of the equivalent Lagrangian */
        r = sym_replace(m->S, r, m->psub);
    return T.errors ? 0 : r;
}

static void *alloc(Sym *S, size_t n, size_t size)
{
    return arena_alloc(S->arena, (n ? n : 1) * size);
}

/* The determinant of the k x k matrix A (row stride w), by expansion along
 * the first row: exact, and small for the sizes it is used for (k <= 4). */
static SymId det_sym(Sym *S, const SymId *A, int k, int w)
{
    if (k == 1)
        return A[0];
    SymId *minor = mem_xalloc((size_t)((k - 1) * (k - 1)) * sizeof *minor);
    SymId *terms = mem_xalloc((size_t)k * sizeof *terms);
    int nt = 0;
    for (int j = 0; j < k; j++) {
        if (A[j] == S->zero)
            continue;
        for (int r = 1; r < k; r++)
            for (int c = 0, cc = 0; c < k; c++)
                if (c != j)
                    minor[(r - 1) * (k - 1) + cc++] = A[r * w + c];
        SymId t = sym_mul2(S, A[j], det_sym(S, minor, k - 1, k - 1));
        terms[nt++] = j % 2 ? sym_neg(S, t) : t;
    }
    SymId d = sym_add(S, terms, nt);
    mem_free(terms);
    mem_free(minor);
    return d;
}

/* A constant M that depends on parameters (n <= 4): Cramer's rule, with the
 * parameters common to the determinant's terms cancelled. */
static void symbolic_inverse(Mech *m)
{
    Sym *S = m->S;
    int n = m->n;
    if (n > 4)
        return; /* the runtime solves M q'' = f */
    SymId det = det_sym(S, m->M, n, n);
    if (det == S->zero) {
        m->singular = 1;
        return;
    }
    SymId rest, content = sym_param_content(S, det, &rest);
    SymId inv = sym_mul2(S, sym_powi(S, content, -1), sym_powi(S, rest, -1));
    SymId *A = alloc(S, (size_t)(n * n), sizeof *A);
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
                A[r * n + c] = c == i ? m->f[r] : m->M[r * n + c];
        m->acc[i] = sym_mul2(S, det_sym(S, A, n, n), inv);
    }
    m->accel = MECH_ACCEL_SYMBOLIC;
}

/* Closed-form accelerations: M diagonal, or n <= 2, or M constant (a numeric
 * M is inverted here by Gauss–Jordan with partial pivoting, a symbolic one
 * by symbolic_inverse). */
static void closed_form(Mech *m)
{
    Sym *S = m->S;
    int n = m->n;
    m->acc = alloc(S, (size_t)n, sizeof *m->acc);
    if (m->m_diagonal) {
        for (int i = 0; i < n; i++)
            if (m->M[i * n + i] == S->zero) {
                m->singular = 1;
                return;
            }
        for (int i = 0; i < n; i++)
            m->acc[i] = sym_div(S, m->f[i], m->M[i * n + i]);
        m->accel = MECH_ACCEL_SYMBOLIC;
        return;
    }
    if (n == 2) {
        SymId *M = m->M, *f = m->f;
        SymId det = sym_sub(S, sym_mul2(S, M[0], M[3]), sym_mul2(S, M[1], M[2]));
        if (det == S->zero) {
            m->singular = 1; /* det M = 0 for every state: no accelerations */
            return;
        }
        /* det = content * rest: the parameters in content cancel */
        SymId rest, content = sym_param_content(S, det, &rest);
        SymId inv = sym_mul2(S, sym_powi(S, content, -1), sym_powi(S, rest, -1));
        m->acc[0] = sym_mul2(S, sym_sub(S, sym_mul2(S, M[3], f[0]), sym_mul2(S, M[1], f[1])), inv);
        m->acc[1] = sym_mul2(S, sym_sub(S, sym_mul2(S, M[0], f[1]), sym_mul2(S, M[2], f[0])), inv);
        m->accel = MECH_ACCEL_SYMBOLIC;
        return;
    }
    double *a = alloc(S, (size_t)(n * 2 * n), sizeof *a);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (!sym_is_num(S, m->M[i * n + j], &a[i * 2 * n + j])) {
                symbolic_inverse(m); /* constant in parameters */
                return;
            }
            a[i * 2 * n + n + j] = i == j;
        }
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if ((a[r * 2 * n + c] < 0 ? -a[r * 2 * n + c] : a[r * 2 * n + c]) >
                (a[piv * 2 * n + c] < 0 ? -a[piv * 2 * n + c] : a[piv * 2 * n + c]))
                piv = r;
        if (a[piv * 2 * n + c] == 0)
            return; /* singular: reported when simulating */
        for (int j = 0; j < 2 * n; j++) {
            double tmp = a[c * 2 * n + j];
            a[c * 2 * n + j] = a[piv * 2 * n + j];
            a[piv * 2 * n + j] = tmp;
        }
        double d = a[c * 2 * n + c];
        for (int j = 0; j < 2 * n; j++)
            a[c * 2 * n + j] /= d;
        for (int r = 0; r < n; r++) {
            if (r == c || a[r * 2 * n + c] == 0)
                continue;
            double k = a[r * 2 * n + c];
            for (int j = 0; j < 2 * n; j++)
                a[r * 2 * n + j] -= k * a[c * 2 * n + j];
        }
    }
    for (int i = 0; i < n; i++) {
        SymId terms[n];
        for (int j = 0; j < n; j++)
            terms[j] = sym_mul2(S, sym_num(S, a[i * 2 * n + n + j]), m->f[j]);
        m->acc[i] = sym_add(S, terms, n);
    }
    m->accel = MECH_ACCEL_SYMBOLIC;
}

/* ---------- constraints ---------- */

/* Each constraint's velocity form, its row of A and the rest of its time
 * derivative.  A holonomic g(q, t) (no velocity in it) has C = dg/dt; a
 * velocity constraint must be linear in the velocities (A free of them). */
static int constraints(Tr *T)
{
    Mech *m = T->m;
    Sym *S = m->S;
    const int n = m->n;
    int *vars = alloc(S, (size_t)(n + 1), sizeof *vars);
    SymId *dirs = alloc(S, (size_t)(n + 1), sizeof *dirs);
    for (int i = 0; i < n; i++) {
        vars[i] = m->q[i];
        dirs[i] = sym_var(S, m->v[i]);
    }
    vars[n] = m->t;
    dirs[n] = S->one;
    for (int k = 0; k < m->ncons; k++) {
        MechCons *c = &m->cons[k];
        const Expr *at = c->stmt->value;
        int moving = 0, coords = 0;
        if (m->psub) /* given by H: a momentum p_q is dL/dq' of its Lagrangian */
            c->C = sym_replace(S, c->C, m->psub);
        for (int i = 0; i < n; i++)
            moving |= sym_depends(S, c->C, m->v[i], -1);
        if (!moving) {
            c->g = c->C;
            c->C = sym_jvp(S, c->g, vars, dirs, n + 1);
        } else
            m->nonholonomic++;
        c->A = alloc(S, (size_t)n, sizeof *c->A);
        for (int i = 0; i < n; i++) {
            c->A[i] = sym_diff(S, c->C, m->v[i]);
            coords |= c->A[i] != S->zero;
            for (int j = 0; j < n && moving; j++)
                if (sym_diff(S, c->A[i], m->v[j]) != S->zero) {
                    diag_error(T->d, at->loc, "the constraint '%s' is not linear in the velocities (its "
                               "coefficient of %s depends on %s): a constraint is g(q, t) = 0 or "
                               "a(q, t).q' + b(q, t) = 0", c->name, S->vars[m->v[i]].name,
                               S->vars[m->v[j]].name);
                    T->errors++;
                    return -1;
                }
        }
        if (!coords) {
            diag_error(T->d, at->loc, "the constraint '%s' does not involve the %s of '%s'", c->name,
                       moving ? "velocities" : "coordinates", m->sys->name.name);
            T->errors++;
            return -1;
        }
        /* dC/dt = A q'' + sum_i dC/dq_i q'_i + dC/dt (A free of q') */
        c->rest = sym_jvp(S, c->C, vars, dirs, n + 1);
    }
    return 0;
}

void mech_augmented(Mech *m, SymId *Ma, SymId *fa)
{
    Sym *S = m->S;
    const int n = m->n, N = n + m->ncons;
    const double a = m->baumgarte;
    for (int i = 0; i < N * N; i++)
        Ma[i] = S->zero;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            Ma[i * N + j] = m->M[i * n + j];
        fa[i] = m->f[i];
    }
    for (int k = 0; k < m->ncons; k++) {
        const MechCons *c = &m->cons[k];
        for (int i = 0; i < n; i++) {
            Ma[i * N + n + k] = sym_neg(S, c->A[i]);
            Ma[(n + k) * N + i] = c->A[i];
        }
        SymId terms[3] = {c->rest, S->zero, S->zero};
        if (a > 0) {
            terms[1] = sym_mul2(S, sym_num(S, 2 * a), c->C);
            if (c->g)
                terms[2] = sym_mul2(S, sym_num(S, a * a), c->g);
        }
        fa[n + k] = sym_neg(S, sym_add(S, terms, 3));
    }
}

const SymId *mech_multipliers(Mech *m)
{
    if (m->lambda || !m->ncons)
        return m->lambda;
    Sym *S = m->S;
    const int n = m->n, k = m->ncons;
    const int *a = accel_vars(m);
    SymId *r = alloc(S, (size_t)n, sizeof *r), *G = alloc(S, (size_t)(k * k), sizeof *G);
    SymId *y = alloc(S, (size_t)k, sizeof *y), *terms = alloc(S, (size_t)(n + 1), sizeof *terms);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            terms[j] = sym_mul2(S, m->M[i * n + j], sym_var(S, a[j]));
        terms[n] = sym_neg(S, m->f[i]);
        r[i] = sym_add(S, terms, n + 1); /* M q'' - f = A^T lambda */
    }
    for (int p = 0; p < k; p++) {
        for (int i = 0; i < n; i++)
            terms[i] = sym_mul2(S, m->cons[p].A[i], r[i]);
        y[p] = sym_add(S, terms, n);
        for (int q = 0; q < k; q++) {
            for (int i = 0; i < n; i++)
                terms[i] = sym_mul2(S, m->cons[p].A[i], m->cons[q].A[i]);
            G[p * k + q] = sym_add(S, terms, n);
        }
    }
    /* A A^T lambda = A (M q'' - f): A A^T is symmetric positive definite
     * when the constraints are independent, so elimination needs no
     * pivoting */
    for (int c = 0; c < k; c++)
        for (int r2 = c + 1; r2 < k; r2++) {
            if (G[r2 * k + c] == S->zero)
                continue;
            SymId f = sym_div(S, G[r2 * k + c], G[c * k + c]);
            for (int j = c; j < k; j++)
                G[r2 * k + j] = sym_sub(S, G[r2 * k + j], sym_mul2(S, f, G[c * k + j]));
            y[r2] = sym_sub(S, y[r2], sym_mul2(S, f, y[c]));
        }
    m->lambda = alloc(S, (size_t)k, sizeof *m->lambda);
    for (int c = k - 1; c >= 0; c--) {
        SymId acc = y[c];
        for (int j = c + 1; j < k; j++)
            acc = sym_sub(S, acc, sym_mul2(S, G[c * k + j], m->lambda[j]));
        m->lambda[c] = sym_div(S, acc, G[c * k + c]);
    }
    return m->lambda;
}

/* The statement H = ... of a system given by its Hamiltonian, or NULL. */
static const Stmt *hamiltonian_stmt(const Item *sys)
{
    for (const Stmt *s = sys->stmts; s; s = s->next)
        if (s->kind == ST_ASSIGN && strcmp(s->names[0].name, "H") == 0)
            return s;
    return NULL;
}

/* A system given by H, once p = dL/dq' of its equivalent Lagrangian is
 * known: the momenta p_q its force and dissipation use become those
 * expressions of q and q' (and records' too, in mech_expr; a symmetry's
 * generator may not use them, sym_generators). */
static void hamiltonian_momenta(Mech *m)
{
    Sym *S = m->S;
    m->psub = alloc(S, (size_t)S->nvars, sizeof *m->psub);
    memset(m->psub, 0, (size_t)S->nvars * sizeof *m->psub);
    for (int i = 0; i < m->n; i++)
        m->psub[m->pv[i]] = m->p[i];
    m->D = sym_replace(S, m->D, m->psub);
    for (int i = 0; i < m->n; i++)
        m->Q[i] = sym_replace(S, m->Q[i], m->psub);
}

int mech_build(Mech *m, Sym *S, Diag *d, const Item *sys, int flags)
{
    return mech_build_trained(m, S, d, sys, flags, NULL);
}

int mech_build_trained(Mech *m, Sym *S, Diag *d, const Item *sys, int flags, const MechTrained *trained)
{
    memset(m, 0, sizeof *m);
    m->trained = trained;
    m->S = S;
    m->sys = sys;
    Tr T = {S, d, m, NULL, 0, 0, NULL, 0, (flags & MECH_NETS) != 0, 0, NULL};
    int nlets = 0;
    for (const Stmt *s = sys->stmts; s; s = s->next) {
        m->n += s->kind == ST_COORD;
        m->np += s->kind == ST_PARAM || s->kind == ST_UNKNOWN;
        m->nunknowns += s->kind == ST_UNKNOWN;
        nlets += s->kind == ST_LET;
        m->ncons += s->kind == ST_CONSTRAIN;
    }
    int n = m->n;
    m->cons = alloc(S, (size_t)m->ncons, sizeof *m->cons);
    int icons = 0;
    m->q = alloc(S, (size_t)n, sizeof *m->q);
    m->v = alloc(S, (size_t)n, sizeof *m->v);
    m->names = alloc(S, (size_t)n, sizeof *m->names);
    m->par = alloc(S, (size_t)m->np, sizeof *m->par);
    T.lets = alloc(S, (size_t)nlets, sizeof *T.lets);

    /* Variables: parameters with their default values, time, coordinates
     * and velocities. */
    int ip = 0, iq = 0;
    double *values = alloc(S, (size_t)m->np, sizeof *values);
    m->par_default = alloc(S, (size_t)m->np, sizeof *m->par_default);
    for (const Stmt *s = sys->stmts; s; s = s->next) {
        if (s->kind == ST_COORD) {
            const char *name = s->names[0].name;
            m->names[iq] = name;
            m->q[iq] = sym_add_var(S, name, name, SV_COORD, iq, 0, 0);
            m->v[iq] = sym_add_var(S, arena_printf(S->arena, "%s'", name), name, SV_COORD, iq, 1, 0);
            iq++;
        }
    }
    m->t = sym_add_var(S, "t", "t", SV_TIME, 0, 0, 0);
    const Stmt *Hs = hamiltonian_stmt(sys);
    if (Hs) { /* the momenta, H's variables beside the coordinates */
        m->pv = alloc(S, (size_t)n, sizeof *m->pv);
        for (int i = 0; i < n; i++) {
            const char *name = arena_printf(S->arena, "p_%s", m->names[i]);
            m->pv[i] = sym_add_var(S, name, name, SV_OTHER, i, 0, 0);
        }
    }
    /* the parameters, then the unknown scalars (parameters train fits) */
    for (int pass = 0; pass < 2; pass++)
        for (const Stmt *s = sys->stmts; s; s = s->next) {
            if (s->kind != (pass == 0 ? ST_PARAM : ST_UNKNOWN))
                continue;
            m->par[ip] = sym_add_var(S, s->names[0].name, s->names[0].name, SV_PARAM, ip, 0, 0);
            ip++;
        }
    /* Default values: each a constant of earlier parameters. */
    ip = 0;
    for (int pass = 0; pass < 2; pass++)
        for (const Stmt *s = sys->stmts; s; s = s->next) {
            if (s->kind != (pass == 0 ? ST_PARAM : ST_UNKNOWN))
                continue;
            if (!s->value) { /* symbolic: the job's value (lang/run.c checks there is one) */
                values[ip] = NAN;
                m->par_default[ip] = 0;
                S->vars[m->par[ip]].value = NAN;
                ip++;
                continue;
            }
            SymId e = tr(&T, s->value);
            if (s->unit_si && s->unit_scale > 0) /* a quantity in SI, to the declared unit */
                e = sym_div(S, e, sym_num(S, s->unit_scale));
            double *x = alloc(S, (size_t)S->nvars, sizeof *x);
            for (int k = 0; k < ip; k++)
                x[m->par[k]] = values[k];
            values[ip] = sym_eval(S, e, x);
            m->par_default[ip] = e;
            S->vars[m->par[ip]].value = values[ip];
            ip++;
        }

    m->D = S->zero;
    m->Q = alloc(S, (size_t)n, sizeof *m->Q);
    for (int i = 0; i < n; i++)
        m->Q[i] = S->zero;
    for (const Stmt *s = sys->stmts; s; s = s->next) {
        switch (s->kind) {
        case ST_LET:
            if (s->nnames == 1 || T.allow_nets) {
                T.lets[T.nlets].stmt = s;
                T.lets[T.nlets++].value[0] = let_expr(&T, s);
            } else {
                diag_error(d, s->loc, "a destructuring let binds the outputs of a net, which are "
                                      "evaluated numerically, not derived symbolically");
                T.errors++;
            }
            break;
        case ST_ASSIGN:
            if (s == Hs)
                m->H = tr(&T, s->value);
            else
                m->L = tr(&T, s->value);
            break;
        case ST_DISSIPATION:
            m->D = sym_add2(S, m->D, tr(&T, s->value));
            break;
        case ST_FORCE:
            for (int i = 0; i < n; i++)
                if (strcmp(m->names[i], s->names[0].name) == 0)
                    m->Q[i] = sym_add2(S, m->Q[i], coord_scaled(S, sys, i, tr(&T, s->value), 0)); /* forces add */
            break;
        case ST_SYMMETRY:
            sym_generators(&T, s);
            for (int i = 0; i < n && !s->swap; i++) /* a generator is in SI: to each coordinate's unit */
                m->syms[m->nsyms - 1].dq[i] = coord_scaled(S, sys, i, m->syms[m->nsyms - 1].dq[i], 1);
            break;
        case ST_CONSTRAIN: {
            MechCons *c = &m->cons[icons++];
            c->name = s->names[0].name;
            c->stmt = s;
            c->C = sym_sub(S, tr(&T, s->value), tr(&T, s->at)); /* made its velocity form below */
            break;
        }
        case ST_ACCEL: {
            m->given_accel = 1;
            m->acc = alloc(S, (size_t)n, sizeof *m->acc);
            int k = 0;
            for (const Expr *e = s->exprs; e; e = e->next, k++)
                for (int i = 0; i < n; i++)
                    if (strcmp(m->names[i], s->names[k].name) == 0)
                        m->acc[i] = coord_scaled(S, sys, i, tr(&T, e), 1);
            m->accel = MECH_ACCEL_SYMBOLIC;
            break;
        }
        default:
            break;
        }
    }
    m->lets = T.lets;
    m->nlets = T.nlets;
    m->learned = T.nnets > 0;
    m->nets = T.nets;
    m->nnets = T.nnets;
    m->allow_nets = T.allow_nets;
    m->io_errors = T.io_errors;
    if (T.errors)
        return T.errors;
    if (m->given_accel)
        return 0; /* no symmetry: the checker refuses one without L */
    if (Hs && ham_to_lagrangian(m, d, Hs) != 0)
        return 1;

    /* Momenta, mass matrix, right-hand side. */
    m->p = alloc(S, (size_t)n, sizeof *m->p);
    m->M = alloc(S, (size_t)(n * n), sizeof *m->M);
    m->f = alloc(S, (size_t)n, sizeof *m->f);
    m->cyclic = alloc(S, (size_t)n, sizeof *m->cyclic);
    SymId *dLdq = alloc(S, (size_t)n, sizeof *dLdq);
    if (m->learned) {
        /* through a network: one reverse sweep gives every dL/dq' and dL/dq
         * (sharing the backward pass); M and the mixed block are then
         * forward derivatives of it (forward-over-reverse) */
        int *vars = alloc(S, (size_t)(2 * n), sizeof *vars);
        SymId *g = alloc(S, (size_t)(2 * n), sizeof *g);
        for (int i = 0; i < n; i++) {
            vars[i] = m->v[i];
            vars[n + i] = m->q[i];
        }
        sym_grad(S, m->L, vars, 2 * n, g);
        for (int i = 0; i < n; i++) {
            m->p[i] = g[i];
            dLdq[i] = g[n + i];
        }
    } else
        for (int i = 0; i < n; i++) {
            m->p[i] = sym_diff(S, m->L, m->v[i]);
            dLdq[i] = sym_diff(S, m->L, m->q[i]);
        }
    if (m->pv)
        hamiltonian_momenta(m);
    /* M and (dp/dq) q'.  Through a network they are second derivatives of
     * L along n + 1 directions (each velocity, and q' in the coordinates):
     * one forward tangent pass per direction and the adjoints of the
     * reverse sweep (sym_hess_forms), not a reverse pass per direction. */
    SymId *mixed = alloc(S, (size_t)n, sizeof *mixed);
    if (m->learned) {
        int nd = n + 1, npairs = n * (n + 1) / 2 + n, k = 0;
        int *vars = alloc(S, (size_t)(2 * n), sizeof *vars);
        SymId *dirs = alloc(S, (size_t)(nd * 2 * n), sizeof *dirs);
        int *pairs = alloc(S, (size_t)(2 * npairs), sizeof *pairs);
        SymId *forms = alloc(S, (size_t)npairs, sizeof *forms);
        for (int i = 0; i < n; i++) {
            vars[i] = m->v[i];
            vars[n + i] = m->q[i];
        }
        for (int dd = 0; dd < nd; dd++)
            for (int j = 0; j < 2 * n; j++)
                dirs[dd * 2 * n + j] = dd < n ? (j == dd ? S->one : S->zero)
                                              : (j >= n ? sym_var(S, m->v[j - n]) : S->zero);
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) {
                pairs[2 * k] = i;
                pairs[2 * k++ + 1] = j;
            }
        for (int i = 0; i < n; i++) {
            pairs[2 * k] = i;
            pairs[2 * k++ + 1] = n;
        }
        sym_hess_forms(S, m->L, vars, 2 * n, dirs, nd, pairs, npairs, forms);
        k = 0;
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++, k++)
                m->M[i * n + j] = m->M[j * n + i] = forms[k];
        for (int i = 0; i < n; i++)
            mixed[i] = forms[k++];
    } else
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                m->M[i * n + j] = sym_diff(S, m->p[i], m->v[j]);
    m->m_constant = m->m_diagonal = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            SymId mij = m->M[i * n + j];
            if (i != j && mij != S->zero)
                m->m_diagonal = 0;
            if (sym_depends(S, mij, -1, SV_COORD) || sym_depends(S, mij, -1, SV_TIME))
                m->m_constant = 0;
        }
    for (int i = 0; i < n; i++) {
        SymId *terms = alloc(S, (size_t)(n + 4), sizeof *terms);
        int k = 0;
        terms[k++] = dLdq[i];
        if (m->learned)
            terms[k++] = sym_neg(S, mixed[i]);
        else
            for (int j = 0; j < n; j++)
                terms[k++] = sym_neg(S, sym_mul2(S, sym_diff(S, m->p[i], m->q[j]), sym_var(S, m->v[j])));
        terms[k++] = sym_neg(S, sym_diff(S, m->p[i], m->t));
        terms[k++] = m->Q[i];
        terms[k++] = sym_neg(S, sym_diff(S, m->D, m->v[i]));
        m->f[i] = sym_add(S, terms, k);
    }

    if (m->ncons && constraints(&T) != 0)
        return T.errors;

    /* Energy and what is conserved. */
    SymId *terms = alloc(S, (size_t)(n + 1), sizeof *terms);
    for (int i = 0; i < n; i++)
        terms[i] = sym_mul2(S, sym_var(S, m->v[i]), m->p[i]);
    terms[n] = sym_neg(S, m->L);
    m->E = sym_add(S, terms, n + 1);
    int forced = m->D != S->zero;
    for (int i = 0; i < n; i++)
        forced |= m->Q[i] != S->zero;
    m->explicit_time = sym_depends(S, m->L, m->t, 0) || sym_depends(S, m->D, m->t, 0);
    for (int i = 0; i < n; i++)
        m->explicit_time |= sym_depends(S, m->Q[i], m->t, 0);
    m->energy_conserved = !m->explicit_time && !forced;
    for (int i = 0; i < n; i++)
        m->cyclic[i] = dLdq[i] == S->zero && m->Q[i] == S->zero &&
                       sym_diff(S, m->D, m->v[i]) == S->zero;
    for (int k = 0; k < m->ncons; k++) {
        /* a moving constraint (g depends on t) does work; a constraint's
         * force acts on every coordinate it involves */
        const MechCons *c = &m->cons[k];
        SymId *b = alloc(S, (size_t)(n + 1), sizeof *b);
        for (int i = 0; i < n; i++)
            b[i] = sym_neg(S, sym_mul2(S, c->A[i], sym_var(S, m->v[i])));
        b[n] = c->C;
        if (sym_depends(S, c->C, m->t, 0) || sym_depends(S, c->rest, m->t, 0) || sym_add(S, b, n + 1) != S->zero)
            m->energy_conserved = 0;
        for (int i = 0; i < n; i++)
            if (c->A[i] != S->zero)
                m->cyclic[i] = 0;
    }

    /* the symmetries: each one's charge and L's change under it */
    for (int k = 0; k < m->nsyms; k++) {
        MechSym *y = &m->syms[k];
        y->dL = mech_sym_change(m, m, y, m->L, m->p, &y->Q);
        sym_invariance(m, y);
    }

    /* a learned M is solved numerically, sample by sample, so a singular one
     * is caught where it happens; a constrained system solves its augmented
     * equations (mech_augmented) */
    if (m->ncons)
        return 0;
    if (!m->learned && (m->m_diagonal || n <= 2 || m->m_constant))
        closed_form(m);
    if (!m->learned && m->accel == MECH_ACCEL_NONE && !m->singular) {
        /* a coordinate whose row of M is zero off the diagonal (a rolling
         * disc's angle) has its closed form even when the others are solved
         * numerically */
        int any = 0, coupled[2], nc = 0;
        SymId *part = alloc(S, (size_t)n, sizeof *part);
        for (int i = 0; i < n; i++) {
            int alone = m->M[i * n + i] != S->zero;
            for (int j = 0; j < n && alone; j++)
                alone = j == i || m->M[i * n + j] == S->zero;
            part[i] = alone ? sym_div(S, m->f[i], m->M[i * n + i]) : 0;
            any |= alone;
            if (!alone && nc < 2)
                coupled[nc] = i;
            nc += !alone;
        }
        if (any && nc == 2) {
            /* the rest is a 2 x 2 block (M is symmetric: a decoupled row's
             * column is zero too): its closed form, as for n = 2 */
            int a = coupled[0], b = coupled[1];
            const SymId *M = m->M;
            SymId det = sym_sub(S, sym_mul2(S, M[a * n + a], M[b * n + b]), sym_mul2(S, M[a * n + b], M[b * n + a]));
            if (det != S->zero) {
                part[a] = sym_div(S, sym_sub(S, sym_mul2(S, M[b * n + b], m->f[a]), sym_mul2(S, M[a * n + b], m->f[b])),
                                  det);
                part[b] = sym_div(S, sym_sub(S, sym_mul2(S, M[a * n + a], m->f[b]), sym_mul2(S, M[b * n + a], m->f[a])),
                                  det);
                m->acc = part;
                m->accel = MECH_ACCEL_SYMBOLIC;
                any = 0;
            }
        }
        m->acc_part = any ? part : NULL;
    }
    return 0;
}

/* ---------- symmetries ---------- */

/* Collect `symmetry NAME: ...` into m->syms: the generator's expressions
 * (functions of the coordinates, parameters and t) or the exchange's
 * permutation. */
static void sym_generators(Tr *T, const Stmt *s)
{
    Mech *m = T->m;
    Sym *S = T->S;
    const int n = m->n;
    MechSym *grown = alloc(S, (size_t)(m->nsyms + 1), sizeof *grown);
    if (m->nsyms)
        memcpy(grown, m->syms, (size_t)m->nsyms * sizeof *grown);
    m->syms = grown;
    MechSym *y = &m->syms[m->nsyms++];
    memset(y, 0, sizeof *y);
    y->name = s->names[0].name;
    y->swap = s->swap;
    y->perm = alloc(S, (size_t)n, sizeof *y->perm);
    y->dq = alloc(S, (size_t)n, sizeof *y->dq);
    for (int i = 0; i < n; i++) {
        y->perm[i] = i;
        y->dq[i] = S->zero;
    }
    int *index = alloc(S, (size_t)s->nnames, sizeof *index);
    for (int k = 1; k < s->nnames; k++)
        for (int i = 0; i < n; i++)
            if (strcmp(m->names[i], s->names[k].name) == 0)
                index[k] = i;
    if (s->swap) {
        for (int k = 1; k + 1 < s->nnames; k += 2) {
            y->perm[index[k]] = index[k + 1];
            y->perm[index[k + 1]] = index[k];
        }
        return;
    }
    int k = 1;
    for (const Expr *e = s->exprs; e; e = e->next, k++) {
        y->dq[index[k]] = tr(T, e); /* of the coordinates and t (the checker refuses velocities) */
        for (int i = 0; m->pv && i < n; i++)
            if (sym_depends(S, y->dq[index[k]], m->pv[i], 0)) {
                diag_error(T->d, e->loc, "a symmetry's generator is a function of the coordinates and t, and this "
                                         "uses the momentum p_%s", m->names[i]);
                T->errors++;
                break;
            }
    }
}

SymId mech_sym_change(Mech *m, const Mech *owner, const MechSym *y, SymId L, const SymId *p, SymId *Q)
{
    Sym *S = m->S;
    const int n = m->n;
    /* the owner's variables, by position, as m's */
    SymId *with = alloc(S, (size_t)(S->nvars + 1), sizeof *with);
    memset(with, 0, (size_t)(S->nvars + 1) * sizeof *with);
    for (int i = 0; i < n && owner != m; i++) {
        with[owner->q[i]] = sym_var(S, m->q[i]);
        with[owner->v[i]] = sym_var(S, m->v[i]);
    }
    if (owner != m)
        with[owner->t] = sym_var(S, m->t);
    *Q = S->zero;
    if (y->swap) {
        SymId *sw = alloc(S, (size_t)(S->nvars + 1), sizeof *sw);
        memset(sw, 0, (size_t)(S->nvars + 1) * sizeof *sw);
        for (int i = 0; i < n; i++)
            if (y->perm[i] != i) {
                sw[m->q[i]] = sym_var(S, m->q[y->perm[i]]);
                sw[m->v[i]] = sym_var(S, m->v[y->perm[i]]);
            }
        return sym_sub(S, sym_replace(S, L, sw), L);
    }
    SymId *dq = alloc(S, (size_t)n, sizeof *dq);
    for (int i = 0; i < n; i++)
        dq[i] = owner == m ? y->dq[i] : sym_replace(S, y->dq[i], with);
    /* dL = sum_i L_qi dq_i + p_i dq'_i, dq'_i = sum_j (d dq_i / d q_j) q'_j + d dq_i / dt */
    SymId *terms = alloc(S, (size_t)(2 * n), sizeof *terms), *charge = alloc(S, (size_t)n, sizeof *charge);
    for (int i = 0; i < n; i++) {
        SymId *rate = alloc(S, (size_t)(n + 1), sizeof *rate);
        for (int j = 0; j < n; j++)
            rate[j] = sym_mul2(S, sym_diff(S, dq[i], m->q[j]), sym_var(S, m->v[j]));
        rate[n] = sym_diff(S, dq[i], m->t);
        terms[2 * i] = sym_mul2(S, sym_diff(S, L, m->q[i]), dq[i]);
        terms[2 * i + 1] = sym_mul2(S, p[i], sym_add(S, rate, n + 1));
        charge[i] = sym_mul2(S, p[i], dq[i]);
    }
    *Q = sym_add(S, charge, n);
    return sym_add(S, terms, 2 * n);
}

/* Whether y leaves L unchanged: dL simplified to 0, or else dL at 64
 * random states (coordinates and velocities uniform in [-1.5, 1.5], t =
 * 0.3, the parameters at their values) against L there. */
static void sym_invariance(Mech *m, MechSym *y)
{
    Sym *S = m->S;
    y->residual = 0;
    y->nstates = 0;
    if (sym_is_zero(S, y->dL)) {
        y->invariant = 1;
        return;
    }
    double *x = alloc(S, (size_t)(S->nvars + 1), sizeof *x);
    for (int v = 0; v < S->nvars; v++)
        x[v] = S->vars[v].value;
    uint64_t st = 0x9E3779B97F4A7C15ull;
    double big = 0, worst = 0;
    for (int k = 0; k < 64; k++) {
        for (int j = 0; j < m->np; j++)
            if (isnan(S->vars[m->par[j]].value)) { /* a symbolic parameter: drawn in [0.5, 2] */
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                x[m->par[j]] = 0.5 + 1.5 * (double)(st >> 11) / 9007199254740992.0;
            }
        for (int i = 0; i < m->n; i++)
            for (int o = 0; o < 2; o++) {
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                x[o ? m->v[i] : m->q[i]] = -1.5 + 3.0 * (double)(st >> 11) / 9007199254740992.0;
            }
        x[m->t] = 0.3;
        double dl = fabs(sym_eval(S, y->dL, x)), l = fabs(sym_eval(S, m->L, x));
        if (!(dl <= worst))
            worst = isnan(dl) ? INFINITY : dl;
        if (l > big)
            big = l;
    }
    y->nstates = 64;
    y->residual = worst / fmax(1, big);
    y->invariant = y->residual <= 1e-10 ? 2 : 0;
}

/* ---------- problems: interval terms of the variational engine ---------- */

static int has_integral(const Expr *e)
{
    if (!e)
        return 0;
    if (e->kind == EX_CALL && e->ref == REF_INTEGRAL)
        return 1;
    if (has_integral(e->a) || has_integral(e->b))
        return 1;
    for (const Expr *a = e->args; a; a = a->next)
        if (has_integral(a))
            return 1;
    return 0;
}

/* An objective or constraint, linear in its integrals (checked here): the
 * interval term whose sum over the intervals is its value.  A part with no
 * integral (a constant) is spread evenly over the intervals. */
static SymId tr_total(Tr *T, const Expr *e)
{
    Sym *S = T->S;
    Problem *P = T->prob;
    if (!has_integral(e))
        return sym_mul2(S, tr(T, e), sym_div(S, sym_var(S, P->h), sym_sub(S, P->hi_e, P->lo_e)));
    switch (e->kind) {
    case EX_CALL:
        if (e->ref == REF_INTEGRAL)
            return tr(T, e);
        break;
    case EX_NEG:
        return sym_neg(S, tr_total(T, e->a));
    case EX_ADD:
        return sym_add2(S, tr_total(T, e->a), tr_total(T, e->b));
    case EX_SUB:
        return sym_sub(S, tr_total(T, e->a), tr_total(T, e->b));
    case EX_MUL:
        if (!has_integral(e->a))
            return sym_mul2(S, tr(T, e->a), tr_total(T, e->b));
        if (!has_integral(e->b))
            return sym_mul2(S, tr_total(T, e->a), tr(T, e->b));
        break;
    case EX_DIV:
        if (!has_integral(e->b))
            return sym_div(S, tr_total(T, e->a), tr(T, e->b));
        break;
    default:
        break;
    }
    diag_error(T->d, e->loc, "an objective or constraint must be linear in its integrals (sums of "
               "integral(...) times constants); write the combination inside one integral");
    T->errors++;
    return S->zero;
}

static int build_problem(Problem *P, Sym *S, Diag *d, const Item *prob, const MechTrained *trained);

/* The interval terms are built with no product of sums expanded (see
 * job_term_program). */
/* The Legendre polynomials P_0 .. P_k at u into p (Bonnet's recursion). */
static void legendre(int k, double u, double *p)
{
    p[0] = 1;
    if (k >= 1)
        p[1] = u;
    for (int n = 1; n < k; n++)
        p[n + 1] = ((2 * n + 1) * u * p[n] - n * p[n - 1]) / (n + 1);
}

double mech_func_value(const ProbFunc *f, const double *c, double x0, double x1, double x, double *grad)
{
    return mech_func_deriv(f, c, x0, x1, x, 0, grad);
}

/* The knots tau_j = j/(k - 1) in u. */
static double knot(const ProbFunc *f, int j)
{
    return (double)j / (f->knots - 1);
}

/* Knot i's cardinal natural spline (a unit value at knot i, 0 at the
 * others), or its order-th derivative in u, at u. */
static double cardinal(const ProbFunc *f, int i, double u, int order)
{
    const int k = f->knots;
    const double *c = f->coef;
    double v = order == 0 ? c[i] + c[k + i] * u : order == 1 ? c[k + i] : 0;
    for (int j = 0; j < k; j++) {
        double z = u - knot(f, j);
        if (z <= 0)
            continue;
        v += c[(2 + j) * k + i] * (order == 0 ? z * z * z : order == 1 ? 3 * z * z : 6 * z);
    }
    return v;
}

/* The cardinal splines' coefficients: for each knot i the natural spline
 * through 1 at knot i and 0 at the others, by Gaussian elimination with
 * partial pivoting on the (k + 2)-square system; with a fix, the pivot knot
 * (the largest cardinal spline at the fixed point) and those values.  The
 * domain's ends are the checked constants (infer refuses a moving
 * domain).  0, or -1 when the system is singular. */
static int spline_setup(Sym *S, ProbFunc *f, const Stmt *domain)
{
    const int k = f->knots, n = k + 2;
    f->coef = arena_alloc(S->arena, (size_t)n * (size_t)k * sizeof *f->coef);
    double *A = mem_xalloc((size_t)n * (size_t)n * sizeof *A), *B = mem_xalloc((size_t)n * (size_t)k * sizeof *B);
    /* unknowns (a, b, c_0 .. c_{k-1}); rows: f(tau_i) = delta, sum c = 0, sum c tau = 0 */
    for (int r = 0; r < n; r++)
        for (int q = 0; q < n; q++)
            A[r * n + q] = 0;
    for (int r = 0; r < n * k; r++)
        B[r] = 0;
    for (int i = 0; i < k; i++) {
        double u = knot(f, i);
        A[i * n + 0] = 1;
        A[i * n + 1] = u;
        for (int j = 0; j < k; j++) {
            double z = u - knot(f, j);
            A[i * n + 2 + j] = z > 0 ? z * z * z : 0;
        }
        B[i * k + i] = 1;
    }
    for (int j = 0; j < k; j++) {
        A[k * n + 2 + j] = 1;
        A[(k + 1) * n + 2 + j] = knot(f, j);
    }
    int rc = 0;
    for (int col = 0; col < n && rc == 0; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (fabs(A[r * n + col]) > fabs(A[piv * n + col]))
                piv = r;
        if (!(fabs(A[piv * n + col]) > 1e-14)) {
            rc = -1;
            break;
        }
        for (int q = 0; q < n; q++) {
            double t = A[col * n + q];
            A[col * n + q] = A[piv * n + q];
            A[piv * n + q] = t;
        }
        for (int q = 0; q < k; q++) {
            double t = B[col * k + q];
            B[col * k + q] = B[piv * k + q];
            B[piv * k + q] = t;
        }
        for (int r = 0; r < n; r++) {
            if (r == col)
                continue;
            double m = A[r * n + col] / A[col * n + col];
            if (m == 0)
                continue;
            for (int q = col; q < n; q++)
                A[r * n + q] -= m * A[col * n + q];
            for (int q = 0; q < k; q++)
                B[r * k + q] -= m * B[col * k + q];
        }
    }
    for (int r = 0; r < n && rc == 0; r++)
        for (int q = 0; q < k; q++)
            f->coef[r * k + q] = B[r * k + q] / A[r * n + r];
    mem_free(A);
    mem_free(B);
    if (rc == 0 && f->fixed) {
        double x0 = mech_const_value(domain->value), x1 = mech_const_value(domain->hi), ua = (f->at - x0) / (x1 - x0);
        f->at_basis = arena_alloc(S->arena, (size_t)k * sizeof *f->at_basis);
        f->pivot = 0;
        for (int i = 0; i < k; i++) {
            f->at_basis[i] = cardinal(f, i, ua, 0);
            if (fabs(f->at_basis[i]) > fabs(f->at_basis[f->pivot]))
                f->pivot = i;
        }
    }
    return rc;
}

/* The coefficient of unknown q (0 .. count - 1) of a spline on knot i's
 * cardinal spline, and the fixed value's: with a fix, the pivot knot's
 * value is (value - sum_{i != p} v_i s_i)/s_p (s the cardinal splines at
 * the fixed point). */
static int spline_knot(const ProbFunc *f, int q)
{
    return f->fixed && q >= f->pivot ? q + 1 : q;
}

double mech_func_deriv(const ProbFunc *f, const double *c, double x0, double x1, double x, int order, double *grad)
{
    if (f->spline) {
        const double u = (x - x0) / (x1 - x0), sc = order == 0 ? 1 : order == 1 ? 1 / (x1 - x0) : 1 / ((x1 - x0) * (x1 - x0));
        double v = 0, sp = f->fixed ? cardinal(f, f->pivot, u, order) : 0;
        if (f->fixed)
            v = f->value * sp / f->at_basis[f->pivot];
        for (int q = 0; q < f->count; q++) {
            int i = spline_knot(f, q);
            double b = cardinal(f, i, u, order);
            if (f->fixed)
                b -= sp * f->at_basis[i] / f->at_basis[f->pivot];
            v += c[q] * b;
            if (grad)
                grad[q] = b * sc;
        }
        return v * sc;
    }
    double p[52], pa[52], d1[52], d2[52];
    legendre(f->degree, (2 * x - x0 - x1) / (x1 - x0), p);
    if (order > 0) {
        /* P'_{n+1} = P'_{n-1} + (2n + 1) P_n, and the same for P'' from P' */
        double s = 2 / (x1 - x0);
        d1[0] = 0, d2[0] = 0;
        if (f->degree >= 1)
            d1[1] = 1, d2[1] = 0;
        for (int n = 1; n < f->degree; n++) {
            d1[n + 1] = d1[n - 1] + (2 * n + 1) * p[n];
            d2[n + 1] = d2[n - 1] + (2 * n + 1) * d1[n];
        }
        double *d = order == 1 ? d1 : d2, k = order == 1 ? s : s * s, v = 0;
        for (int j = f->fixed; j <= f->degree; j++) {
            v += c[j - f->fixed] * d[j] * k;
            if (grad)
                grad[j - f->fixed] = d[j] * k;
        }
        return v; /* a fixed value adds a constant, no slope */
    }
    double v = 0;
    if (f->fixed) {
        legendre(f->degree, (2 * f->at - x0 - x1) / (x1 - x0), pa);
        v = f->value;
        for (int j = 1; j <= f->degree; j++) {
            double b = p[j] - pa[j];
            v += c[j - 1] * b;
            if (grad)
                grad[j - 1] = b;
        }
        return v;
    }
    for (int j = 0; j <= f->degree; j++) {
        v += c[j] * p[j];
        if (grad)
            grad[j] = p[j];
    }
    return v;
}

/* f at x as an expression: the same sum, the polynomials built by the
 * recursion on u = (2x - x0 - x1)/(x1 - x0) (x0, x1 the domain's ends as
 * expressions of the parameters). */
static SymId tr_func(Tr *T, const ProbFunc *f, SymId x)
{
    Sym *S = T->S;
    Problem *P = T->prob;
    if (f->spline) {
        /* a + b u + sum_j c_j max(0, u - tau_j)^3, each of a, b, c_j a
         * linear form in the unknown knot values (and the fixed value) */
        const int k = f->knots;
        SymId u = sym_div(S, sym_sub(S, x, P->lo_e), sym_sub(S, P->hi_e, P->lo_e)), v = S->zero;
        for (int r = 0; r < k + 2; r++) {
            SymId form = S->zero;
            double p = f->fixed ? f->coef[r * k + f->pivot] / f->at_basis[f->pivot] : 0;
            if (f->fixed)
                form = sym_num(S, f->value * p);
            for (int q = 0; q < f->count; q++) {
                int i = spline_knot(f, q);
                double w = f->coef[r * k + i] - (f->fixed ? p * f->at_basis[i] : 0);
                if (w != 0)
                    form = sym_add2(S, form, sym_mul2(S, sym_num(S, w), sym_var(S, T->m->par[f->first + q])));
            }
            SymId term = r == 0 ? S->one : r == 1 ? u
                       : sym_powi(S, sym_fn(S, FN_MAX, sym_sub(S, u, sym_num(S, knot(f, r - 2))), S->zero), 3);
            v = sym_add2(S, v, sym_mul2(S, form, term));
        }
        return v;
    }
    SymId width = sym_sub(S, P->hi_e, P->lo_e), mid = sym_add2(S, P->lo_e, P->hi_e);
    SymId us[2] = {sym_div(S, sym_sub(S, sym_mul2(S, sym_num(S, 2), x), mid), width),
                   sym_div(S, sym_sub(S, sym_num(S, 2 * f->at), mid), width)};
    SymId pol[2][52];
    for (int w = 0; w < 1 + f->fixed; w++) {
        pol[w][0] = sym_num(S, 1);
        if (f->degree >= 1)
            pol[w][1] = us[w];
        for (int n = 1; n < f->degree; n++)
            pol[w][n + 1] = sym_div(S, sym_sub(S, sym_mul2(S, sym_num(S, 2 * n + 1), sym_mul2(S, us[w], pol[w][n])),
                                                sym_mul2(S, sym_num(S, n), pol[w][n - 1])),
                                    sym_num(S, n + 1));
    }
    SymId v = f->fixed ? sym_num(S, f->value) : S->zero;
    for (int j = f->fixed; j <= f->degree; j++) {
        SymId c = sym_var(S, T->m->par[f->first + j - f->fixed]);
        SymId b = f->fixed ? sym_sub(S, pol[0][j], pol[1][j]) : pol[0][j];
        v = sym_add2(S, v, sym_mul2(S, c, b));
    }
    return v;
}

int mech_build_problem(Problem *P, Sym *S, Diag *d, const Item *prob, const MechTrained *trained)
{
    S->no_expand++;
    int errors = build_problem(P, S, d, prob, trained);
    S->no_expand--;
    return errors;
}

static int build_problem(Problem *P, Sym *S, Diag *d, const Item *prob, const MechTrained *trained)
{
    memset(P, 0, sizeof *P);
    Mech *m = &P->m;
    m->S = S;
    m->sys = prob;
    m->trained = trained;
    Tr T = {S, d, m, NULL, 0, 0, NULL, 0, 1, 0, P};
    int nf = 0, np = 0, nu = 0, nlets = 0, ncons = 0, nfn = 0, ncoef = 0;
    const Stmt *domain = NULL;
    for (const Stmt *s = prob->stmts; s; s = s->next) {
        nf += s->kind == ST_FIELD;
        np += s->kind == ST_PARAM;
        nu += s->kind == ST_UNKNOWN && s->value->ref != REF_UNKNOWN_FN;
        nfn += s->kind == ST_UNKNOWN && s->value->ref == REF_UNKNOWN_FN;
        nlets += s->kind == ST_LET;
        ncons += s->kind == ST_SUBJECT;
        if (s->kind == ST_DOMAIN)
            domain = s;
    }
    /* the unknown functions: poly(k), each fixed at a point or not */
    P->funcs = alloc(S, (size_t)nfn, sizeof *P->funcs);
    for (const Stmt *s = prob->stmts; s; s = s->next) {
        if (s->kind != ST_UNKNOWN || s->value->ref != REF_UNKNOWN_FN)
            continue;
        ProbFunc *f = &P->funcs[P->nfuncs++];
        f->stmt = s;
        f->name = s->names[0].name;
        for (const Stmt *x = prob->stmts; x; x = x->next)
            if (x->kind == ST_FIX && strcmp(x->names[0].name, f->name) == 0) {
                f->fixed = 1;
                f->at = mech_const_value(x->at);
                f->value = mech_const_value(x->value);
            }
        if (s->value->id.name[0] != 'p') {
            f->spline = 1;
            f->knots = (int)mech_const_value(s->value->args);
            if (f->knots > 200) {
                diag_error(d, s->value->args->loc, "a spline of %d knots: at most 200 for now (its expression grows "
                           "as the square of the knots)", f->knots);
                T.errors++;
                f->knots = 2;
            }
            if (spline_setup(S, f, domain) != 0) {
                diag_error(d, s->loc, "'%s': the natural spline's knots could not be set up", f->name);
                T.errors++;
            }
            f->count = f->knots - f->fixed;
        } else {
            f->degree = (int)mech_const_value(s->value->args);
            f->count = f->degree + 1 - f->fixed;
        }
        ncoef += f->count;
    }
    m->n = nf;
    m->np = np + nu + ncoef + 1; /* the parameters, the unknown scalars, the functions' coefficients, h */
    P->nparams = np;
    m->names = alloc(S, (size_t)nf, sizeof *m->names);
    m->par = alloc(S, (size_t)m->np, sizeof *m->par);
    P->nf = nf;
    P->fnames = m->names;
    P->u = alloc(S, (size_t)nf, sizeof *P->u);
    P->w = alloc(S, (size_t)nf, sizeof *P->w);
    T.lets = alloc(S, (size_t)nlets, sizeof *T.lets);
    int k = 0;
    for (const Stmt *s = prob->stmts; s; s = s->next)
        if (s->kind == ST_FIELD) {
            const char *name = s->names[0].name;
            m->names[k] = name;
            P->u[k] = sym_add_var(S, arena_printf(S->arena, "%s@k", name), name, SV_COORD, k, 0, 0);
            P->w[k] = sym_add_var(S, arena_printf(S->arena, "%s@k+1", name), name, SV_COORD, k, 1, 0);
            k++;
        }
    P->xname = domain->names[0].name;
    P->x = sym_add_var(S, P->xname, P->xname, SV_TIME, 0, 0, 0);
    m->t = P->x;
    /* parameters with their defaults (each a constant of earlier ones), then
     * the unknowns at their given values, then h */
    int ip = 0;
    m->par_default = alloc(S, (size_t)m->np, sizeof *m->par_default);
    for (int pass = 0; pass < 2; pass++)
        for (const Stmt *s = prob->stmts; s; s = s->next) {
            int want = pass == 0 ? s->kind == ST_PARAM
                                 : s->kind == ST_UNKNOWN && s->value->ref != REF_UNKNOWN_FN;
            if (!want)
                continue;
            m->par[ip] = sym_add_var(S, s->names[0].name, s->names[0].name, SV_PARAM, ip, 0, 0);
            SymId e = tr(&T, s->value);
            double *x = alloc(S, (size_t)S->nvars, sizeof *x);
            for (int j = 0; j < ip; j++)
                x[m->par[j]] = S->vars[m->par[j]].value;
            S->vars[m->par[ip]].value = sym_eval(S, e, x);
            m->par_default[ip] = e;
            ip++;
        }
    /* the coefficients: a constant 1 to start with (or the fixed value) */
    for (int fi = 0; fi < P->nfuncs; fi++) {
        ProbFunc *f = &P->funcs[fi];
        f->first = ip;
        for (int i = 0; f->spline && i < f->knots; i++) {
            if (f->fixed && i == f->pivot)
                continue;
            /* every knot at 1 (or at the fixed value): the constant */
            const char *name = arena_printf(S->arena, "%s[%d]", f->name, i);
            m->par[ip] = sym_add_var(S, name, name, SV_PARAM, ip, 0, 0);
            S->vars[m->par[ip]].value = f->fixed ? f->value : 1;
            m->par_default[ip] = 0;
            ip++;
        }
        for (int j = f->fixed; !f->spline && j <= f->degree; j++) {
            const char *name = arena_printf(S->arena, "%s[%d]", f->name, j);
            m->par[ip] = sym_add_var(S, name, name, SV_PARAM, ip, 0, 0);
            S->vars[m->par[ip]].value = j == 0 ? 1 : 0;
            m->par_default[ip] = 0;
            ip++;
        }
    }
    P->h = m->par[ip] = sym_add_var(S, "(h)", "(h)", SV_PARAM, ip, 0, 0);
    /* the domain's ends: expressions of the parameters, evaluated for each
     * job's values (x0, x1 here: at the defaults) */
    P->lo_e = tr(&T, domain->value);
    P->hi_e = tr(&T, domain->hi);
    {
        double *x = alloc(S, (size_t)S->nvars, sizeof *x);
        for (int j = 0; j < ip; j++)
            x[m->par[j]] = S->vars[m->par[j]].value;
        P->x0 = sym_eval(S, P->lo_e, x);
        P->x1 = sym_eval(S, P->hi_e, x);
    }

    P->fix_lo = alloc(S, (size_t)nf, sizeof *P->fix_lo);
    P->fix_hi = alloc(S, (size_t)nf, sizeof *P->fix_hi);
    P->fixed_lo = alloc(S, (size_t)nf, sizeof *P->fixed_lo);
    P->fixed_hi = alloc(S, (size_t)nf, sizeof *P->fixed_hi);
    P->cons = alloc(S, (size_t)ncons, sizeof *P->cons);
    P->cons_value = alloc(S, (size_t)ncons, sizeof *P->cons_value);
    P->cons_stmt = alloc(S, (size_t)ncons, sizeof *P->cons_stmt);
    for (const Stmt *s = prob->stmts; s; s = s->next) {
        switch (s->kind) {
        case ST_LET:
            T.lets[T.nlets].stmt = s;
            T.lets[T.nlets++].value[0] = let_expr(&T, s);
            break;
        case ST_FIX:
            for (int i = 0; i < nf; i++)
                if (strcmp(m->names[i], s->names[0].name) == 0) {
                    /* checked: one of the ends, at the parameters' defaults */
                    double *x = alloc(S, (size_t)S->nvars, sizeof *x);
                    for (int j = 0; j < m->np; j++)
                        x[m->par[j]] = S->vars[m->par[j]].value;
                    double at = sym_eval(S, tr(&T, s->at), x);
                    int lo = fabs(at - P->x0) <= fabs(at - P->x1);
                    (lo ? P->fix_lo : P->fix_hi)[i] = tr(&T, s->value);
                    (lo ? P->fixed_lo : P->fixed_hi)[i] = 1;
                }
            break;
        case ST_SUBJECT:
            /* integral(...) = value: the lhs's term, and the value (of the parameters) */
            P->cons_stmt[P->ncons] = s;
            P->cons_value[P->ncons] = tr(&T, s->at);
            P->cons[P->ncons++] = tr_total(&T, s->value);
            break;
        case ST_MINIMIZE:
        case ST_MAXIMIZE:
        case ST_STATIONARY:
            P->stationary = s->kind == ST_STATIONARY;
            P->maximize = s->kind == ST_MAXIMIZE;
            P->objective = tr_total(&T, s->value);
            break;
        default:
            break;
        }
    }
    m->lets = T.lets;
    m->nlets = T.nlets;
    m->learned = T.nnets > 0;
    m->nets = T.nets;
    m->nnets = T.nnets;
    m->allow_nets = 1;
    m->io_errors = T.io_errors;
    return T.errors;
}

SymId mech_problem_expr(Problem *P, Diag *d, const Expr *e)
{
    Mech *m = &P->m;
    Tr T = {m->S, d, m, m->lets, m->nlets, 0, m->nets, m->nnets, 1, 0, P};
    SymId r = tr(&T, e);
    m->nets = T.nets;
    m->nnets = T.nnets;
    return T.errors ? 0 : r;
}

/* The equivalent Lagrangian of a system given by H on an interval of the
 * action: q at the midpoint, q' the slope, t the midpoint. */
static SymId hamiltonian_on_interval(Problem *P)
{
    return interval_form(P, P->m.L);
}

int mech_build_action(Problem *P, Sym *S, Diag *d, const Item *sys, double t0, double t1,
                      const MechTrained *trained)
{
    memset(P, 0, sizeof *P);
    /* the system itself first: its parameters, lets and nets, and the
     * checks of mech_build */
    Mech *m = &P->m;
    int errors = mech_build_trained(m, S, d, sys, MECH_NETS, trained);
    if (errors)
        return errors;
    for (const Stmt *s = sys->stmts; s; s = s->next)
        if (s->kind == ST_FORCE || s->kind == ST_DISSIPATION) {
            diag_error(d, s->loc, "'%s' is not part of a Lagrangian, so '%s' has no action (the "
                       "Lagrange-d'Alembert principle is not a stationary action)",
                       ast_stmt_keyword(s->kind), sys->name.name);
            errors++;
        }
    for (int k = 0; k < m->ncons; k++)
        if (!m->cons[k].g) {
            diag_error(d, m->cons[k].stmt->loc, "an action takes constraints on the coordinates (g(q, t) = 0); "
                       "'%s' constrains the velocities, which no action principle gives", m->cons[k].name);
            errors++;
        }
    if (errors)
        return errors;
    const int n = m->n, nf = n + m->ncons;
    P->nf = nf;
    P->fnames = alloc(S, (size_t)nf, sizeof *P->fnames);
    memcpy(P->fnames, m->names, (size_t)n * sizeof *P->fnames);
    for (int k = 0; k < m->ncons; k++)
        P->fnames[n + k] = arena_printf(S->arena, "lambda_%s", m->cons[k].name);
    P->xname = "t";
    P->x0 = t0;
    P->x1 = t1;
    P->lo_e = sym_num(S, t0);
    P->hi_e = sym_num(S, t1);
    P->stationary = 1;
    P->nparams = m->np;
    P->u = alloc(S, (size_t)nf, sizeof *P->u);
    P->w = alloc(S, (size_t)nf, sizeof *P->w);
    for (int i = 0; i < nf; i++) {
        P->u[i] = sym_add_var(S, arena_printf(S->arena, "%s@k", P->fnames[i]), P->fnames[i], SV_COORD, i, 0, 0);
        P->w[i] = sym_add_var(S, arena_printf(S->arena, "%s@k+1", P->fnames[i]), P->fnames[i], SV_COORD, i, 1, 0);
    }
    P->x = sym_add_var(S, "t@mid", "t", SV_TIME, 0, 0, 0);
    int *par = alloc(S, (size_t)(m->np + 1), sizeof *par);
    memcpy(par, m->par, (size_t)m->np * sizeof *par);
    P->h = par[m->np] = sym_add_var(S, "(h)", "(h)", SV_PARAM, m->np, 0, 0);
    P->fixed_lo = alloc(S, (size_t)n, sizeof *P->fixed_lo);
    P->fixed_hi = alloc(S, (size_t)n, sizeof *P->fixed_hi);
    P->fix_lo = alloc(S, (size_t)n, sizeof *P->fix_lo);
    P->fix_hi = alloc(S, (size_t)n, sizeof *P->fix_hi);
    if (m->H) { /* given by H: its equivalent L with the interval's variables */
        P->objective = sym_mul2(S, sym_var(S, P->h), hamiltonian_on_interval(P));
        m->par = par;
        m->np++;
        SymId *dflt = alloc(S, (size_t)m->np, sizeof *dflt);
        memcpy(dflt, m->par_default, (size_t)(m->np - 1) * sizeof *dflt);
        dflt[m->np - 1] = 0;
        m->par_default = dflt;
        return 0;
    }
    /* L on an interval: a fresh translation of its statement, with the lets
     * translated again in the interval's variables */
    Tr T = {S, d, m, NULL, 0, 0, m->nets, m->nnets, 1, 0, P};
    S->no_expand++; /* as in mech_build_problem */
    int nlets = 0;
    for (const Stmt *s = sys->stmts; s; s = s->next)
        nlets += s->kind == ST_LET;
    T.lets = alloc(S, (size_t)nlets, sizeof *T.lets);
    for (const Stmt *s = sys->stmts; s; s = s->next) {
        if (s->kind == ST_LET) {
            T.lets[T.nlets].stmt = s;
            T.lets[T.nlets++].value[0] = let_expr(&T, s);
        } else if (s->kind == ST_ASSIGN)
            P->objective = sym_mul2(S, sym_var(S, P->h), tr(&T, s->value));
    }
    S->no_expand--;
    /* the constraints at the nodes, weighted by their multipliers */
    SymId *at_u = alloc(S, (size_t)S->nvars, sizeof *at_u), *at_w = alloc(S, (size_t)S->nvars, sizeof *at_w);
    SymId half = sym_mul2(S, sym_num(S, 0.5), sym_var(S, P->h));
    for (int i = 0; i < n; i++) {
        at_u[m->q[i]] = sym_var(S, P->u[i]);
        at_w[m->q[i]] = sym_var(S, P->w[i]);
    }
    at_u[m->t] = sym_sub(S, sym_var(S, P->x), half);
    at_w[m->t] = sym_add2(S, sym_var(S, P->x), half);
    /* weighted h/2 (a trapezoid over the nodes): the discrete
     * Euler-Lagrange equation at node k gets h G(q_k)^T lambda_k, so the
     * field is the multiplier of M q'' = f + A^T lambda, and its gradient
     * row, g(q_k) h, has the scale of the coordinates' rows in the
     * engine's merit (both over h) */
    SymId w2 = sym_mul2(S, sym_num(S, 0.5), sym_var(S, P->h));
    for (int k = 0; k < m->ncons && P->objective; k++) {
        SymId gu = sym_mul2(S, sym_var(S, P->u[n + k]), sym_replace(S, m->cons[k].g, at_u));
        SymId gw = sym_mul2(S, sym_var(S, P->w[n + k]), sym_replace(S, m->cons[k].g, at_w));
        P->objective = sym_add2(S, P->objective, sym_mul2(S, w2, sym_add2(S, gu, gw)));
    }
    SymId *dflt = alloc(S, (size_t)(m->np + 1), sizeof *dflt);
    memcpy(dflt, m->par_default, (size_t)m->np * sizeof *dflt);
    dflt[m->np] = 0; /* h: the job's */
    m->par = par;
    m->par_default = dflt;
    m->np++;
    return T.errors;
}
