/*
 * lang/lower.c — from the symbolic graph to IR (see lower.h).
 *
 * Three steps.  (1) Walk the nodes reachable from the roots in id order
 * (a topological order) and emit instructions on virtual registers, with
 * value numbering: an instruction with the same operation and operands as
 * an earlier one is not emitted again, so common sub-expressions, including
 * partial products, are computed once.  Sums subtract their negative terms;
 * powers become SQR, RECIP, SQRT or POWI where they can.  (2) Registers are
 * reused by liveness (linear scan); the operands of a SOLVE are copied into
 * a block of consecutive registers reserved at the end.  (3) The program is
 * verified.
 *
 * Vector nodes (networks) become vector instructions on spans of registers.
 * Their virtual registers are numbered from VBASE up, a span's components
 * consecutively; they are placed after the scalar registers and reused by
 * liveness too, a free span for a new one of the same length.
 */
#include "lang/lower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mem.h"

typedef struct Key {
    int op, b, c;
    double k; /* constant value, input index or exponent */
} Key;

typedef struct Lower {
    Mech *m;
    Sym *S;
    IrProgram *p;
    int nvirt;         /* virtual registers */
    int *reg;          /* node id -> virtual register (0: none; registers are 1-based here) */
    uint32_t capreg;
    Key *keys;         /* value numbering: open-addressing table of instruction keys */
    int *vals;
    size_t capkeys, nkeys;
    char *shared;      /* virtual register -> depends only on constants and parameters */
    int capshared;
    int *varkind, *varindex; /* Sym variable -> IR input */
    int nvec;          /* virtual registers taken by vector spans */
    int *vbase;        /* span component (offset from VBASE) -> its span's first offset */
    int capvec;
    int keep;          /* a tape: no register or span is reused (lower_rhs_tape) */
} Lower;

enum { IN_NONE, IN_STATE, IN_PARAM, IN_TIME };

#define VBASE (1 << 28)      /* the first virtual register of vector spans */
#define ISV(v) ((v) >= VBASE) /* a component of a vector span */

static size_t key_hash(const Key *k)
{
    uint64_t bits;
    memcpy(&bits, &k->k, sizeof bits);
    uint64_t h = (uint64_t)k->op * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uint32_t)k->b * 0xc2b2ae3d27d4eb4full ^
                 (uint64_t)(uint32_t)k->c * 0x165667b19e3779f9ull ^ bits * 0x27d4eb2f165667c5ull;
    return (size_t)(h ^ (h >> 29));
}

static int key_eq(const Key *a, const Key *b)
{
    return a->op == b->op && a->b == b->b && a->c == b->c && memcmp(&a->k, &b->k, sizeof a->k) == 0;
}

static int new_span(Lower *L, int len);

/* Emit an instruction producing a new virtual register (a span of len
 * registers when len > 0), unless the same one exists already (value
 * numbering).  Returns the register. */
static int emit_n(Lower *L, IrOp op, int b, int c, double k, int len)
{
    if ((op == IR_ADD || op == IR_MUL || op == IR_MIN || op == IR_MAX || op == IR_VADD ||
         op == IR_VMUL) && b > c) {
        int t = b;
        b = c;
        c = t;
    }
    Key key = {op, b, c, k};
    if (2 * (L->nkeys + 1) > L->capkeys) {
        size_t cap = L->capkeys ? 2 * L->capkeys : 1024;
        Key *keys = mem_xalloc(cap * sizeof *keys);
        int *vals = mem_xalloc(cap * sizeof *vals);
        for (size_t i = 0; i < cap; i++)
            vals[i] = 0;
        for (size_t i = 0; i < L->capkeys; i++)
            if (L->vals[i]) {
                size_t j = key_hash(&L->keys[i]) & (cap - 1);
                while (vals[j])
                    j = (j + 1) & (cap - 1);
                keys[j] = L->keys[i];
                vals[j] = L->vals[i];
            }
        mem_free(L->keys);
        mem_free(L->vals);
        L->keys = keys;
        L->vals = vals;
        L->capkeys = cap;
    }
    size_t j = key_hash(&key) & (L->capkeys - 1);
    for (; L->vals[j]; j = (j + 1) & (L->capkeys - 1))
        if (key_eq(&L->keys[j], &key))
            return L->vals[j];
    int imm = op == IR_CONST ? ir_konst(L->p, k) : (int)k;
    if (len) {
        int a = new_span(L, len);
        ir_emit(L->p, op, a, b, c, imm);
        L->keys[j] = key;
        L->vals[j] = a;
        L->nkeys++;
        return a;
    }
    int a = ++L->nvirt;
    ir_emit(L->p, op, a, b, c, imm);
    if (a >= L->capshared) {
        int cap = L->capshared ? 2 * L->capshared : 256;
        while (cap <= a)
            cap *= 2;
        L->shared = mem_xrealloc(L->shared, (size_t)cap);
        memset(L->shared + L->capshared, 0, (size_t)(cap - L->capshared));
        L->capshared = cap;
    }
    int ns = ir_op_sources(op);
    /* vector spans are never shared (hoisted): nor is what reads them */
    L->shared[a] = op == IR_CONST || op == IR_PARAM ||
                   (ns >= 1 && op != IR_STATE && op != IR_TIME && !ISV(b) && L->shared[b] &&
                    (ns < 2 || (!ISV(c) && L->shared[c])));
    L->keys[j] = key;
    L->vals[j] = a;
    L->nkeys++;
    return a;
}

