/*
 * lang/sym.c — the symbolic core (see sym.h).
 *
 * Node ids are handed out in creation order and every node's arguments
 * exist before it, so ids are a topological order of the graph: evaluation
 * and reverse accumulation walk ids, not recursion, where they can.
 */
#include "lang/sym.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ir.h"
#include "runtime/mem.h"

enum { EXPAND_LIMIT = 4096 }; /* largest product of sums that is expanded */

/* ---------- interning ---------- */

static uint32_t mix(uint32_t h, uint64_t v)
{
    h ^= (uint32_t)v + 0x9e3779b9u + (h << 6) + (h >> 2);
    h ^= (uint32_t)(v >> 32) + 0x9e3779b9u + (h << 6) + (h >> 2);
    return h;
}

static uint32_t node_hash(int op, int fn, int n, const SymId *args, uint64_t payload)
{
    uint32_t h = mix((uint32_t)(op * 31 + fn), payload);
    h = mix(h, (uint64_t)n);
    for (int i = 0; i < n; i++)
        h = mix(h, args[i]);
    return h;
}

static uint64_t num_bits(double v)
{
    uint64_t b;
    if (v == 0)
        v = 0; /* -0 and 0 are one node */
    memcpy(&b, &v, sizeof b);
    return b;
}

static int same(const SymNode *x, int op, int fn, int n, const SymId *args, uint64_t payload)
{
    if (x->op != op || x->fn != fn || x->n != n)
        return 0;
    if (op == SYM_NUM)
        return num_bits(x->u.num) == payload;
    if (x->u.var != payload)
        return 0;
    return n == 0 || memcmp(x->args, args, (size_t)n * sizeof *args) == 0;
}

static void grow_table(Sym *S)
{
    uint32_t cap = S->captable ? 2 * S->captable : 1024;
    uint32_t *t = mem_xalloc((size_t)cap * sizeof *t);
    memset(t, 0, (size_t)cap * sizeof *t);
    for (uint32_t i = 0; i < S->captable; i++) {
        uint32_t id = S->table[i];
        if (!id)
            continue;
        uint32_t j = S->nodes[id].hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = id;
    }
    mem_free(S->table);
    S->table = t;
    S->captable = cap;
}

static SymId intern(Sym *S, int op, int fn, int n, const SymId *args, uint64_t payload)
{
    uint32_t h = node_hash(op, fn, n, args, payload);
    if (2 * (S->nnodes + 1) > S->captable)
        grow_table(S);
    uint32_t j = h & (S->captable - 1);
    for (; S->table[j]; j = (j + 1) & (S->captable - 1)) {
        const SymNode *x = &S->nodes[S->table[j]];
        if (x->hash == h && same(x, op, fn, n, args, payload))
            return S->table[j];
    }
    if (S->nnodes == S->capnodes) {
        S->capnodes = S->capnodes ? 2 * S->capnodes : 1024;
        S->nodes = mem_xrealloc(S->nodes, (size_t)S->capnodes * sizeof *S->nodes);
    }
    SymId id = S->nnodes++;
    SymNode *x = &S->nodes[id];
    memset(x, 0, sizeof *x);
    x->op = (uint8_t)op;
    x->fn = (uint8_t)fn;
    x->n = (uint16_t)n;
    x->hash = h;
    if (op == SYM_NUM)
        memcpy(&x->u.num, &payload, sizeof payload);
    else
        x->u.var = (uint32_t)payload;
    if (n) {
        SymId *a = arena_alloc(S->arena, (size_t)n * sizeof *a);
        memcpy(a, args, (size_t)n * sizeof *a);
        x->args = a;
    }
    S->table[j] = id;
    return id;
}

Sym *sym_new(Arena *a)
{
    Sym *S = arena_alloc(a, sizeof *S);
    S->arena = a;
    S->nnodes = 1; /* id 0 is "no node" */
    S->capnodes = 1024;
    S->nodes = mem_xalloc((size_t)S->capnodes * sizeof *S->nodes);
    memset(&S->nodes[0], 0, sizeof S->nodes[0]);
    S->memo_var = -1;
    S->zero = sym_num(S, 0);
    S->one = sym_num(S, 1);
    S->minus_one = sym_num(S, -1);
    return S;
}

void sym_free(Sym *S)
{
    if (!S)
        return;
    mem_free(S->nodes);
    mem_free(S->table);
    mem_free(S->vars);
    mem_free(S->tensors);
    for (int i = 0; i < S->nexterns; i++)
        mem_free(S->externs[i].grad);
    mem_free(S->externs);
    mem_free(S->memo);
    S->nodes = NULL;
    S->table = NULL;
    S->vars = NULL;
    S->memo = NULL;
}

int sym_add_var(Sym *S, const char *name, const char *base, SymVarKind kind, int index, int order,
                double value)
{
    for (int v = 0; v < S->nvars; v++) /* the same variable again: one node */
        if (S->vars[v].kind == kind && S->vars[v].order == order && strcmp(S->vars[v].name, name) == 0)
            return v;
    if (S->nvars == S->capvars) {
        S->capvars = S->capvars ? 2 * S->capvars : 16;
        S->vars = mem_xrealloc(S->vars, (size_t)S->capvars * sizeof *S->vars);
    }
    S->vars[S->nvars] = (SymVar){name, base, kind, index, order, value};
    return S->nvars++;
}

/* ---------- queries ---------- */

int sym_is_num(const Sym *S, SymId id, double *v)
{
    if (S->nodes[id].op != SYM_NUM)
        return 0;
    if (v)
        *v = S->nodes[id].u.num;
    return 1;
}

int sym_is_zero(const Sym *S, SymId id)
{
    return id == S->zero;
}

static const struct {
    const char *name;
    int arity;
} fns[FN_COUNT] = {
    [FN_SIN] = {"sin", 1},   [FN_COS] = {"cos", 1},     [FN_TAN] = {"tan", 1},
    [FN_ASIN] = {"asin", 1}, [FN_ACOS] = {"acos", 1},   [FN_ATAN] = {"atan", 1},
    [FN_ATAN2] = {"atan2", 2}, [FN_SINH] = {"sinh", 1}, [FN_COSH] = {"cosh", 1},
    [FN_TANH] = {"tanh", 1}, [FN_EXP] = {"exp", 1},     [FN_LOG] = {"log", 1},
    [FN_SQRT] = {"sqrt", 1}, [FN_ABS] = {"abs", 1},     [FN_SIGN] = {"sign", 1},
    [FN_MIN] = {"min", 2},   [FN_MAX] = {"max", 2},
};

const char *sym_fn_name(SymFn fn)
{
    return fns[fn].name;
}

int sym_fn_arity(SymFn fn)
{
    return fns[fn].arity;
}

int sym_fn_by_name(const char *name)
{
    for (int i = 0; i < FN_COUNT; i++)
        if (strcmp(fns[i].name, name) == 0)
            return i;
    return -1;
}

double sym_fn_eval(SymFn fn, double a, double b)
{
    switch ((SymFn)fn) {
    case FN_SIN: return sin(a);
    case FN_COS: return cos(a);
    case FN_TAN: return tan(a);
    case FN_ASIN: return asin(a);
    case FN_ACOS: return acos(a);
    case FN_ATAN: return atan(a);
    case FN_ATAN2: return atan2(a, b);
    case FN_SINH: return sinh(a);
    case FN_COSH: return cosh(a);
    case FN_TANH: return tanh(a);
    case FN_EXP: return exp(a);
    case FN_LOG: return log(a);
    case FN_SQRT: return sqrt(a);
    case FN_ABS: return fabs(a);
    case FN_SIGN: return (a > 0) - (a < 0);
    case FN_MIN: return fmin(a, b);
    case FN_MAX: return fmax(a, b);
    case FN_COUNT: break;
    }
    return NAN;
}

/* ---------- constructors ---------- */

SymId sym_num(Sym *S, double v)
{
    return intern(S, SYM_NUM, 0, 0, NULL, num_bits(v));
}

SymId sym_var(Sym *S, int var)
{
    return intern(S, SYM_VAR, 0, 0, NULL, (uint64_t)var);
}

/* Sort n elements of the given size: an insertion sort for the few terms
 * or factors most nodes have (qsort's set-up costs more than the sort
 * there), qsort above that.  The insertion sort is stable, as glibc's
 * qsort (a merge sort) is in practice, so terms with one core still have
 * their coefficients summed in the order they came. */
static void sort_terms(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 24 || size > 32) {
        qsort(base, n, size, cmp);
        return;
    }
    char *v = base, key[32];
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        if (cmp(v + (j - 1) * size, v + i * size) <= 0)
            continue;
        memcpy(key, v + i * size, size);
        for (; j > 0 && cmp(v + (j - 1) * size, key) > 0; j--)
            memcpy(v + j * size, v + (j - 1) * size, size);
        memcpy(v + j * size, key, size);
    }
}

static int cmp_id(const void *a, const void *b)
{
    SymId x = *(const SymId *)a, y = *(const SymId *)b;
    return x < y ? -1 : x > y;
}

/* A growable list of ids in malloc'd memory (the constructors recurse, so
 * no shared scratch buffer). */
typedef struct IdList {
    SymId *v;
    int n, cap;
    SymId small[16];
} IdList;