static int emit(Lower *L, IrOp op, int b, int c, double k)
{
    return emit_n(L, op, b, c, k, 0);
}

/* A new span of len virtual registers: its first one. */
static int new_span(Lower *L, int len)
{
    int base = L->nvec;
    if (base + len > L->capvec) {
        int cap = L->capvec ? 2 * L->capvec : 1024;
        while (cap < base + len)
            cap *= 2;
        L->vbase = mem_xrealloc(L->vbase, (size_t)cap * sizeof *L->vbase);
        L->capvec = cap;
    }
    for (int i = 0; i < len; i++)
        L->vbase[base + i] = base;
    L->nvec += len;
    return VBASE + base;
}

static int konst(Lower *L, double v)
{
    return emit(L, IR_CONST, 0, 0, v);
}

static int node_reg(Lower *L, SymId id);

/* The product of factors f[0..n) times coef (coef > 0 here; signs are the
 * caller's), taken from the left in id order so partial products are
 * shared. */
static int product(Lower *L, double coef, const SymId *f, int n)
{
    /* the factors that depend only on parameters first, times the
     * coefficient, so that part is hoisted to the prologue; then the rest */
    int *regs = mem_xalloc((size_t)(n + 1) * sizeof *regs);
    for (int i = 0; i < n; i++)
        regs[i] = node_reg(L, f[i]);
    int r = coef != 1 ? konst(L, coef) : 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            int shared = regs[i] < L->capshared && L->shared[regs[i]];
            if (shared != (pass == 0))
                continue;
            r = r ? emit(L, IR_MUL, r, regs[i], 0) : regs[i];
        }
    mem_free(regs);
    return r ? r : konst(L, coef);
}

/* A term of a sum as (sign, register of its magnitude). */
static int term_abs(Lower *L, SymId t, int *negative)
{
    const SymNode *x = &L->S->nodes[t];
    double c;
    *negative = 0;
    if (x->op == SYM_NUM) {
        *negative = x->u.num < 0;
        return konst(L, fabs(x->u.num));
    }
    if (x->op == SYM_MUL && sym_is_num(L->S, x->args[0], &c)) {
        *negative = c < 0;
        return product(L, fabs(c), x->args + 1, x->n - 1);
    }
    return node_reg(L, t);
}

/* The program's slot of the symbolic tensor t (its values as set now). */
static int tensor_slot(Lower *L, int t)
{
    const SymTensor *w = &L->S->tensors[t];
    return ir_tensor(L->p, w->name, w->rows, w->cols, w->data);
}

static const IrOp fn_ops[FN_COUNT] = {
    [FN_SIN] = IR_SIN,     [FN_COS] = IR_COS,   [FN_TAN] = IR_TAN,   [FN_ASIN] = IR_ASIN,
    [FN_ACOS] = IR_ACOS,   [FN_ATAN] = IR_ATAN, [FN_ATAN2] = IR_ATAN2, [FN_SINH] = IR_SINH,
    [FN_COSH] = IR_COSH,   [FN_TANH] = IR_TANH, [FN_EXP] = IR_EXP,   [FN_LOG] = IR_LOG,
    [FN_SQRT] = IR_SQRT,   [FN_ABS] = IR_ABS,   [FN_SIGN] = IR_SIGN, [FN_MIN] = IR_MIN,
    [FN_MAX] = IR_MAX,
};

static int lower_node(Lower *L, SymId id)
{
    SymNode x = L->S->nodes[id]; /* a copy */
    double c, e;
    switch ((SymOp)x.op) {
    case SYM_NUM:
        return konst(L, x.u.num);
    case SYM_VAR: {
        int v = (int)x.u.var;
        switch (L->varkind[v]) {
        case IN_STATE: return emit(L, IR_STATE, 0, 0, L->varindex[v]);
        case IN_PARAM: return emit(L, IR_PARAM, 0, 0, L->varindex[v]);
        case IN_TIME: L->p->uses_time = 1; return emit(L, IR_TIME, 0, 0, 0);
        default: return konst(L, NAN);
        }
    }
    case SYM_ADD: {
        int r = 0, start = -1;
        for (int i = 0; i < x.n && start < 0; i++) {
            int neg;
            int a = term_abs(L, x.args[i], &neg);
            if (!neg) {
                r = a;
                start = i;
            }
        }
        if (start < 0) { /* every term negative: -(first) - ... */
            int neg;
            r = emit(L, IR_NEG, term_abs(L, x.args[0], &neg), 0, 0);
            start = 0;
        }
        for (int i = 0; i < x.n; i++) {
            if (i == start)
                continue;
            int neg;
            int a = term_abs(L, x.args[i], &neg);
            r = emit(L, neg ? IR_SUB : IR_ADD, r, a, 0);
        }
        return r;
    }
    case SYM_MUL:
        if (sym_is_num(L->S, x.args[0], &c)) {
            int r = product(L, fabs(c), x.args + 1, x.n - 1);
            return c < 0 ? emit(L, IR_NEG, r, 0, 0) : r;
        }
        return product(L, 1, x.args, x.n);
    case SYM_POW: {
        int b = node_reg(L, x.args[0]);
        if (!sym_is_num(L->S, x.args[1], &e))
            return emit(L, IR_POW, b, node_reg(L, x.args[1]), 0);
        if (e == 2)
            return emit(L, IR_SQR, b, 0, 0);
        if (e == -1)
            return emit(L, IR_RECIP, b, 0, 0);
        if (e == 0.5)
            return emit(L, IR_SQRT, b, 0, 0);
        if (e == -0.5)
            return emit(L, IR_RECIP, emit(L, IR_SQRT, b, 0, 0), 0, 0);
        if (e == floor(e) && fabs(e) <= 64)
            return emit(L, IR_POWI, b, 0, e);
        return emit(L, IR_POW, b, konst(L, e), 0);
    }
    case SYM_FN: {
        int a = node_reg(L, x.args[0]);
        if (x.n > 1)
            return emit(L, fn_ops[x.fn], a, node_reg(L, x.args[1]), 0);
        return emit(L, fn_ops[x.fn], a, 0, 0);
    }
    case SYM_EXT: {
        const SymExtern *ex = &L->S->externs[x.fn];
        int regs[16];
        for (int i = 0; i < x.n && i < 16; i++)
            regs[i] = node_reg(L, x.args[i]);
        int slot = ir_extern(L->p, ex->name, ex->fn, ex->nargs, x.u.var, ex->data);
        int at = ir_aux(L->p, regs, x.n);
        int a = ++L->nvirt; /* a call is never shared by value numbering: it is cheap to keep */
        ir_emit(L->p, IR_CALL, a, at, x.n, slot);
        return a;
    }
    case SYM_VEC: { /* scalars assembled: moved into a span */
        int *r = mem_xalloc((size_t)x.n * sizeof *r);
        for (int i = 0; i < x.n; i++)
            r[i] = node_reg(L, x.args[i]);
        int a = new_span(L, x.n);
        for (int i = 0; i < x.n; i++)
            ir_emit(L->p, IR_MOV, a + i, r[i], 0, 0);
        mem_free(r);
        return a;
    }
    case SYM_COMP:
        return emit(L, IR_MOV, node_reg(L, x.args[0]) + (int)x.u.var, 0, 0);
    case SYM_SUMV:
        return emit(L, IR_VSUM, node_reg(L, x.args[0]), 0, L->S->nodes[x.args[0]].len);
    case SYM_VPARAM:
        return emit_n(L, IR_VLOAD, 0, tensor_slot(L, (int)x.u.var), x.len, (int)x.len);
    case SYM_VONES:
        return emit_n(L, IR_VONES, 0, 0, x.len, (int)x.len);
    case SYM_MATVEC:
    case SYM_MATTVEC: {
        int b = node_reg(L, x.args[0]);
        return emit_n(L, x.op == SYM_MATVEC ? IR_VMATVEC : IR_VMATTVEC, b,
                      tensor_slot(L, (int)x.u.var), x.len, (int)x.len);
    }
    case SYM_VADD:
    case SYM_VMUL:
    case SYM_VSCALE: {
        int b = node_reg(L, x.args[0]), c2 = node_reg(L, x.args[1]);
        IrOp op = x.op == SYM_VADD ? IR_VADD : x.op == SYM_VMUL ? IR_VMUL : IR_VSCALE;
        return emit_n(L, op, b, c2, x.len, (int)x.len);
    }
    case SYM_ACT: /* SymAct and IrAct list the activations in the same order (sym.c) */
        return emit_n(L, IR_VACT, node_reg(L, x.args[0]), x.fn << 4 | (int)x.u.var, x.len, (int)x.len);
    }
    return konst(L, NAN);
}

static int node_reg(Lower *L, SymId id)
{
    if (id >= L->capreg) {
        uint32_t cap = L->capreg ? L->capreg : 1024;
        while (cap <= id)
            cap *= 2;
        L->reg = mem_xrealloc(L->reg, (size_t)cap * sizeof *L->reg);
        memset(L->reg + L->capreg, 0, (size_t)(cap - L->capreg) * sizeof *L->reg);
        L->capreg = cap;
    }
    if (!L->reg[id])
        L->reg[id] = lower_node(L, id);
    return L->reg[id];
}

/* A program of S with no inputs bound yet. */
static void begin_empty(Lower *L, Sym *S, const char *name)
{
    memset(L, 0, sizeof *L);
    L->S = S;
    L->p = ir_new(name);
    L->varkind = mem_xalloc((size_t)(S->nvars + 1) * sizeof *L->varkind);
    L->varindex = mem_xalloc((size_t)(S->nvars + 1) * sizeof *L->varindex);
    for (int v = 0; v < S->nvars; v++)
        L->varkind[v] = IN_NONE;
}

static void begin(Lower *L, Mech *m, const char *name)
{
    Sym *S = m->S;
    begin_empty(L, S, name);
    L->m = m;
    for (int i = 0; i < m->n; i++) {
        L->varkind[m->q[i]] = L->varkind[m->v[i]] = IN_STATE;
        L->varindex[m->q[i]] = i;
        L->varindex[m->v[i]] = m->n + i;
    }
    for (int j = 0; j < m->np; j++) {
        L->varkind[m->par[j]] = IN_PARAM;
        L->varindex[m->par[j]] = j;
    }
    L->varkind[m->t] = IN_TIME;
    IrProgram *p = L->p;
    /* inputs: q, q', the parameters drawn per sample, then the
     * accelerations (used by records): every program of a system reads
     * (q, q', drawn) at the same places, whether it takes q'' or not */
    const int n = m->n, ns = m->nsampled;
    p->nstate = 2 * n + ns + (m->a ? n : 0);
    p->state_names = arena_alloc(S->arena, (size_t)(3 * n + ns + 1) * sizeof *p->state_names);
    for (int i = 0; i < n; i++) {
        p->state_names[i] = S->vars[m->q[i]].name;
        p->state_names[n + i] = S->vars[m->v[i]].name;
        if (m->a) {
            L->varkind[m->a[i]] = IN_STATE;
            L->varindex[m->a[i]] = 2 * n + ns + i;
            p->state_names[2 * n + ns + i] = S->vars[m->a[i]].name;
        }
    }
    for (int k = 0; k < ns; k++) {
        int v = m->par[m->sampled[k]];
        L->varkind[v] = IN_STATE;
        L->varindex[v] = 2 * n + k;
        p->state_names[2 * n + k] = S->vars[v].name;
    }
    p->nparams = m->np;
    p->param_names = arena_alloc(S->arena, (size_t)(m->np + 1) * sizeof *p->param_names);
    p->param_values = arena_alloc(S->arena, (size_t)(m->np + 1) * sizeof *p->param_values);
    for (int j = 0; j < m->np; j++) {
        p->param_names[j] = S->vars[m->par[j]].name;
        p->param_values[j] = S->vars[m->par[j]].value;
    }
}