static void il_init(IdList *l)
{
    l->v = l->small;
    l->n = 0;
    l->cap = 16;
}

static void il_push(IdList *l, SymId id)
{
    if (l->n == l->cap) {
        int cap = 2 * l->cap;
        SymId *v = mem_xalloc((size_t)cap * sizeof *v);
        memcpy(v, l->v, (size_t)l->n * sizeof *v);
        if (l->v != l->small)
            mem_free(l->v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = id;
}

static void il_free(IdList *l)
{
    if (l->v != l->small)
        mem_free(l->v);
}

/* Split a term into numeric coefficient and the rest (0 for a number). */
static SymId split_coef(Sym *S, SymId t, double *coef)
{
    const SymNode *x = &S->nodes[t];
    if (x->op == SYM_NUM) {
        *coef = x->u.num;
        return 0;
    }
    if (x->op == SYM_MUL && S->nodes[x->args[0]].op == SYM_NUM) {
        *coef = S->nodes[x->args[0]].u.num;
        if (x->n == 2)
            return x->args[1];
        return intern(S, SYM_MUL, 0, x->n - 1, x->args + 1, 0);
    }
    *coef = 1;
    return t;
}

/* coef * core, where core is normalised and not a number. */
static SymId scale(Sym *S, double coef, SymId core)
{
    if (coef == 0)
        return S->zero;
    if (coef == 1)
        return core;
    const SymNode *x = &S->nodes[core];
    if (x->op == SYM_ADD) { /* expanded form: distribute */
        int n = x->n;
        const SymId *args = x->args; /* in the arena: stable while nodes grow */
        IdList l;
        il_init(&l);
        for (int i = 0; i < n; i++) {
            double c;
            SymId r = split_coef(S, args[i], &c);
            il_push(&l, r ? scale(S, c * coef, r) : sym_num(S, c * coef));
        }
        SymId s = sym_add(S, l.v, l.n);
        il_free(&l);
        return s;
    }
    SymId c = sym_num(S, coef);
    x = &S->nodes[core]; /* sym_num may have moved the nodes */
    if (x->op == SYM_MUL) {
        SymId buf[x->n + 1];
        buf[0] = c;
        memcpy(buf + 1, x->args, (size_t)x->n * sizeof *buf);
        return intern(S, SYM_MUL, 0, x->n + 1, buf, 0);
    }
    SymId buf[2] = {c, core};
    return intern(S, SYM_MUL, 0, 2, buf, 0);
}

typedef struct Term {
    SymId core;
    double coef;
} Term;

static int cmp_term(const void *a, const void *b)
{
    SymId x = ((const Term *)a)->core, y = ((const Term *)b)->core;
    return x < y ? -1 : x > y;
}

static SymId combine_radicals(Sym *S, SymId sum);
static int is_int(double e);

/* The sine or cosine in a factor: f = sin(u), cos(u) or their square. */
static int trig_factor(const Sym *S, SymId f, SymId *fn, int *square)
{
    const SymNode *x = &S->nodes[f];
    double e;
    *square = 0;
    if (x->op == SYM_POW && sym_is_num(S, x->args[1], &e) && e == 2) {
        *square = 1;
        f = x->args[0];
        x = &S->nodes[f];
    }
    if (x->op != SYM_FN || (x->fn != FN_SIN && x->fn != FN_COS))
        return 0;
    *fn = f;
    return 1;
}

static SymId swap_trig(Sym *S, SymId f)
{
    const SymNode *x = &S->nodes[f];
    return sym_fn(S, x->fn == FN_SIN ? FN_COS : FN_SIN, x->args[0], 0);
}

static int find_core(const Term *t, int m, SymId core)
{
    int lo = 0, hi = m - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (t[mid].core == core)
            return mid;
        if (t[mid].core < core)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Combine term i with a partner by the angle-sum identities, all exact:
 *   c R cos A cos B ± c R sin A sin B = c R cos(A ∓ B),
 *   c R sin A cos B ∓ c R cos A sin B = c R sin(A ∓ B),
 *   c R cos²A + c R sin²A = c R.
 * The combined term goes to `out`; both terms are marked used. */
static void pair_trig(Sym *S, const Term *t, int m, int i, char *used, IdList *out)
{
    const SymNode *x = &S->nodes[t[i].core];
    int n = x->op == SYM_MUL ? x->n : 1;
    SymId single = t[i].core;
    const SymId *f = x->op == SYM_MUL ? x->args : &single;
    for (int p = 0; p < n; p++) {
        SymId fp;
        int sqp;
        if (!trig_factor(S, f[p], &fp, &sqp))
            continue;
        if (sqp) {
            /* c R cos²A - c R = -c R sin²A (and with sin, cos swapped) */
            IdList rest;
            il_init(&rest);
            for (int r = 0; r < n; r++)
                if (r != p)
                    il_push(&rest, f[r]);
            SymId R = sym_mul(S, rest.v, rest.n);
            il_free(&rest);
            int j = S->nodes[R].op == SYM_NUM ? -1 : find_core(t, m, R);
            if (j >= 0 && j != i && !used[j] && t[j].coef == -t[i].coef) {
                used[i] = used[j] = 1;
                il_push(out, sym_mul2(S, sym_num(S, t[j].coef),
                                      sym_mul2(S, R, sym_powi(S, swap_trig(S, fp), 2))));
                return;
            }
        }
        for (int q = sqp ? p : p + 1; q < (sqp ? p + 1 : n); q++) {
            SymId fq;
            int sqq;
            if (q != p && (!trig_factor(S, f[q], &fq, &sqq) || sqq))
                continue;
            if (q == p)
                fq = fp;
            /* the partner: both trig factors swapped, the rest the same */
            IdList rest;
            il_init(&rest);
            for (int r = 0; r < n; r++)
                if (r != p && r != q)
                    il_push(&rest, f[r]);
            SymId R = sym_mul(S, rest.v, rest.n);
            il_free(&rest);
            SymId partner = sym_mul2(S, R, sym_mul2(S, swap_trig(S, fp), swap_trig(S, fq)));
            double c1 = t[i].coef, c2;
            int j = find_core(t, m, partner);
            if (j < 0 || j == i || used[j])
                continue;
            c2 = t[j].coef;
            if (c2 != c1 && c2 != -c1)
                continue;
            const SymNode *xp = &S->nodes[fp], *xq = &S->nodes[fq];
            SymId A = xp->args[0], B = xq->args[0];
            int same = c2 == c1;
            SymId combined;
            if (fp == fq && xp->fn == FN_COS) {
                if (!same)
                    continue; /* cos²A - sin²A is cos 2A: not simpler */
                combined = S->one;
            } else if (fp == fq) {
                continue; /* sin²A: its cos²A partner does the work */
            } else if (xp->fn == FN_COS && xq->fn == FN_COS) {
                combined = sym_fn(S, FN_COS, same ? sym_sub(S, A, B) : sym_add2(S, A, B), 0);
            } else if (xp->fn == FN_SIN && xq->fn == FN_SIN) {
                /* c sin A sin B + c2 cos A cos B */
                if (same)
                    combined = sym_fn(S, FN_COS, sym_sub(S, A, B), 0);
                else
                    combined = sym_neg(S, sym_fn(S, FN_COS, sym_add2(S, A, B), 0));
            } else {
                /* c sin P cos Q + c2 cos P sin Q, with P the sine's argument */
                SymId P = xp->fn == FN_SIN ? A : B, Q = xp->fn == FN_SIN ? B : A;
                combined = sym_fn(S, FN_SIN, same ? sym_add2(S, P, Q) : sym_sub(S, P, Q), 0);
            }
            used[i] = used[j] = 1;
            il_push(out, sym_mul2(S, sym_num(S, c1), sym_mul2(S, R, combined)));
            return;
        }
    }
}

SymId sym_add(Sym *S, const SymId *terms, int n)
{
    IdList flat;
    il_init(&flat);
    for (int i = 0; i < n; i++) {
        const SymNode *x = &S->nodes[terms[i]];
        if (x->op == SYM_ADD)
            for (int j = 0; j < x->n; j++)
                il_push(&flat, x->args[j]);
        else if (terms[i] != S->zero)
            il_push(&flat, terms[i]);
    }
    if (flat.n == 0) {
        il_free(&flat);
        return S->zero;
    }
    if (flat.n == 1) {
        SymId r = flat.v[0];
        il_free(&flat);
        return r;
    }
    Term *t = mem_xalloc((size_t)flat.n * sizeof *t);
    double constant = 0;
    int k = 0;
    for (int i = 0; i < flat.n; i++) {
        double c;
        SymId core = split_coef(S, flat.v[i], &c);
        if (!core)
            constant += c;
        else
            t[k++] = (Term){core, c};
    }
    il_free(&flat);
    sort_terms(t, (size_t)k, sizeof *t, cmp_term);
    int m = 0; /* merge equal cores, drop zero coefficients */
    for (int i = 0; i < k;) {
        int j = i;
        double c = 0;
        for (; j < k && t[j].core == t[i].core; j++)
            c += t[j].coef;
        if (c != 0)
            t[m++] = (Term){t[i].core, c};
        i = j;
    }
    IdList out, paired;
    il_init(&out);
    il_init(&paired);
    char *used = mem_xalloc((size_t)m + 1);
    memset(used, 0, (size_t)m + 1);
    for (int i = 0; i < m; i++)
        if (!used[i])
            pair_trig(S, t, m, i, used, &paired);
    if (constant != 0)
        il_push(&out, sym_num(S, constant));
    for (int i = 0; i < m; i++)
        if (!used[i])
            il_push(&out, scale(S, t[i].coef, t[i].core));
    for (int i = 0; i < paired.n; i++)
        il_push(&out, paired.v[i]);
    mem_free(used);
    mem_free(t);
    SymId r;
    if (paired.n) /* the combined terms may combine further */
        r = sym_add(S, out.v, out.n);
    else if (out.n == 0)
        r = S->zero;
    else if (out.n == 1)
        r = out.v[0];
    else {
        sort_terms(out.v, (size_t)out.n, sizeof *out.v, cmp_id);
        r = intern(S, SYM_ADD, 0, out.n, out.v, 0);
        if (!S->in_radical) {
            SymId better = combine_radicals(S, r);
            if (better)
                r = better;
        }
    }
    il_free(&paired);
    il_free(&out);
    return r;
}

/* The exponent of radical s in a term (0 if absent), and the term without
 * that factor in *rest. */
static int radical_power(Sym *S, SymId term, SymId s, SymId *rest)
{
    const SymNode *x = &S->nodes[term];
    int n = x->op == SYM_MUL ? x->n : 1;
    const SymId *f = x->op == SYM_MUL ? x->args : &term;
    int k = 0, at = -1;
    for (int i = 0; i < n && at < 0; i++) {
        const SymNode *y = &S->nodes[f[i]];
        double e;
        if (f[i] == s)
            k = 1, at = i;
        else if (y->op == SYM_POW && y->args[0] == s && sym_is_num(S, y->args[1], &e) && is_int(e))
            k = (int)e, at = i;
    }
    if (at < 0) {
        *rest = term;
        return 0;
    }
    IdList l;
    il_init(&l);
    for (int i = 0; i < n; i++)
        if (i != at)
            il_push(&l, f[i]);
    *rest = sym_mul(S, l.v, l.n);
    il_free(&l);
    return k;
}

/* A sum whose terms hold different powers of one radical s = sqrt(u), some
 * negative, is rewritten over the common power: sum = s^kmin * (sum of
 * rest_i * u^((k_i - kmin)/2)), when every k_i - kmin is even.  Where a
 * term divides by s the sum is defined only for u > 0, where s^2 = u, so the
 * rewrite is exact; it is kept only when it is shorter.  This is what
 * turns m/sqrt(u) + m v^2/(c^2 sqrt(u)^3) into m/sqrt(u)^3. */
static SymId combine_radicals(Sym *S, SymId sum)
{
    int n = S->nodes[sum].n;
    const SymId *terms = S->nodes[sum].args;
    SymId best = 0;
    S->in_radical++;
    for (int i = 0; i < n && !best; i++) {
        const SymNode *x = &S->nodes[terms[i]];
        int nf = x->op == SYM_MUL ? x->n : 1;
        const SymId *f = x->op == SYM_MUL ? x->args : &terms[i];
        for (int j = 0; j < nf && !best; j++) {
            const SymNode *y = &S->nodes[f[j]];
            SymId s = y->op == SYM_POW ? y->args[0] : f[j];
            const SymNode *z = &S->nodes[s];
            if (z->op != SYM_FN || z->fn != FN_SQRT)
                continue;
            int kmin = 0, kmax = 0, present = 0, odd = 0;
            int *k = mem_xalloc((size_t)n * sizeof *k);
            SymId *rest = mem_xalloc((size_t)n * sizeof *rest);
            for (int t = 0; t < n; t++) {
                k[t] = radical_power(S, terms[t], s, &rest[t]);
                if (rest[t] == terms[t])
                    continue; /* absent */
                if (present == 0 || k[t] < kmin)
                    kmin = k[t];
                if (present == 0 || k[t] > kmax)
                    kmax = k[t];
                present++;
            }
            for (int t = 0; t < n; t++)
                if (rest[t] != terms[t] && (k[t] - kmin) % 2)
                    odd = 1;
            if (present >= 2 && kmin < 0 && kmin != kmax && !odd) {
                SymId u = S->nodes[s].args[0];
                IdList in, all;
                il_init(&in);
                il_init(&all);
                for (int t = 0; t < n; t++) {
                    if (rest[t] == terms[t])
                        il_push(&all, terms[t]);
                    else
                        il_push(&in, sym_mul2(S, rest[t], sym_powi(S, u, (k[t] - kmin) / 2)));
                }
                SymId inner = sym_add(S, in.v, in.n);
                il_push(&all, sym_mul2(S, sym_powi(S, s, kmin), inner));
                SymId cand = sym_add(S, all.v, all.n);
                if (sym_ops_tree(S, cand) < sym_ops_tree(S, sum))
                    best = cand;
                il_free(&in);
                il_free(&all);
            }
            mem_free(k);
            mem_free(rest);
        }
    }
    S->in_radical--;
    return best;
}

/* Parameters and nonzero numbers may be cancelled against themselves. */
static int cancellable(const Sym *S, SymId base)
{
    const SymNode *x = &S->nodes[base];
    if (x->op == SYM_NUM)
        return x->u.num != 0;
    return x->op == SYM_VAR && S->vars[x->u.var].kind == SV_PARAM;
}

typedef struct Factor {
    SymId base;
    double exp;
} Factor;

static int cmp_factor(const void *a, const void *b)
{
    const Factor *x = a, *y = b;
    if (x->base != y->base)
        return x->base < y->base ? -1 : 1;
    return (x->exp > y->exp) - (x->exp < y->exp);
}

static SymId powi_raw(Sym *S, SymId base, double e)
{
    if (e == 1)
        return base;
    return intern(S, SYM_POW, 0, 2, (SymId[]){base, sym_num(S, e)}, 0);
}

/* Whether base^e is a small power of a sum that the normal form expands. */
static int expandable_pow(const Sym *S, SymId base, double e)
{
    const SymNode *x = &S->nodes[base];
    return !S->no_expand && x->op == SYM_ADD && is_int(e) && e >= 2 && e <= 8 && pow(x->n, e) <= EXPAND_LIMIT;
}

SymId sym_mul(Sym *S, const SymId *factors, int n)
{
    double coef = 1;
    Factor *f = NULL;
    int k = 0, cap = 0;
    /* Flatten, fold numbers, split powers with numeric exponents. */
    for (int i = 0; i < n; i++) {
        const SymNode *x = &S->nodes[factors[i]];
        int m = x->op == SYM_MUL ? x->n : 1;
        const SymId *items = x->op == SYM_MUL ? x->args : &factors[i];
        for (int j = 0; j < m; j++) {
            const SymNode *y = &S->nodes[items[j]];
            if (y->op == SYM_NUM) {
                coef *= y->u.num;
                continue;
            }
            if (k == cap) {
                cap = cap ? 2 * cap : 16;
                f = mem_xrealloc(f, (size_t)cap * sizeof *f);
            }
            if (y->op == SYM_POW && S->nodes[y->args[1]].op == SYM_NUM)
                f[k++] = (Factor){y->args[0], S->nodes[y->args[1]].u.num};
            else
                f[k++] = (Factor){items[j], 1};
        }
    }
    if (coef == 0 || k == 0) {
        mem_free(f);
        return sym_num(S, coef);
    }
    sort_terms(f, (size_t)k, sizeof *f, cmp_factor);
    /* Collect powers of one base: positive and negative exponents separately,
     * combined only where that cannot remove a singularity. */
    IdList out;
    il_init(&out);
    int nested = 0; /* a power distributed over a product gave a product */
    for (int i = 0; i < k;) {
        int j = i;
        double pos = 0, neg = 0;
        for (; j < k && f[j].base == f[i].base; j++) {
            if (f[j].exp > 0)
                pos += f[j].exp;
            else
                neg += f[j].exp;
        }
        SymId b = f[i].base;
        double parts[2] = {pos, neg};
        int nparts = 2;
        if (pos != 0 && neg != 0 && (cancellable(S, b) || pos + neg < 0)) {
            parts[0] = pos + neg;
            nparts = 1;
        }
        for (int p = 0; p < nparts; p++) {
            if (parts[p] == 0)
                continue;
            if (expandable_pow(S, b, parts[p])) {
                /* (a + b)^k: k copies, distributed below */
                for (int r = 0; r < (int)parts[p]; r++)
                    il_push(&out, b);
                continue;
            }
            SymId pw = parts[p] == 1 ? b
                       : S->nodes[b].op == SYM_ADD ? powi_raw(S, b, parts[p])
                                                   : sym_powi(S, b, parts[p]);
            const SymNode *y = &S->nodes[pw];
            if (y->op == SYM_NUM)
                coef *= y->u.num;
            else {
                nested |= y->op == SYM_MUL;
                il_push(&out, pw);
            }
        }
        i = j;
    }
    mem_free(f);
    if (nested) {
        IdList again;
        il_init(&again);
        il_push(&again, sym_num(S, coef));
        for (int i = 0; i < out.n; i++)
            il_push(&again, out.v[i]);
        SymId r = sym_mul(S, again.v, again.n);
        il_free(&again);
        il_free(&out);
        return r;
    }
    if (coef == 0) {
        il_free(&out);
        return S->zero;
    }
    SymId expand = 0; /* the first sum among the factors, to distribute */
    int at = -1;
    for (int i = 0; i < out.n && !expand && !S->no_expand; i++)
        if (S->nodes[out.v[i]].op == SYM_ADD && out.n > 1) {
            expand = out.v[i];
            at = i;
        }
    /* Expand a product containing a sum, when the result stays small. */
    if (expand) {
        long size = 1;
        for (int i = 0; i < out.n; i++)
            if (S->nodes[out.v[i]].op == SYM_ADD)
                size *= S->nodes[out.v[i]].n;
        if (size <= EXPAND_LIMIT) {
            int na = S->nodes[expand].n;
            const SymId *aargs = S->nodes[expand].args;
            IdList rest, terms;
            il_init(&rest);
            il_init(&terms);
            il_push(&rest, sym_num(S, coef));
            for (int i = 0; i < out.n; i++)
                if (i != at) /* other copies of the same sum stay */
                    il_push(&rest, out.v[i]);
            SymId others = sym_mul(S, rest.v, rest.n);
            for (int i = 0; i < na; i++)
                il_push(&terms, sym_mul2(S, aargs[i], others));
            SymId r = sym_add(S, terms.v, terms.n);
            il_free(&rest);
            il_free(&terms);
            il_free(&out);
            return r;
        }
    }
    SymId r;
    if (out.n == 0)
        r = sym_num(S, coef);
    else {
        sort_terms(out.v, (size_t)out.n, sizeof *out.v, cmp_id);
        if (out.n == 1)
            r = scale(S, coef, out.v[0]);
        else {
            SymId core = intern(S, SYM_MUL, 0, out.n, out.v, 0);
            r = scale(S, coef, core);
        }
    }
    il_free(&out);
    return r;
}

SymId sym_param_content(Sym *S, SymId sum, SymId *rest)
{
    const SymNode *x = &S->nodes[sum];
    if (x->op != SYM_ADD) {
        *rest = S->one;
        return sum;
    }
    int n = x->n;
    const SymId *terms = x->args;
    /* candidate bases: the parameters in the first term, with exponents */
    const SymNode *t0 = &S->nodes[terms[0]];
    int m0 = t0->op == SYM_MUL ? t0->n : 1;
    const SymId *f0 = t0->op == SYM_MUL ? t0->args : &terms[0];
    IdList content;
    il_init(&content);
    for (int i = 0; i < m0; i++) {
        const SymNode *f = &S->nodes[f0[i]];
        SymId base = f0[i];
        double e = 1;
        if (f->op == SYM_POW && sym_is_num(S, f->args[1], &e))
            base = f->args[0];
        if (S->nodes[base].op != SYM_VAR || S->vars[S->nodes[base].u.var].kind != SV_PARAM || e <= 0)
            continue;
        double least = e;
        for (int k = 1; k < n && least > 0; k++) {
            const SymNode *tk = &S->nodes[terms[k]];
            int mk = tk->op == SYM_MUL ? tk->n : 1;
            const SymId *fk = tk->op == SYM_MUL ? tk->args : &terms[k];
            double found = 0;
            for (int j = 0; j < mk; j++) {
                const SymNode *g = &S->nodes[fk[j]];
                double ee;
                if (fk[j] == base)
                    found = 1;
                else if (g->op == SYM_POW && g->args[0] == base && sym_is_num(S, g->args[1], &ee) && ee > 0)
                    found = ee;
            }
            if (found < least)
                least = found;
        }
        if (least > 0)
            il_push(&content, sym_powi(S, base, least));
    }
    SymId c = sym_mul(S, content.v, content.n);
    il_free(&content);
    *rest = sym_mul2(S, sum, sym_powi(S, c, -1));
    return c;
}

SymId sym_add2(Sym *S, SymId a, SymId b)
{
    if (a == S->zero)
        return b;
    if (b == S->zero)
        return a;
    SymId v[2] = {a, b};
    return sym_add(S, v, 2);
}

SymId sym_mul2(Sym *S, SymId a, SymId b)
{
    if (a == S->one)
        return b;
    if (b == S->one)
        return a;
    SymId v[2] = {a, b};
    return sym_mul(S, v, 2);
}

SymId sym_neg(Sym *S, SymId a)
{
    return sym_mul2(S, S->minus_one, a);
}

SymId sym_sub(Sym *S, SymId a, SymId b)
{
    return sym_add2(S, a, sym_neg(S, b));
}

SymId sym_div(Sym *S, SymId a, SymId b)
{
    return sym_mul2(S, a, sym_powi(S, b, -1));
}

static int is_int(double e)
{
    return e == floor(e) && fabs(e) < 1e9;
}

SymId sym_powi(Sym *S, SymId base, double e)
{
    const SymNode *x = &S->nodes[base];
    if (e == 0)
        return S->one;
    if (e == 1)
        return base;
    if (x->op == SYM_NUM) {
        double v = pow(x->u.num, e);
        if (isfinite(v))
            return sym_num(S, v);
        return powi_raw(S, base, e);
    }
    if (x->op == SYM_POW && S->nodes[x->args[1]].op == SYM_NUM && is_int(e))
        return sym_powi(S, x->args[0], S->nodes[x->args[1]].u.num * e);
    if (x->op == SYM_MUL && is_int(e)) {
        int n = x->n;
        const SymId *args = x->args;
        IdList l;
        il_init(&l);
        for (int i = 0; i < n; i++)
            il_push(&l, sym_powi(S, args[i], e));
        SymId r = sym_mul(S, l.v, l.n);
        il_free(&l);
        return r;
    }
    if (expandable_pow(S, base, e)) {
        SymId copies[8];
        for (int i = 0; i < (int)e; i++)
            copies[i] = base;
        return sym_mul(S, copies, (int)e);
    }
    return powi_raw(S, base, e);
}

SymId sym_pow(Sym *S, SymId base, SymId exp)
{
    double e;
    if (sym_is_num(S, exp, &e))
        return sym_powi(S, base, e);
    double b;
    if (sym_is_num(S, base, &b) && b == 1)
        return S->one;
    return intern(S, SYM_POW, 0, 2, (SymId[]){base, exp}, 0);
}

SymId sym_fn(Sym *S, SymFn fn, SymId a, SymId b)
{
    double x, y = 0;
    int arity = fns[fn].arity;
    if ((fn == FN_COS || fn == FN_SIN) && !sym_is_num(S, a, NULL)) {
        /* cos(-u) = cos u, sin(-u) = -sin u: of u and -u, the older node
         * is the argument, so cos(t1 - t2) and cos(t2 - t1) are one node */
        SymId na = sym_neg(S, a);
        if (na < a) {
            SymId r = intern(S, SYM_FN, fn, 1, (SymId[]){na, 0}, 0);
            return fn == FN_COS ? r : sym_neg(S, r);
        }
    }
    if (sym_is_num(S, a, &x) && (arity == 1 || sym_is_num(S, b, &y))) {
        double v = sym_fn_eval(fn, x, y);
        if (isfinite(v))
            return sym_num(S, v);
    }
    SymId args[2] = {a, b};
    return intern(S, SYM_FN, fn, arity, args, 0);
}


/* ---------- vectors and networks ---------- */

static SymId vnode(Sym *S, int op, int fn, int n, const SymId *args, uint32_t payload, uint32_t len)
{
    SymId id = intern(S, op, fn, n, args, payload);
    S->nodes[id].len = len;
    return id;
}

int sym_add_tensor(Sym *S, const char *name, int rows, int cols)
{
    if (S->ntensors == S->captensors) {
        S->captensors = S->captensors ? 2 * S->captensors : 8;
        S->tensors = mem_xrealloc(S->tensors, (size_t)S->captensors * sizeof *S->tensors);
    }
    S->tensors[S->ntensors] = (SymTensor){name, rows, cols, NULL};
    return S->ntensors++;
}

SymId sym_vones(Sym *S, int len)
{
    return vnode(S, SYM_VONES, 0, 0, NULL, (uint32_t)len, (uint32_t)len);
}

SymId sym_vzero(Sym *S, int len)
{
    SymId a[2] = {S->zero, sym_vones(S, len)};
    return vnode(S, SYM_VSCALE, 0, 2, a, 0, (uint32_t)len);
}

static int is_vzero(const Sym *S, SymId v)
{
    const SymNode *x = &S->nodes[v];
    return x->op == SYM_VSCALE && x->args[0] == S->zero;
}

static int is_vones(const Sym *S, SymId v)
{
    return S->nodes[v].op == SYM_VONES;
}

SymId sym_vec(Sym *S, const SymId *items, int n)
{
    int zero = 1;
    for (int i = 0; i < n; i++)
        zero &= items[i] == S->zero;
    if (zero)
        return sym_vzero(S, n);
    return vnode(S, SYM_VEC, 0, n, items, 0, (uint32_t)n);
}

SymId sym_comp(Sym *S, SymId v, int i)
{
    const SymNode *x = &S->nodes[v];
    if (x->op == SYM_VEC)
        return x->args[i];
    if (x->op == SYM_VONES)
        return S->one;
    if (x->op == SYM_VSCALE && is_vones(S, x->args[1]))
        return x->args[0];
    return vnode(S, SYM_COMP, 0, 1, &v, (uint32_t)i, 0);
}

SymId sym_sumv(Sym *S, SymId v)
{
    const SymNode *x = &S->nodes[v];
    if (x->op == SYM_VEC)
        return sym_add(S, x->args, x->n);
    if (x->op == SYM_VONES)
        return sym_num(S, x->len);
    if (x->op == SYM_VSCALE) {
        SymId sc = x->args[0], w = x->args[1];
        return sc == S->zero ? S->zero : sym_mul2(S, sc, sym_sumv(S, w));
    }
    return vnode(S, SYM_SUMV, 0, 1, &v, 0, 0);
}

SymId sym_vparam(Sym *S, int tensor)
{
    return vnode(S, SYM_VPARAM, 0, 0, NULL, (uint32_t)tensor, (uint32_t)S->tensors[tensor].rows);
}

SymId sym_matvec(Sym *S, int tensor, SymId v)
{
    uint32_t rows = (uint32_t)S->tensors[tensor].rows;
    if (is_vzero(S, v))
        return sym_vzero(S, (int)rows);
    return vnode(S, SYM_MATVEC, 0, 1, &v, (uint32_t)tensor, rows);
}

SymId sym_mattvec(Sym *S, int tensor, SymId v)
{
    uint32_t cols = (uint32_t)S->tensors[tensor].cols;
    if (is_vzero(S, v))
        return sym_vzero(S, (int)cols);
    return vnode(S, SYM_MATTVEC, 0, 1, &v, (uint32_t)tensor, cols);
}

SymId sym_vadd(Sym *S, SymId a, SymId b)
{
    if (is_vzero(S, a))
        return b;
    if (is_vzero(S, b))
        return a;
    if (a > b) {
        SymId t = a;
        a = b;
        b = t;
    }
    return vnode(S, SYM_VADD, 0, 2, (SymId[]){a, b}, 0, S->nodes[a].len);
}

SymId sym_vmul(Sym *S, SymId a, SymId b)
{
    if (is_vzero(S, a))
        return a;
    if (is_vzero(S, b))
        return b;
    if (is_vones(S, a))
        return b;
    if (is_vones(S, b))
        return a;
    if (a > b) {
        SymId t = a;
        a = b;
        b = t;
    }
    return vnode(S, SYM_VMUL, 0, 2, (SymId[]){a, b}, 0, S->nodes[a].len);
}

SymId sym_vscale(Sym *S, SymId sc, SymId v)
{
    const SymNode *x = &S->nodes[v];
    if (sc == S->one)
        return v;
    if (is_vzero(S, v))
        return v;
    if (sc == S->zero)
        return sym_vzero(S, (int)x->len);
    if (x->op == SYM_VSCALE) {
        SymId inner = x->args[1];
        return sym_vscale(S, sym_mul2(S, sc, x->args[0]), inner);
    }
    return vnode(S, SYM_VSCALE, 0, 2, (SymId[]){sc, v}, 0, x->len);
}

static const char *const act_names[ACT_COUNT] = {"softplus", "tanh", "sigmoid", "relu2", "relu"};

const char *sym_act_name(SymAct act)
{
    return act_names[act];
}

int sym_act_by_name(const char *name)
{
    for (int i = 0; i < ACT_COUNT; i++)
        if (strcmp(act_names[i], name) == 0)
            return i;
    return -1;
}

/* The highest derivative order that is not identically zero. */
static int act_max_order(SymAct act)
{
    return act == ACT_RELU ? 1 : act == ACT_RELU2 ? 2 : 1000;
}

SymId sym_act(Sym *S, SymAct act, int order, SymId v)
{
    uint32_t len = S->nodes[v].len;
    if (order > act_max_order(act))
        return sym_vzero(S, (int)len);
    return vnode(S, SYM_ACT, act, 1, &v, (uint32_t)order, len);
}

SymId sym_dot(Sym *S, SymId a, SymId b)
{
    return sym_sumv(S, sym_vmul(S, a, b));
}

/* The activations are evaluated by the runtime's table, in the same order. */
_Static_assert((int)ACT_SOFTPLUS == (int)IR_ACT_SOFTPLUS && (int)ACT_TANH == (int)IR_ACT_TANH &&
                   (int)ACT_SIGMOID == (int)IR_ACT_SIGMOID && (int)ACT_RELU2 == (int)IR_ACT_RELU2 &&
                   (int)ACT_RELU == (int)IR_ACT_RELU,
               "SymAct and IrAct list the activations in the same order");

double sym_act_eval(SymAct act, int k, double x)
{
    return act < ACT_COUNT ? ir_act_eval((IrAct)act, k, x) : NAN;
}

/* Forward rule of a vector node (or of a scalar node of vectors). */
static SymId diff_rec(Sym *S, SymId id, int var);

/* diff_rec's `var` for a directional derivative: the leaves' tangents are
 * S->seed[variable] (0: none). */
enum { JVP_VAR = -2 };

static SymId vec_diff(Sym *S, SymId id, int var)
{
    SymNode x = S->nodes[id]; /* a copy: the constructors below may move nodes */
    switch ((SymOp)x.op) {
    case SYM_VEC: {
        SymId *d = mem_xalloc((size_t)x.n * sizeof *d);
        for (int i = 0; i < x.n; i++)
            d[i] = diff_rec(S, x.args[i], var);
        SymId r = sym_vec(S, d, x.n);
        mem_free(d);
        return r;
    }
    case SYM_COMP: return sym_comp(S, diff_rec(S, x.args[0], var), (int)x.u.var);
    case SYM_SUMV: return sym_sumv(S, diff_rec(S, x.args[0], var));
    case SYM_VPARAM:
    case SYM_VONES: return sym_vzero(S, (int)x.len);
    case SYM_MATVEC: return sym_matvec(S, (int)x.u.var, diff_rec(S, x.args[0], var));
    case SYM_MATTVEC: return sym_mattvec(S, (int)x.u.var, diff_rec(S, x.args[0], var));
    case SYM_VADD: return sym_vadd(S, diff_rec(S, x.args[0], var), diff_rec(S, x.args[1], var));
    case SYM_VMUL: {
        SymId da = diff_rec(S, x.args[0], var), db = diff_rec(S, x.args[1], var);
        return sym_vadd(S, sym_vmul(S, da, x.args[1]), sym_vmul(S, x.args[0], db));
    }
    case SYM_VSCALE: {
        SymId ds = diff_rec(S, x.args[0], var), dv = diff_rec(S, x.args[1], var);
        return sym_vadd(S, sym_vscale(S, ds, x.args[1]), sym_vscale(S, x.args[0], dv));
    }
    case SYM_ACT: {
        SymId du = diff_rec(S, x.args[0], var);
        return sym_vmul(S, sym_act(S, (SymAct)x.fn, (int)x.u.var + 1, x.args[0]), du);
    }
    default: break;
    }
    return S->zero;
}

/* ---------- extern functions ---------- */

int sym_add_extern(Sym *S, const char *name, int nargs, void *fn)
{
    for (int i = 0; i < S->nexterns; i++)
        if (!S->externs[i].data && strcmp(S->externs[i].name, name) == 0)
            return i;
    if (S->nexterns == S->capexterns) {
        S->capexterns = S->capexterns ? 2 * S->capexterns : 8;
        S->externs = mem_xrealloc(S->externs, (size_t)S->capexterns * sizeof *S->externs);
    }
    S->externs[S->nexterns] = (SymExtern){name, nargs, fn, NULL, NULL};
    return S->nexterns++;
}

int sym_add_input(Sym *S, const char *name, const void *data)
{
    for (int i = 0; i < S->nexterns; i++)
        if (S->externs[i].data == data)
            return i;
    if (S->nexterns == S->capexterns) {
        S->capexterns = S->capexterns ? 2 * S->capexterns : 8;
        S->externs = mem_xrealloc(S->externs, (size_t)S->capexterns * sizeof *S->externs);
    }
    S->externs[S->nexterns] = (SymExtern){name, 1, NULL, NULL, data};
    return S->nexterns++;
}

SymId sym_ext(Sym *S, int ext, const SymId *args, int nargs, uint32_t deriv)
{
    return intern(S, SYM_EXT, ext, nargs, args, deriv);
}

/* Calls and difference quotients are the runtime's (runtime/ffi.c), so the
 * symbolic core and the VM agree exactly. */
double sym_ext_eval(const SymExtern *e, uint32_t deriv, const double *x)
{
    IrExtern ir = {e->name, e->fn, e->nargs, deriv, e->data};
    return ir_extern_eval(&ir, x);
}

/* ---------- dependence ---------- */

int sym_depends(Sym *S, SymId id, int var, int kind)
{
    const SymNode *x = &S->nodes[id];
    if (x->op == SYM_NUM)
        return 0;
    if (x->op == SYM_VAR)
        return var >= 0 ? (int)x->u.var == var : (int)S->vars[x->u.var].kind == kind;
    for (int i = 0; i < x->n; i++)
        if (sym_depends(S, x->args[i], var, kind))
            return 1;
    return 0;
}

/* ---------- derivatives ---------- */

/* The partial derivative of node `id` with respect to its i-th argument:
 * the one table of rules that forward and reverse mode both use. */
static SymId local_partial(Sym *S, SymId id, int i)
{
    /* Copy what is needed: building nodes may move S->nodes. */
    const SymNode *x = &S->nodes[id];
    SymId a = x->n > 0 ? x->args[0] : 0, b = x->n > 1 ? x->args[1] : 0;
    int fn = x->fn;
    switch ((SymOp)x->op) {
    case SYM_NUM:
    case SYM_VAR:
        return S->zero;
    case SYM_ADD:
        return S->one;
    case SYM_MUL: {
        IdList l;
        il_init(&l);
        for (int j = 0; j < x->n; j++)
            if (j != i)
                il_push(&l, x->args[j]);
        SymId r = sym_mul(S, l.v, l.n);
        il_free(&l);
        return r;
    }
    case SYM_POW: {
        double e;
        if (i == 0) {
            if (sym_is_num(S, b, &e))
                return sym_mul2(S, b, sym_powi(S, a, e - 1));
            return sym_mul2(S, b, sym_pow(S, a, sym_sub(S, b, S->one)));
        }
        return sym_mul2(S, id, sym_fn(S, FN_LOG, a, 0));
    }
    case SYM_FN:
        break;
    case SYM_EXT: {
        /* the grad function when the library gives one, else differences */
        const SymExtern *ex = &S->externs[fn];
        uint32_t deriv = x->u.var;
        if (deriv == 0 && ex->grad)
            return sym_ext(S, ex->grad[i], x->args, x->n, 0);
        int depth = 0;
        for (uint32_t d = deriv; d; d >>= 4)
            depth++;
        if (depth >= 3)
            return S->zero; /* beyond third derivatives: not needed by any job */
        return sym_ext(S, fn, x->args, x->n, deriv | (uint32_t)(1 + i) << (4 * depth));
    }
    default: /* vector nodes have their own rules (vec_diff, sym_grad) */
        return S->zero;
    }
    switch ((SymFn)fn) {
    case FN_SIN: return sym_fn(S, FN_COS, a, 0);
    case FN_COS: return sym_neg(S, sym_fn(S, FN_SIN, a, 0));
    case FN_TAN: return sym_add2(S, S->one, sym_powi(S, id, 2));
    case FN_ASIN:
        return sym_powi(S, sym_fn(S, FN_SQRT, sym_sub(S, S->one, sym_powi(S, a, 2)), 0), -1);
    case FN_ACOS:
        return sym_neg(S,
                       sym_powi(S, sym_fn(S, FN_SQRT, sym_sub(S, S->one, sym_powi(S, a, 2)), 0), -1));
    case FN_ATAN: return sym_powi(S, sym_add2(S, S->one, sym_powi(S, a, 2)), -1);
    case FN_ATAN2: { /* atan2(y, x): d/dy = x/(x²+y²), d/dx = -y/(x²+y²) */
        SymId r2 = sym_powi(S, sym_add2(S, sym_powi(S, a, 2), sym_powi(S, b, 2)), -1);
        return i == 0 ? sym_mul2(S, b, r2) : sym_neg(S, sym_mul2(S, a, r2));
    }
    case FN_SINH: return sym_fn(S, FN_COSH, a, 0);
    case FN_COSH: return sym_fn(S, FN_SINH, a, 0);
    case FN_TANH: return sym_sub(S, S->one, sym_powi(S, id, 2));
    case FN_EXP: return id;
    case FN_LOG: return sym_powi(S, a, -1);
    case FN_SQRT: return sym_mul2(S, sym_num(S, 0.5), sym_powi(S, id, -1));
    case FN_ABS: return sym_fn(S, FN_SIGN, a, 0);
    case FN_SIGN: return S->zero;
    case FN_MIN:   /* min(a, b) = (a + b - |a - b|)/2 */
    case FN_MAX: { /* max(a, b) = (a + b + |a - b|)/2 */
        SymId s = sym_fn(S, FN_SIGN, sym_sub(S, a, b), 0);
        double sg = (fn == FN_MAX) == (i == 0) ? 0.5 : -0.5;
        return sym_add2(S, sym_num(S, 0.5), sym_mul2(S, sym_num(S, sg), s));
    }
    case FN_COUNT:
        break;
    }
    return S->zero;
}

static SymId diff_rec(Sym *S, SymId id, int var)
{
    if (id < S->capmemo && S->memo[id])
        return S->memo[id];
    const SymNode *x = &S->nodes[id];
    SymId r;
    if (x->op == SYM_NUM)
        r = S->zero;
    else if (x->op == SYM_VAR)
        r = var == JVP_VAR ? (S->seed[x->u.var] ? S->seed[x->u.var] : S->zero)
                           : (int)x->u.var == var ? S->one : S->zero;
    else if (x->op >= SYM_VEC && x->op != SYM_EXT)
        r = vec_diff(S, id, var);
    else {
        IdList terms;
        il_init(&terms);
        int n = x->n;
        for (int i = 0; i < n; i++) {
            SymId arg = S->nodes[id].args[i];
            SymId d = diff_rec(S, arg, var);
            if (d == S->zero)
                continue;
            il_push(&terms, sym_mul2(S, local_partial(S, id, i), d));
        }
        r = sym_add(S, terms.v, terms.n);
        il_free(&terms);
    }
    if (id >= S->capmemo) {
        uint32_t cap = S->capmemo ? S->capmemo : 1024;
        while (cap <= id)
            cap *= 2;
        S->memo = mem_xrealloc(S->memo, (size_t)cap * sizeof *S->memo);
        memset(S->memo + S->capmemo, 0, (size_t)(cap - S->capmemo) * sizeof *S->memo);
        S->capmemo = cap;
    }
    S->memo[id] = r;
    return r;
}

SymId sym_diff(Sym *S, SymId id, int var)
{
    if (S->memo_var != var) {
        if (S->memo)
            memset(S->memo, 0, (size_t)S->capmemo * sizeof *S->memo);
        S->memo_var = var;
    }
    return diff_rec(S, id, var);
}

/* Point the derivative memo at direction d's tangents: the seeds, and the
 * tangents of the nodes below limit (tan, or none); nodes made since have
 * none yet. */
static void load_direction(Sym *S, const int *vars, int n, const SymId *dir, uint32_t limit, const SymId *tan)
{
    if (S->memo)
        memset(S->memo, 0, (size_t)S->capmemo * sizeof *S->memo);
    if (tan && S->capmemo)
        memcpy(S->memo, tan, (size_t)(limit < S->capmemo ? limit : S->capmemo) * sizeof *S->memo);
    S->memo_var = JVP_VAR;
    memset(S->seed, 0, (size_t)(S->nvars + 1) * sizeof *S->seed);
    for (int i = 0; i < n; i++)
        S->seed[vars[i]] = dir[i];
}

SymId sym_jvp(Sym *S, SymId id, const int *vars, const SymId *dirs, int n)
{
    S->seed = mem_xalloc((size_t)(S->nvars + 1) * sizeof *S->seed);
    load_direction(S, vars, n, dirs, 0, NULL);
    SymId r = diff_rec(S, id, JVP_VAR);
    mem_free(S->seed);
    S->seed = NULL;
    /* the memo holds this direction's tangents: the next sym_diff resets it */
    return r;
}

/* Mark the nodes reachable from `root` (ids below `limit`). */
static void mark(const Sym *S, SymId root, char *seen)
{
    if (seen[root])
        return;
    seen[root] = 1;
    const SymNode *x = &S->nodes[root];
    for (int i = 0; i < x->n; i++)
        mark(S, x->args[i], seen);
}

/* Add contribution `c` to the adjoint list of node `to`. */
static void contribute(Sym *S, IdList *adj, SymId to, SymId c)
{
    if (S->nodes[to].op == SYM_NUM || S->nodes[to].op == SYM_VONES)
        return;
    if (adj[to].n < 0)
        il_init(&adj[to]);
    il_push(&adj[to], c);
}

/* The sum of a node's adjoint contributions (scalars or vectors). */
static SymId adjoint_total(Sym *S, SymId id, IdList *l)
{
    if (S->nodes[id].len == 0)
        return sym_add(S, l->v, l->n);
    SymId t = l->v[0];
    for (int i = 1; i < l->n; i++)
        t = sym_vadd(S, t, l->v[i]);
    return t;
}

/* The reverse sweep from root over the nodes below limit marked in seen:
 * total[id] is the adjoint of node id (0 where none reaches it). */
static void adjoints(Sym *S, SymId root, uint32_t limit, const char *seen, SymId *total)
{
    IdList *adj = mem_xalloc((size_t)limit * sizeof *adj);
    for (uint32_t i = 0; i < limit; i++)
        adj[i].n = -1; /* not started */
    il_init(&adj[root]);
    il_push(&adj[root], S->one);
    memset(total, 0, (size_t)limit * sizeof *total);
    /* Ids are a topological order: a node's users all have larger ids. */
    for (uint32_t id = limit - 1; id > 0; id--) {
        if (!seen[id] || adj[id].n < 0)
            continue;
        SymId a = adjoint_total(S, id, &adj[id]);
        il_free(&adj[id]);
        total[id] = a;
        if (a == S->zero || is_vzero(S, a))
            continue;
        SymNode x = S->nodes[id]; /* a copy: nodes may move below */
        switch ((SymOp)x.op) {
        case SYM_NUM:
        case SYM_VAR:
        case SYM_VPARAM:
        case SYM_VONES:
            break;
        case SYM_VEC:
            for (int i = 0; i < x.n; i++)
                contribute(S, adj, x.args[i], sym_comp(S, a, i));
            break;
        case SYM_COMP: {
            /* the i-th unit vector, scaled */
            int len = (int)S->nodes[x.args[0]].len;
            SymId *e = mem_xalloc((size_t)len * sizeof *e);
            for (int i = 0; i < len; i++)
                e[i] = (uint32_t)i == x.u.var ? a : S->zero;
            contribute(S, adj, x.args[0], sym_vec(S, e, len));
            mem_free(e);
            break;
        }
        case SYM_SUMV:
            contribute(S, adj, x.args[0], sym_vscale(S, a, sym_vones(S, (int)S->nodes[x.args[0]].len)));
            break;
        case SYM_MATVEC:
            contribute(S, adj, x.args[0], sym_mattvec(S, (int)x.u.var, a));
            break;
        case SYM_MATTVEC:
            contribute(S, adj, x.args[0], sym_matvec(S, (int)x.u.var, a));
            break;
        case SYM_VADD:
            contribute(S, adj, x.args[0], a);
            contribute(S, adj, x.args[1], a);
            break;
        case SYM_VMUL:
            contribute(S, adj, x.args[0], sym_vmul(S, a, x.args[1]));
            contribute(S, adj, x.args[1], sym_vmul(S, a, x.args[0]));
            break;
        case SYM_VSCALE:
            contribute(S, adj, x.args[0], sym_dot(S, a, x.args[1]));
            contribute(S, adj, x.args[1], sym_vscale(S, x.args[0], a));
            break;
        case SYM_ACT:
            contribute(S, adj, x.args[0],
                       sym_vmul(S, a, sym_act(S, (SymAct)x.fn, (int)x.u.var + 1, x.args[0])));
            break;
        default: /* scalar operations: the local partial derivatives */
            for (int i = 0; i < x.n; i++)
                contribute(S, adj, x.args[i], sym_mul2(S, a, local_partial(S, id, i)));
            break;
        }
    }
    for (uint32_t i = 0; i < limit; i++)
        if (adj[i].n >= 0)
            il_free(&adj[i]);
    mem_free(adj);
}

void sym_grad(Sym *S, SymId root, const int *vars, int n, SymId *out)
{
    uint32_t limit = S->nnodes; /* nodes created below are not part of the sweep */
    char *seen = mem_xalloc(limit);
    memset(seen, 0, limit);
    mark(S, root, seen);
    SymId *total = mem_xalloc((size_t)limit * sizeof *total);
    adjoints(S, root, limit, seen, total);
    for (int k = 0; k < n; k++) {
        SymId v = sym_var(S, vars[k]);
        out[k] = v < limit && seen[v] ? total[v] : S->zero;
    }
    mem_free(total);
    mem_free(seen);
}

void sym_hess_forms(Sym *S, SymId root, const int *vars, int n, const SymId *dirs, int ndirs,
                    const int *pairs, int npairs, SymId *out)
{
    uint32_t limit = S->nnodes;
    char *seen = mem_xalloc(limit);
    memset(seen, 0, limit);
    mark(S, root, seen);
    SymId *total = mem_xalloc((size_t)limit * sizeof *total);
    adjoints(S, root, limit, seen, total);
    /* every node's tangent along every direction (forward passes only) */
    S->seed = mem_xalloc((size_t)(S->nvars + 1) * sizeof *S->seed);
    SymId *tan = mem_xalloc((size_t)ndirs * limit * sizeof *tan);
    for (int d = 0; d < ndirs; d++) {
        load_direction(S, vars, n, dirs + (size_t)d * n, limit, NULL);
        diff_rec(S, root, JVP_VAR);
        for (uint32_t id = 0; id < limit; id++)
            tan[(size_t)d * limit + id] = seen[id] && id < S->capmemo ? S->memo[id] : 0;
    }
    IdList *terms = mem_xalloc((size_t)npairs * sizeof *terms);
    for (int k = 0; k < npairs; k++)
        il_init(&terms[k]);
    /* H[u, v] = sum over the nodes of adjoint x the node's second
     * derivative along the tangents of its operands: for a scalar node,
     * sum_i D_v(partial_i) udot_i (D_v by the memo of direction v); for an
     * activation, act''(z) zdot_u zdot_v; for products of vectors, the
     * cross terms; linear nodes contribute nothing */
    for (int dv = 0; dv < ndirs; dv++) {
        load_direction(S, vars, n, dirs + (size_t)dv * n, limit, tan + (size_t)dv * limit);
        for (int k = 0; k < npairs; k++) {
            if (pairs[2 * k + 1] != dv)
                continue;
            const SymId *tu = tan + (size_t)pairs[2 * k] * limit, *tv = tan + (size_t)dv * limit;
            for (uint32_t id = 1; id < limit; id++) {
                SymId a = seen[id] ? total[id] : 0;
                if (!a || a == S->zero || is_vzero(S, a))
                    continue;
                SymNode x = S->nodes[id];
                SymId term = 0;
                switch ((SymOp)x.op) {
                case SYM_NUM: case SYM_VAR: case SYM_ADD: case SYM_VPARAM: case SYM_VONES: case SYM_VEC:
                case SYM_COMP: case SYM_SUMV: case SYM_MATVEC: case SYM_MATTVEC: case SYM_VADD:
                    break;
                case SYM_ACT: {
                    SymId z = x.args[0];
                    if (!tu[z] || !tv[z] || is_vzero(S, tu[z]) || is_vzero(S, tv[z]))
                        break;
                    /* (a act''(z)) is shared by every pair, (a act''(z)) zdot_u by
                     * every pair with that u: one product and a sum per pair */
                    SymId w = sym_vmul(S, a, sym_act(S, (SymAct)x.fn, (int)x.u.var + 2, z));
                    term = sym_dot(S, sym_vmul(S, w, tu[z]), tv[z]);
                    break;
                }
                case SYM_VMUL: {
                    SymId p = x.args[0], q = x.args[1];
                    SymId c1 = tu[p] && tv[q] ? sym_vmul(S, tu[p], tv[q]) : 0;
                    SymId c2 = tv[p] && tu[q] ? sym_vmul(S, tv[p], tu[q]) : 0;
                    SymId c = c1 && c2 ? sym_vadd(S, c1, c2) : c1 ? c1 : c2;
                    if (c)
                        term = sym_dot(S, a, c);
                    break;
                }
                case SYM_VSCALE: {
                    SymId sc = x.args[0], v = x.args[1];
                    SymId t1 = tu[sc] && tv[v] ? sym_mul2(S, tu[sc], sym_dot(S, a, tv[v])) : S->zero;
                    SymId t2 = tv[sc] && tu[v] ? sym_mul2(S, tv[sc], sym_dot(S, a, tu[v])) : S->zero;
                    term = sym_add2(S, t1, t2);
                    break;
                }
                default: { /* scalar: MUL, POW, FN, EXT */
                    IdList l;
                    il_init(&l);
                    for (int i = 0; i < x.n; i++) {
                        SymId ui = tu[S->nodes[id].args[i]];
                        if (!ui || ui == S->zero)
                            continue;
                        SymId dp = diff_rec(S, local_partial(S, id, i), JVP_VAR);
                        if (dp != S->zero)
                            il_push(&l, sym_mul2(S, dp, ui));
                    }
                    term = sym_mul2(S, a, sym_add(S, l.v, l.n));
                    il_free(&l);
                    break;
                }
                }
                if (term && term != S->zero)
                    il_push(&terms[k], term);
            }
        }
    }
    for (int k = 0; k < npairs; k++) {
        out[k] = sym_add(S, terms[k].v, terms[k].n);
        il_free(&terms[k]);
    }
    mem_free(terms);
    mem_free(tan);
    mem_free(S->seed);
    S->seed = NULL;
    if (S->memo)
        memset(S->memo, 0, (size_t)S->capmemo * sizeof *S->memo);
    S->memo_var = JVP_VAR;
    mem_free(total);
    mem_free(seen);
}

/* ---------- substitution and evaluation ---------- */

/* Rebuild id with numbers (value[v] where has[v]) or expressions (with[v]
 * where nonzero) in place of variables. */
static SymId subst_rec(Sym *S, SymId id, const double *value, const char *has, const SymId *with, SymId *memo)
{
    if (memo[id])
        return memo[id];
    const SymNode *x = &S->nodes[id];
    SymId r = id;
    if (x->op == SYM_VAR) {
        if (has && has[x->u.var])
            r = sym_num(S, value[x->u.var]);
        else if (with && with[x->u.var])
            r = with[x->u.var];
    } else if (x->n) {
        int n = x->n, op = x->op, fn = x->fn;
        SymId a[n];
        for (int i = 0; i < n; i++)
            a[i] = subst_rec(S, S->nodes[id].args[i], value, has, with, memo);
        uint32_t pay = S->nodes[id].u.var;
        switch (op) {
        case SYM_ADD: r = sym_add(S, a, n); break;
        case SYM_MUL: r = sym_mul(S, a, n); break;
        case SYM_POW: r = sym_pow(S, a[0], a[1]); break;
        case SYM_FN: r = sym_fn(S, (SymFn)fn, a[0], n > 1 ? a[1] : 0); break;
        case SYM_VEC: r = sym_vec(S, a, n); break;
        case SYM_COMP: r = sym_comp(S, a[0], (int)pay); break;
        case SYM_SUMV: r = sym_sumv(S, a[0]); break;
        case SYM_MATVEC: r = sym_matvec(S, (int)pay, a[0]); break;
        case SYM_MATTVEC: r = sym_mattvec(S, (int)pay, a[0]); break;
        case SYM_VADD: r = sym_vadd(S, a[0], a[1]); break;
        case SYM_VMUL: r = sym_vmul(S, a[0], a[1]); break;
        case SYM_VSCALE: r = sym_vscale(S, a[0], a[1]); break;
        case SYM_ACT: r = sym_act(S, (SymAct)fn, (int)pay, a[0]); break;
        case SYM_EXT: r = sym_ext(S, fn, a, n, pay); break;
        default: break;
        }
    }
    memo[id] = r;
    return r;
}

SymId sym_subst(Sym *S, SymId id, const double *value, const char *has)
{
    uint32_t limit = S->nnodes;
    SymId *memo = mem_xalloc((size_t)limit * sizeof *memo);
    memset(memo, 0, (size_t)limit * sizeof *memo);
    SymId r = subst_rec(S, id, value, has, NULL, memo);
    mem_free(memo);
    return r;
}

SymId sym_replace(Sym *S, SymId id, const SymId *with)
{
    uint32_t limit = S->nnodes;
    SymId *memo = mem_xalloc((size_t)limit * sizeof *memo);
    memset(memo, 0, (size_t)limit * sizeof *memo);
    SymId r = subst_rec(S, id, NULL, NULL, with, memo);
    mem_free(memo);
    return r;
}

/* Evaluate node `id` (and what it needs); val[id] holds its value: one
 * double for a scalar, len for a vector. */
static const double *eval_rec(const Sym *S, SymId id, const double *x, double **val)
{
    if (val[id])
        return val[id];
    const SymNode *n = &S->nodes[id];
    size_t len = n->len ? n->len : 1;
    double *v = mem_xalloc(len * sizeof *v);
    const double *a = n->n > 0 ? eval_rec(S, n->args[0], x, val) : NULL;
    const double *b = n->n > 1 ? eval_rec(S, n->args[1], x, val) : NULL;
    switch ((SymOp)n->op) {
    case SYM_NUM: v[0] = n->u.num; break;
    case SYM_VAR: v[0] = x[n->u.var]; break;
    case SYM_ADD:
        v[0] = 0;
        for (int i = 0; i < n->n; i++)
            v[0] += eval_rec(S, n->args[i], x, val)[0];
        break;
    case SYM_MUL:
        v[0] = 1;
        for (int i = 0; i < n->n; i++)
            v[0] *= eval_rec(S, n->args[i], x, val)[0];
        break;
    case SYM_POW:
        v[0] = b[0] == 2 ? a[0] * a[0] : b[0] == -1 ? 1 / a[0] : pow(a[0], b[0]);
        break;
    case SYM_FN: v[0] = sym_fn_eval((SymFn)n->fn, a[0], b ? b[0] : 0); break;
    case SYM_VEC:
        for (int i = 0; i < n->n; i++)
            v[i] = eval_rec(S, n->args[i], x, val)[0];
        break;
    case SYM_COMP: v[0] = a[n->u.var]; break;
    case SYM_SUMV:
        v[0] = 0;
        for (uint32_t i = 0; i < S->nodes[n->args[0]].len; i++)
            v[0] += a[i];
        break;
    case SYM_VPARAM:
        for (size_t i = 0; i < len; i++)
            v[i] = S->tensors[n->u.var].data[i];
        break;
    case SYM_VONES:
        for (size_t i = 0; i < len; i++)
            v[i] = 1;
        break;
    case SYM_MATVEC:
    case SYM_MATTVEC: {
        const SymTensor *W = &S->tensors[n->u.var];
        for (size_t i = 0; i < len; i++)
            v[i] = 0;
        for (int r = 0; r < W->rows; r++)
            for (int c = 0; c < W->cols; c++) {
                double w = W->data[r * W->cols + c];
                if (n->op == SYM_MATVEC)
                    v[r] += w * a[c];
                else
                    v[c] += w * a[r];
            }
        break;
    }
    case SYM_VADD:
        for (size_t i = 0; i < len; i++)
            v[i] = a[i] + b[i];
        break;
    case SYM_VMUL:
        for (size_t i = 0; i < len; i++)
            v[i] = a[i] * b[i];
        break;
    case SYM_VSCALE:
        for (size_t i = 0; i < len; i++)
            v[i] = a[0] * b[i];
        break;
    case SYM_ACT:
        for (size_t i = 0; i < len; i++)
            v[i] = sym_act_eval((SymAct)n->fn, (int)n->u.var, a[i]);
        break;
    case SYM_EXT: {
        double xs[16];
        for (int i = 0; i < n->n && i < 16; i++)
            xs[i] = eval_rec(S, n->args[i], x, val)[0];
        v[0] = sym_ext_eval(&S->externs[n->fn], n->u.var, xs);
        break;
    }
    }
    val[id] = v;
    return v;
}

double sym_eval(const Sym *S, SymId id, const double *x)
{
    double **val = mem_xalloc((size_t)(id + 1) * sizeof *val);
    memset(val, 0, (size_t)(id + 1) * sizeof *val);
    double v = eval_rec(S, id, x, val)[0];
    for (SymId i = 0; i <= id; i++)
        mem_free(val[i]);
    mem_free(val);
    return v;
}

/* ---------- sizes ---------- */

/* Operations a node costs when written out: n-1 for an n-ary sum or
 * product, one for a power or a call; a coefficient -1 costs nothing (the
 * sum it stands in subtracts the term), as SymPy's count_ops counts a - b
 * as one operation. */
static long node_ops(const Sym *S, SymId id)
{
    const SymNode *x = &S->nodes[id];
    double c;
    switch ((SymOp)x->op) {
    case SYM_NUM:
    case SYM_VAR: return 0;
    case SYM_ADD: return x->n - 1;
    case SYM_MUL:
        /* a factor -1 is the sign of a term: a subtraction in its sum */
        return x->n - 1 - (sym_is_num(S, x->args[0], &c) && c == -1);
    default: return 1;
    }
}

long sym_ops_tree(const Sym *S, SymId id)
{
    const SymNode *x = &S->nodes[id];
    long n = node_ops(S, id);
    for (int i = 0; i < x->n; i++)
        n += sym_ops_tree(S, x->args[i]);
    return n;
}

/* A map from (left, right) pairs to names: the binary products a lowering
 * shares.  Names continue the node ids, so they never collide with them. */
typedef struct PairSet {
    uint64_t *keys;
    uint32_t *names;
    size_t cap, len;
    uint32_t next;
} PairSet;

static size_t pair_slot(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

/* The name of the pair; *is_new tells whether it was first seen now. */
static uint32_t pair_name(PairSet *ps, uint64_t key, int *is_new)
{
    if (2 * (ps->len + 1) > ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 1024;
        uint64_t *k = mem_xalloc(cap * sizeof *k);
        uint32_t *nm = mem_xalloc(cap * sizeof *nm);
        memset(k, 0, cap * sizeof *k);
        for (size_t i = 0; i < ps->cap; i++)
            if (ps->keys[i]) {
                size_t j = pair_slot(ps->keys[i], cap);
                while (k[j])
                    j = (j + 1) & (cap - 1);
                k[j] = ps->keys[i];
                nm[j] = ps->names[i];
            }
        mem_free(ps->keys);
        mem_free(ps->names);
        ps->keys = k;
        ps->names = nm;
        ps->cap = cap;
    }
    size_t j = pair_slot(key, ps->cap);
    for (; ps->keys[j]; j = (j + 1) & (ps->cap - 1))
        if (ps->keys[j] == key) {
            *is_new = 0;
            return ps->names[j];
        }
    ps->keys[j] = key;
    ps->names[j] = ps->next++;
    ps->len++;
    *is_new = 1;
    return ps->names[j];
}

/* Operations after common sub-expressions: every distinct node once, and
 * products taken two factors at a time from the left in id order (the
 * coefficient first), each distinct partial product once, so c*x^2*sin(u)
 * and c*x^2*sin(v) share c*x^2. */
long sym_ops_dag(Sym *S, const SymId *roots, int n)
{
    char *seen = mem_xalloc(S->nnodes);
    memset(seen, 0, S->nnodes);
    for (int i = 0; i < n; i++)
        mark(S, roots[i], seen);
    PairSet ps = {0};
    ps.next = S->nnodes;
    long ops = 0;
    for (uint32_t id = 1; id < S->nnodes; id++) {
        if (!seen[id])
            continue;
        const SymNode *x = &S->nodes[id];
        double c;
        if (x->op != SYM_MUL) {
            ops += node_ops(S, id);
            continue;
        }
        int k = 0;
        if (sym_is_num(S, x->args[0], &c) && c == -1)
            k = 1; /* the sign: free */
        uint32_t left = x->args[k];
        for (int i = k + 1; i < x->n; i++) {
            int is_new;
            left = pair_name(&ps, (uint64_t)left << 32 | x->args[i], &is_new);
            ops += is_new;
        }
    }
    mem_free(ps.keys);
    mem_free(ps.names);
    mem_free(seen);
    return ops;
}