static int is_trig(int op)
{
    return op == IR_SIN || op == IR_COS;
}

static int is_product(int op)
{
    return op == IR_VMATVEC || op == IR_VMATTVEC;
}

/* Whether y may run as one with x: sines (or cosines), or products of the
 * same kind with the same matrix. */
static int same_group(const IrInstr *x, const IrInstr *y)
{
    return x->op == y->op && (is_trig(x->op) || (is_product(x->op) && x->c == y->c));
}

/* The last instruction of the run of products that starts at x. */
static int product_run_end(const IrProgram *p, int i)
{
    while (i + 1 < p->ncode && same_group(&p->code[i], &p->code[i + 1]))
        i++;
    return i;
}

/* Spans by liveness: a span is placed when first written and freed after
 * its last read (outputs are placed before operands are freed, so a product
 * never writes over its operand); a freed span is reused by the next span
 * of the same length.  On return L->vbase maps every span component to its
 * offset in the span area; returns the area's size. */
static int alloc_spans(Lower *L)
{
    const IrProgram *p = L->p;
    int nv = L->nvec;
    if (nv == 0)
        return 0;
    int *last = mem_xalloc((size_t)nv * sizeof *last);   /* by span base */
    int *place = mem_xalloc((size_t)nv * sizeof *place); /* by span base: offset, or -1 */
    int *len = mem_xalloc((size_t)nv * sizeof *len);
    int *freelist = mem_xalloc((size_t)nv * sizeof *freelist); /* bases of freed spans */
    int nfree = 0, top = 0;
    for (int v = 0; v < nv; v++) {
        last[v] = -1;
        place[v] = -1;
        len[v] = 0;
    }
    for (int v = 0; v < nv; v++)
        len[L->vbase[v]]++;
    for (int i = 0; i < p->ncode; i++) {
        const IrInstr *x = &p->code[i];
        int ns = x->op == IR_SOLVE || x->op == IR_CALL ? 0 : ir_op_sources((IrOp)x->op);
        /* a run of products with one matrix is one pass (runtime/matvec.h):
         * its operands live to its end, so no output is placed over one */
        int at = is_product(x->op) ? product_run_end(p, i) : i;
        if (ns >= 1 && ISV(x->b))
            last[L->vbase[x->b - VBASE]] = at;
        if (ns >= 2 && ISV(x->c))
            last[L->vbase[x->c - VBASE]] = at;
    }
    for (int i = 0; i < p->ncode; i++) {
        const IrInstr *x = &p->code[i];
        if (x->op != IR_OUT && x->op != IR_SOLVE && ISV(x->a)) {
            int s = L->vbase[x->a - VBASE];
            if (place[s] < 0) {
                int k;
                for (k = nfree - 1; k >= 0 && len[freelist[k]] != len[s]; k--)
                    ;
                if (k >= 0) {
                    place[s] = place[freelist[k]];
                    freelist[k] = freelist[--nfree];
                } else {
                    place[s] = top;
                    top += len[s];
                }
                if (last[s] < i) /* never read: free at once */
                    last[s] = i;
            }
        }
        /* operands freed after their last reader (a run of products: all
         * of the run's, after its last) */
        int lo = i;
        if (is_product(x->op) && product_run_end(p, i) > i)
            lo = i + 1; /* none yet */
        else
            while (is_product(x->op) && lo > 0 && same_group(&p->code[lo - 1], x))
                lo--;
        for (int h = lo; h <= i; h++) {
            const IrInstr *y = &p->code[h];
            int ns = y->op == IR_SOLVE || y->op == IR_CALL ? 0 : ir_op_sources((IrOp)y->op);
            for (int o = 0; o < ns; o++) {
                int r = o == 0 ? y->b : y->c;
                if (ISV(r) && last[L->vbase[r - VBASE]] == i && !L->keep) {
                    int s = L->vbase[r - VBASE];
                    last[s] = -2; /* freed once */
                    freelist[nfree++] = s;
                }
            }
        }
        if (x->op != IR_OUT && x->op != IR_SOLVE && ISV(x->a)) {
            int s = L->vbase[x->a - VBASE];
            if (last[s] == i && !L->keep) {
                last[s] = -2;
                freelist[nfree++] = s;
            }
        }
    }
    for (int v = 0; v < nv; v++)
        L->vbase[v] = place[L->vbase[v]] + (v - L->vbase[v]);
    mem_free(last);
    mem_free(place);
    mem_free(len);
    mem_free(freelist);
    return top;
}

/* Register allocation by liveness: linear scan over the virtual registers
 * (1-based).  The prologue's registers keep their values between runs and
 * are never reused. */
static void allocate(Lower *L)
{
    IrProgram *p = L->p;
    int nv = L->nvirt;
    int *last = mem_xalloc((size_t)(nv + 1) * sizeof *last);
    int *phys = mem_xalloc((size_t)(nv + 1) * sizeof *phys);
    int *freelist = mem_xalloc((size_t)(nv + 1) * sizeof *freelist);
    char *freed = mem_xalloc((size_t)(nv + 1));
    for (int v = 0; v <= nv; v++)
        last[v] = -1, phys[v] = -1, freed[v] = 0;
    for (int i = 0; i < p->ncode; i++) {
        IrInstr *x = &p->code[i];
        int ns = ir_op_sources((IrOp)x->op);
        if (x->op == IR_SOLVE) {
            for (int j = 0; j < x->k * x->k; j++)
                last[p->aux[x->b + j]] = i;
            for (int j = 0; j < x->k; j++)
                last[p->aux[x->c + j]] = i;
            continue;
        }
        if (x->op == IR_CALL) {
            for (int j = 0; j < x->c; j++)
                last[p->aux[x->b + j]] = i;
            continue;
        }
        if (ns >= 1 && !ISV(x->b))
            last[x->b] = i;
        if (ns >= 2 && !ISV(x->c))
            last[x->c] = i;
    }
    int nfree = 0, next = 0;
    for (int i = 0; i < p->nprologue; i++)
        phys[p->code[i].a] = next++;
#define RELEASE(v)                                                                 \
    do {                                                                           \
        int v_ = (v);                                                              \
        if (!L->keep && !ISV(v_) && last[v_] == i && !freed[v_] &&                \
            !(v_ < L->capshared && L->shared[v_])) {                               \
            freed[v_] = 1;                                                         \
            freelist[nfree++] = phys[v_];                                          \
        }                                                                          \
    } while (0)
#define TAKE() (nfree ? freelist[--nfree] : next++)
    for (int i = p->nprologue; i < p->ncode; i++) {
        IrInstr *x = &p->code[i];
        IrOp op = (IrOp)x->op;
        if (op == IR_OUT) {
            RELEASE(x->b);
            continue;
        }
        if (op == IR_SOLVE) {
            /* SOLVE copies its operands first, so results may reuse them */
            for (int j = 0; j < x->k * x->k; j++)
                RELEASE(p->aux[x->b + j]);
            for (int j = 0; j < x->k; j++)
                RELEASE(p->aux[x->c + j]);
            for (int j = 0; j < x->k; j++)
                phys[p->aux[x->a + j]] = TAKE();
            continue;
        }
        if (op == IR_CALL) {
            for (int j = 0; j < x->c; j++)
                RELEASE(p->aux[x->b + j]);
            phys[x->a] = TAKE();
            continue;
        }
        int ns = ir_op_sources(op);
        if (ns >= 1)
            RELEASE(x->b);
        if (ns >= 2)
            RELEASE(x->c);
        if (!ISV(x->a))
            phys[x->a] = TAKE();
    }
#undef TAKE
#undef RELEASE
    const int nscalar = next;
    int vtotal = alloc_spans(L);
#define MAP(v) (ISV(v) ? nscalar + L->vbase[(v)-VBASE] : phys[v])
    for (int i = 0; i < p->ncode; i++) {
        IrInstr *x = &p->code[i];
        IrOp op = (IrOp)x->op;
        int ns = ir_op_sources(op);
        if (op == IR_SOLVE)
            continue;
        if (op == IR_CALL) {
            x->a = phys[x->a];
            continue;
        }
        if (op != IR_OUT)
            x->a = MAP(x->a);
        if (ns >= 1)
            x->b = MAP(x->b);
        if (ns >= 2)
            x->c = MAP(x->c);
    }
#undef MAP
    for (int j = 0; j < p->naux; j++)
        p->aux[j] = phys[p->aux[j]];
    p->nregs = nscalar + vtotal;
    mem_free(last);
    mem_free(phys);
    mem_free(freelist);
    mem_free(freed);
}

static int is_shared(const Lower *L, const IrInstr *x)
{
    if (x->op == IR_SOLVE || x->op == IR_OUT || x->op == IR_MOV || x->op == IR_CALL)
        return 0;
    return x->a < L->capshared && L->shared[x->a];
}

/* Move the instructions that depend only on constants and parameters to a
 * prologue (a stable partition: their operands come before them). */
static void hoist(Lower *L)
{
    IrProgram *p = L->p;
    IrInstr *code = mem_xalloc((size_t)(p->ncode + 1) * sizeof *code);
    int k = 0;
    for (int i = 0; i < p->ncode; i++)
        if (is_shared(L, &p->code[i]))
            code[k++] = p->code[i];
    p->nprologue = k;
    for (int i = 0; i < p->ncode; i++)
        if (!is_shared(L, &p->code[i]))
            code[k++] = p->code[i];
    memcpy(p->code, code, (size_t)p->ncode * sizeof *code);
    mem_free(code);
}

/* The registers (virtual, one per span component) instruction x reads,
 * or -1 when there are more than max. */
static int reads(const IrProgram *p, const IrInstr *x, int *r, int max)
{
    int n = 0;
    if (x->op == IR_SOLVE || x->op == IR_CALL) {
        int nr = x->op == IR_SOLVE ? x->k * x->k + x->k : x->c, at = x->b;
        for (int j = 0; j < nr; j++) {
            if (n == max)
                return -1;
            r[n++] = p->aux[x->op == IR_SOLVE && j >= x->k * x->k ? x->c + j - x->k * x->k : at + j];
        }
        return n;
    }
    int ns = ir_op_sources((IrOp)x->op), len[3];
    ir_spans(p, x, &len[0], &len[1], &len[2]);
    for (int o = 0; o < ns; o++) {
        int base = o == 0 ? x->b : x->c;
        for (int j = 0; j < (ISV(base) ? len[o + 1] : 1); j++) {
            if (n == max)
                return -1;
            r[n++] = base + j;
        }
    }
    return n;
}

/* Order the per-sample instructions so that independent ones of a kind
 * come one after another: up to four sines (or cosines), which a program
 * running for one sample evaluates as one vector of SLEEF's
 * (runtime/vmath.h), as fast as libm's one at a time; and products with
 * the same matrix (a layer's forward pass and its tangents), which it
 * evaluates in one pass over the matrix (runtime/matvec.h).  A list
 * schedule: of the instructions whose operands are ready, the first in
 * the original order that is neither; when only those are ready, the
 * first one's group.  Only the order changes (the values do not); a
 * section that writes a register twice keeps its order. */
static void group_independent(Lower *L)
{
    IrProgram *p = L->p;
    const int from = p->nprologue, n = p->ncode - from;
    int ngroup = 0;
    for (int i = from; i < p->ncode; i++)
        ngroup += is_trig(p->code[i].op) || is_product(p->code[i].op);
    if (ngroup < 2)
        return;
    const int nv = L->nvirt + 1, nvec = L->nvec;
    int *def = mem_xalloc((size_t)(nv + nvec) * sizeof *def); /* register -> defining instruction */
    int *vdef = def + nv;                                      /* span component -> the same */
    for (int v = 0; v < nv + nvec; v++)
        def[v] = -1;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        const IrInstr *x = &p->code[from + i];
        int alen, blen, clen;
        if (x->op == IR_SOLVE) {
            for (int j = 0; j < x->k && ok; j++) {
                int v = p->aux[x->a + j];
                ok = !ISV(v) && def[v] < 0;
                if (ok)
                    def[v] = i;
            }
        } else if (x->op != IR_OUT) {
            ir_spans(p, x, &alen, &blen, &clen);
            for (int j = 0; j < (ISV(x->a) ? alen : 1) && ok; j++) {
                int *d = ISV(x->a) ? &vdef[x->a - VBASE + j] : &def[x->a];
                ok = *d < 0;
                *d = i;
            }
        }
    }
    /* each instruction's distinct predecessors in the section, and the
     * number not yet placed */
    int *npred = mem_xalloc((size_t)(n + 1) * sizeof *npred), *stamp = mem_xalloc((size_t)(n + 1) * sizeof *stamp);
    int *succ_at = mem_xalloc((size_t)(n + 2) * sizeof *succ_at), *succ = NULL;
    int *pred = NULL, *pred_of = NULL, npairs = 0, cappairs = 0;
    enum { MAXR = 4096 };
    int *r = mem_xalloc(MAXR * sizeof *r);
    for (int i = 0; i <= n; i++)
        npred[i] = 0, stamp[i] = -1;
    for (int i = 0; i < n && ok; i++) {
        int nr = reads(p, &p->code[from + i], r, MAXR);
        ok = nr >= 0;
        for (int j = 0; j < nr; j++) {
            int d = ISV(r[j]) ? vdef[r[j] - VBASE] : r[j] >= 0 && r[j] < nv ? def[r[j]] : -1;
            if (d < 0 || d == i || stamp[d] == i)
                continue;
            stamp[d] = i;
            if (npairs == cappairs) {
                cappairs = cappairs ? 2 * cappairs : 1024;
                pred = mem_xrealloc(pred, (size_t)cappairs * sizeof *pred);
                pred_of = mem_xrealloc(pred_of, (size_t)cappairs * sizeof *pred_of);
            }
            pred[npairs] = d;
            pred_of[npairs++] = i;
            npred[i]++;
        }
    }
    if (ok) {
        /* successors, by predecessor (a counting sort of the pairs) */
        for (int i = 0; i <= n + 1; i++)
            succ_at[i] = 0;
        for (int q = 0; q < npairs; q++)
            succ_at[pred[q] + 1]++;
        for (int i = 0; i < n; i++)
            succ_at[i + 1] += succ_at[i];
        succ = mem_xalloc((size_t)(npairs + 1) * sizeof *succ);
        int *fill = stamp; /* reused: the next free slot of each */
        for (int i = 0; i < n; i++)
            fill[i] = succ_at[i];
        for (int q = 0; q < npairs; q++)
            succ[fill[pred[q]]++] = pred_of[q];
        int *order = mem_xalloc((size_t)(n + 1) * sizeof *order);
        char *done = mem_xalloc((size_t)(n + 1));
        memset(done, 0, (size_t)(n + 1));
        int placed = 0;
#define PLACE(i)                                                                   \
    do {                                                                           \
        order[placed++] = (i);                                                     \
    } while (0)
        while (placed < n) {
            int pick = -1, lead = -1;
            for (int i = 0; i < n && pick < 0; i++) {
                if (done[i] || npred[i] > 0)
                    continue;
                const IrInstr *x = &p->code[from + i];
                if (!is_trig(x->op) && !is_product(x->op))
                    pick = i;
                else if (lead < 0)
                    lead = i;
            }
            int g0 = placed;
            if (pick >= 0)
                PLACE(pick);
            else /* only sines, cosines and products are ready: lead's group */
                for (int i = lead, g = 0; i < n && (g < 4 || !is_trig(p->code[from + lead].op)); i++)
                    if (!done[i] && npred[i] == 0 && same_group(&p->code[from + lead], &p->code[from + i])) {
                        PLACE(i);
                        g++;
                    }
            for (int q = g0; q < placed; q++) { /* (after the scan: none of a group reads another) */
                int i = order[q];
                done[i] = 1;
                for (int s2 = succ_at[i]; s2 < succ_at[i + 1]; s2++)
                    npred[succ[s2]]--;
            }
        }
#undef PLACE
        IrInstr *code = mem_xalloc((size_t)(n + 1) * sizeof *code);
        for (int i = 0; i < n; i++)
            code[i] = p->code[from + order[i]];
        memcpy(p->code + from, code, (size_t)n * sizeof *code);
        mem_free(code);
        mem_free(order);
        mem_free(done);
    }
    mem_free(def);
    mem_free(npred);
    mem_free(stamp);
    mem_free(succ_at);
    mem_free(succ);
    mem_free(pred);
    mem_free(pred_of);
    mem_free(r);
}

static IrProgram *finish(Lower *L)
{
    L->p->tape = L->keep;
    hoist(L);
    group_independent(L);
    allocate(L);
    char err[256];
    if (ir_verify(L->p, err, sizeof err) != 0) {
        /* a lowering bug, never an input error: say so plainly */
        fprintf(stderr, "lag: internal error: lowered program %s is invalid: %s\n", L->p->name, err);
        abort();
    }
    mem_free(L->reg);
    mem_free(L->vbase);
    mem_free(L->keys);
    mem_free(L->vals);
    mem_free(L->shared);
    mem_free(L->varkind);
    mem_free(L->varindex);
    return L->p;
}

static IrProgram *exprs(Mech *m, const char *name, const SymId *roots, const char *const *names, int n,
                        int keep)
{
    Lower L;
    begin(&L, m, name);
    L.keep = keep;
    L.p->nout = n;
    L.p->out_names = arena_alloc(m->S->arena, (size_t)(n + 1) * sizeof *L.p->out_names);
    int *r = mem_xalloc((size_t)(n + 1) * sizeof *r);
    for (int i = 0; i < n; i++) {
        L.p->out_names[i] = names[i];
        r[i] = node_reg(&L, roots[i]);
    }
    for (int i = 0; i < n; i++)
        ir_emit(L.p, IR_OUT, i, r[i], 0, 0);
    mem_free(r);
    return finish(&L);
}

IrProgram *lower_exprs(Mech *m, const char *name, const SymId *roots, const char *const *names, int n)
{
    return exprs(m, name, roots, names, n, 0);
}

IrProgram *lower_exprs_tape(Mech *m, const char *name, const SymId *roots, const char *const *names, int n)
{
    return exprs(m, name, roots, names, n, 1);
}

static IrProgram *inputs_program(Sym *S, const char *name, const int *inputs, int nin, const int *params, int np,
                                 const SymId *roots, const char *const *names, int n, int keep);

IrProgram *lower_inputs(Sym *S, const char *name, const int *inputs, int nin, const int *params, int np,
                        const SymId *roots, const char *const *names, int n)
{
    return inputs_program(S, name, inputs, nin, params, np, roots, names, n, 0);
}

IrProgram *lower_inputs_tape(Sym *S, const char *name, const int *inputs, int nin, const int *params, int np,
                             const SymId *roots, const char *const *names, int n)
{
    return inputs_program(S, name, inputs, nin, params, np, roots, names, n, 1);
}

static IrProgram *inputs_program(Sym *S, const char *name, const int *inputs, int nin, const int *params, int np,
                                 const SymId *roots, const char *const *names, int n, int keep)
{
    Lower L;
    begin_empty(&L, S, name);
    L.keep = keep;
    IrProgram *p = L.p;
    p->nstate = nin;
    p->state_names = arena_alloc(S->arena, (size_t)(nin + 1) * sizeof *p->state_names);
    for (int i = 0; i < nin; i++) {
        L.varkind[inputs[i]] = IN_STATE;
        L.varindex[inputs[i]] = i;
        p->state_names[i] = S->vars[inputs[i]].name;
    }
    p->nparams = np;
    p->param_names = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *p->param_names);
    p->param_values = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *p->param_values);
    for (int j = 0; j < np; j++) {
        L.varkind[params[j]] = IN_PARAM;
        L.varindex[params[j]] = j;
        p->param_names[j] = S->vars[params[j]].name;
        p->param_values[j] = S->vars[params[j]].value;
    }
    p->nout = n;
    p->out_names = arena_alloc(S->arena, (size_t)(n + 1) * sizeof *p->out_names);
    int *r = mem_xalloc((size_t)(n + 1) * sizeof *r);
    for (int i = 0; i < n; i++) {
        p->out_names[i] = names[i];
        r[i] = node_reg(&L, roots[i]);
    }
    for (int i = 0; i < n; i++)
        ir_emit(p, IR_OUT, i, r[i], 0, 0);
    mem_free(r);
    return finish(&L);
}

static IrProgram *rhs(Mech *m, int keep)
{
    Sym *S = m->S;
    int n = m->n;
    const char **names = arena_alloc(S->arena, (size_t)(n + 1) * sizeof *names);
    for (int i = 0; i < n; i++)
        names[i] = arena_printf(S->arena, "%s''", m->names[i]);
    const char *pname = arena_printf(S->arena, "%s.rhs", m->sys->name.name);
    /* Closed forms when they are cheap (given, or a diagonal M); otherwise
     * M and f and a small solve cost fewer operations than the expanded
     * inverse (the double pendulum: 62 instructions against 82). */
    if (m->accel == MECH_ACCEL_SYMBOLIC && (m->given_accel || m->m_diagonal))
        return exprs(m, pname, m->acc, names, n, keep);

    /* M q'' = f: a SOLVE over the registers of M and f, then the outputs;
     * with constraints, the augmented equations in (q'', lambda) */
    Lower L;
    begin(&L, m, pname);
    L.keep = keep;
    IrProgram *p = L.p;
    p->nout = n;
    p->out_names = names;
    const int N = n + m->ncons;
    const SymId *M = m->M, *f = m->f;
    SymId *aug = NULL;
    if (m->ncons) {
        aug = mem_xalloc((size_t)(N * N + N) * sizeof *aug);
        mech_augmented(m, aug, aug + N * N);
        M = aug;
        f = aug + N * N;
    }
    int *src = mem_xalloc((size_t)(N * N + 2 * N) * sizeof *src);
    for (int i = 0; i < N * N; i++)
        src[i] = node_reg(&L, M[i]);
    for (int i = 0; i < N; i++)
        src[N * N + i] = node_reg(&L, f[i]);
    for (int i = 0; i < N; i++)
        src[N * N + N + i] = ++L.nvirt;
    int b = ir_aux(p, src, N * N), c = ir_aux(p, src + N * N, N), a = ir_aux(p, src + N * N + N, N);
    ir_emit(p, IR_SOLVE, a, b, c, N);
    for (int i = 0; i < n; i++)
        ir_emit(p, IR_OUT, i, src[N * N + N + i], 0, 0);
    mem_free(src);
    mem_free(aug);
    return finish(&L);
}

IrProgram *lower_rhs(Mech *m)
{
    return rhs(m, 0);
}

IrProgram *lower_rhs_tape(Mech *m)
{
    return rhs(m, 1);
}

IrProgram *lower_jacobian_solve(Mech *m)
{
    Sym *S = m->S;
    int n = m->n, nx = 2 * n + 1; /* q, q', t */
    if (!m->a) {
        m->a = arena_alloc(S->arena, (size_t)n * sizeof *m->a);
        for (int i = 0; i < n; i++)
            m->a[i] = sym_add_var(S, arena_printf(S->arena, "%s''", m->names[i]), m->names[i],
                                  SV_COORD, i, 2, 0);
    }
    /* with constraints, the augmented equations Ma z = fa in z = (q'',
     * lambda), lambda an expression of the accelerations given */
    const int N = n + m->ncons;
    const SymId *M = m->M, *f = m->f;
    SymId *aug = NULL, *z = mem_xalloc((size_t)N * sizeof *z);
    for (int i = 0; i < n; i++)
        z[i] = sym_var(S, m->a[i]);
    if (m->ncons) {
        aug = mem_xalloc((size_t)(N * N + N) * sizeof *aug);
        mech_augmented(m, aug, aug + N * N);
        M = aug;
        f = aug + N * N;
        memcpy(z + n, mech_multipliers(m), (size_t)m->ncons * sizeof *z);
    }
    Lower L;
    begin(&L, m, arena_printf(S->arena, "%s.jacobian", m->sys->name.name));
    IrProgram *p = L.p;
    p->nout = n * nx;
    p->out_names = arena_alloc(S->arena, (size_t)(n * nx) * sizeof *p->out_names);
    int *mreg = mem_xalloc((size_t)(N * N) * sizeof *mreg);
    for (int i = 0; i < N * N; i++)
        mreg[i] = node_reg(&L, M[i]);
    int mb = ir_aux(p, mreg, N * N);
    int *rhs = mem_xalloc((size_t)N * sizeof *rhs), *res = mem_xalloc((size_t)N * sizeof *res);
    int *outs = mem_xalloc((size_t)(n * nx) * sizeof *outs);
    SymId *terms = mem_xalloc((size_t)(N + 1) * sizeof *terms);
    for (int k = 0; k < nx; k++) {
        int x = k < n ? m->q[k] : k < 2 * n ? m->v[k - n] : m->t;
        for (int i = 0; i < N; i++) {
            /* dfa_i/dx - sum_j dMa_ij/dx z_j */
            terms[0] = sym_diff(S, f[i], x);
            for (int j = 0; j < N; j++)
                terms[1 + j] = sym_neg(S, sym_mul2(S, sym_diff(S, M[i * N + j], x), z[j]));
            rhs[i] = node_reg(&L, sym_add(S, terms, N + 1));
        }
        for (int i = 0; i < N; i++)
            res[i] = ++L.nvirt;
        int c = ir_aux(p, rhs, N), a = ir_aux(p, res, N);
        ir_emit(p, IR_SOLVE, a, mb, c, N);
        /* output layout: d(a_i)/d(y_j) row-major n x 2n, then d(a_i)/dt */
        for (int i = 0; i < n; i++)
            outs[k < 2 * n ? i * 2 * n + k : 2 * n * n + i] = res[i];
    }
    for (int o = 0; o < n * nx; o++) {
        p->out_names[o] = arena_printf(S->arena, "j%d", o);
        ir_emit(p, IR_OUT, o, outs[o], 0, 0);
    }
    mem_free(mreg);
    mem_free(rhs);
    mem_free(res);
    mem_free(outs);
    mem_free(terms);
    mem_free(aug);
    mem_free(z);
    return finish(&L);
}
