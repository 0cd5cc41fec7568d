/*
 * lang/sym.h — the symbolic core: an expression graph with hash-consing,
 * a normal form, differentiation, evaluation and printing.
 *
 * Nodes are immutable and interned: building the same expression twice
 * gives the same SymId, so common sub-expressions are shared by
 * construction.  The smart constructors keep every expression in one
 * normal form: sums and products are flat, their operands sorted by id,
 * like terms and equal powers collected, numeric coefficients folded, and
 * products of sums expanded (an expanded polynomial in "atoms": variables,
 * function calls and powers of sums with negative or fractional exponent).
 * Only rules that are sound everywhere are applied; in particular x/x is
 * not turned into 1 unless x is a nonzero number or a parameter (parameters
 * are symbolic constants, taken to be nonzero where they divide).
 */
#ifndef LAG_SYM_H
#define LAG_SYM_H

#include <stdint.h>
#include <stdio.h>

#include "lang/arena.h"

typedef uint32_t SymId; /* 0 is never a valid node */

typedef enum SymOp {
    SYM_NUM, /* u.num */
    SYM_VAR, /* u.var: index into the variable table */
    SYM_ADD, /* args[0] + ... + args[n-1], n >= 2 */
    SYM_MUL, /* args[0] * ... * args[n-1], n >= 2; a numeric coefficient first */
    SYM_POW, /* args[0] ^ args[1] */
    SYM_FN,  /* fn(args[0] [, args[1]]) */
    /* Vectors (len > 0), so a network is a handful of nodes: */
    SYM_VEC,     /* [args[0], ..., args[n-1]]: scalars assembled */
    SYM_COMP,    /* args[0][u.var]: a component (a scalar) */
    SYM_SUMV,    /* sum of the components of args[0] (a scalar) */
    SYM_VPARAM,  /* the vector parameter u.var (a bias), len = its size */
    SYM_VONES,   /* the vector of ones of length len */
    SYM_MATVEC,  /* W * args[0], W = matrix parameter u.var */
    SYM_MATTVEC, /* W^T * args[0] */
    SYM_VADD,    /* args[0] + args[1], elementwise */
    SYM_VMUL,    /* args[0] .* args[1], elementwise */
    SYM_VSCALE,  /* args[0] (a scalar) * args[1] (a vector) */
    SYM_ACT,     /* activation fn, derivative of order u.var, elementwise on args[0] */
    SYM_EXT      /* extern function fn (a C function of doubles) of args; u.var = 0 for the
                  * value, else a derivative by central differences: the 4-bit digits of
                  * u.var, lowest first, are 1 + the argument differentiated */
} SymOp;

/* An extern C function (LANGUAGE.md: extern "lib.so" { V(x, y) grad (...) }). */
typedef struct SymExtern {
    const char *name;
    int nargs;
    void *fn;     /* double fn(double, ...) */
    int *grad;    /* nargs extern indices of its partial derivatives, or NULL */
    const void *data; /* an input's samples (runtime/input.h InputFn) instead of fn, or NULL */
} SymExtern;

typedef enum SymAct { ACT_SOFTPLUS, ACT_TANH, ACT_SIGMOID, ACT_RELU2, ACT_RELU, ACT_COUNT } SymAct;

/* A matrix or vector parameter of a network (weights, biases). */
typedef struct SymTensor {
    const char *name;
    int rows, cols; /* a vector has cols = 1 */
    double *data;   /* values, row-major (set by the client; for evaluation) */
} SymTensor;

typedef enum SymFn {
    FN_SIN, FN_COS, FN_TAN, FN_ASIN, FN_ACOS, FN_ATAN, FN_ATAN2, FN_SINH, FN_COSH, FN_TANH,
    FN_EXP, FN_LOG, FN_SQRT, FN_ABS, FN_SIGN, FN_MIN, FN_MAX, FN_COUNT
} SymFn;

typedef enum SymVarKind {
    SV_PARAM,  /* a parameter: a symbolic constant */
    SV_TIME,   /* t */
    SV_COORD,  /* q_i (order 0), its velocity q_i' (order 1) */
    SV_OTHER   /* anything else a client needs (domain variable, fields, ...) */
} SymVarKind;

typedef struct SymVar {
    const char *name; /* as printed: "t1", "t1'" */
    const char *base; /* the declared name: "t1" */
    SymVarKind kind;
    int index;        /* coordinate or parameter number */
    int order;        /* 0 value, 1 first derivative */
    double value;     /* a parameter's default (for numeric folding) */
} SymVar;

typedef struct SymNode {
    uint8_t op, fn;
    uint16_t n;        /* number of arguments */
    uint32_t hash;
    uint32_t len;      /* 0 for a scalar, else the vector's length */
    union {
        double num;
        uint32_t var;  /* the variable, component, tensor or derivative order */
    } u;
    const SymId *args; /* n arguments, in the arena */
} SymNode;

typedef struct Sym {
    Arena *arena;
    SymNode *nodes;   /* nodes[0] unused */
    uint32_t nnodes, capnodes;
    uint32_t *table;  /* open-addressing hash table of node ids */
    uint32_t captable;
    SymVar *vars;
    int nvars, capvars;
    SymTensor *tensors;
    int ntensors, captensors;
    SymExtern *externs;
    int nexterns, capexterns;
    SymId zero, one, minus_one;
    /* While > 0, products and powers of sums are not expanded: set while
     * building the arguments of functions, so sqrt((x1 - x2)^2 + ...) keeps
     * the differences that make it accurate far from the origin. */
    int no_expand;
    int in_radical; /* inside combine_radicals: do not recurse into it */
    /* Derivative memo: for the variable `memo_var`, memo[id] = d(id)/d(var). */
    SymId *memo;
    uint32_t capmemo;
    int memo_var;
    SymId *seed;      /* sym_jvp: the tangent of each variable, while it runs */
} Sym;

Sym *sym_new(Arena *a); /* allocations live in the arena; free it to free all */
void sym_free(Sym *S);  /* frees the malloc'd tables (not the arena) */

static inline const SymNode *sym_node(const Sym *S, SymId id)
{
    return &S->nodes[id];
}

/* Add a variable (or find the one with this name, kind and order). */
int sym_add_var(Sym *S, const char *name, const char *base, SymVarKind kind, int index,
                int order, double value);

/* Constructors (all return interned, normalised nodes). */
SymId sym_num(Sym *S, double v);
SymId sym_var(Sym *S, int var);
SymId sym_add(Sym *S, const SymId *terms, int n);
SymId sym_mul(Sym *S, const SymId *factors, int n);
SymId sym_add2(Sym *S, SymId a, SymId b);
SymId sym_sub(Sym *S, SymId a, SymId b);
SymId sym_mul2(Sym *S, SymId a, SymId b);
SymId sym_div(Sym *S, SymId a, SymId b);
SymId sym_neg(Sym *S, SymId a);
SymId sym_pow(Sym *S, SymId base, SymId exp);
SymId sym_powi(Sym *S, SymId base, double exp);
SymId sym_fn(Sym *S, SymFn fn, SymId a, SymId b); /* b = 0 for one-argument functions */

/* The product of parameter powers common to every term of a sum (its
 * "content"), and the sum divided by it in *rest: sum = content * rest.
 * Used to cancel parameters in a quotient by a sum. */
SymId sym_param_content(Sym *S, SymId sum, SymId *rest);

const char *sym_fn_name(SymFn fn);
int sym_fn_arity(SymFn fn);
int sym_fn_by_name(const char *name); /* -1 if not a built-in */
double sym_fn_eval(SymFn fn, double a, double b);

int sym_is_num(const Sym *S, SymId id, double *v);
int sym_is_zero(const Sym *S, SymId id);
/* Whether the expression contains variable `var` (or any of kind `kind`
 * when var < 0). */
int sym_depends(Sym *S, SymId id, int var, int kind);

/* Partial derivative with respect to variable `var` (forward rules,
 * memoised per variable). */
SymId sym_diff(Sym *S, SymId id, int var);
/* Gradient with respect to vars[0..n-1] by reverse accumulation (one sweep
 * over the graph); the same results as sym_diff, built another way. */
void sym_grad(Sym *S, SymId id, const int *vars, int n, SymId *out);
/* Second directional derivatives of id: out[k] = sum_ij d2(id)/d(vars[i])
 * d(vars[j]) * u_i * v_j with u = dirs[pairs[2k]], v = dirs[pairs[2k+1]]
 * (dirs: ndirs rows of n tangents).  Built as one reverse sweep (the
 * adjoints) and one forward pass per direction (the tangents): the sum over
 * the nodes of adjoint x the node's own second derivative along its
 * operands' tangents (for a network, act''(z) times two forward tangents per
 * layer), never a reverse pass per direction. */
void sym_hess_forms(Sym *S, SymId id, const int *vars, int n, const SymId *dirs, int ndirs,
                    const int *pairs, int npairs, SymId *out);
/* The directional derivative sum_i d(id)/d(vars[i]) * dirs[i], in one
 * forward sweep (a Jacobian-vector product). */
SymId sym_jvp(Sym *S, SymId id, const int *vars, const SymId *dirs, int n);

/* Vectors and networks.  Tensors are parameters: differentiation with
 * respect to scalar variables treats them as constants. */
int sym_add_tensor(Sym *S, const char *name, int rows, int cols);
SymId sym_vec(Sym *S, const SymId *items, int n);
SymId sym_comp(Sym *S, SymId v, int i);
SymId sym_sumv(Sym *S, SymId v);
SymId sym_vparam(Sym *S, int tensor);
SymId sym_vones(Sym *S, int len);
SymId sym_vzero(Sym *S, int len); /* 0 * ones */
SymId sym_matvec(Sym *S, int tensor, SymId v);
SymId sym_mattvec(Sym *S, int tensor, SymId v);
SymId sym_vadd(Sym *S, SymId a, SymId b);
SymId sym_vmul(Sym *S, SymId a, SymId b);
SymId sym_vscale(Sym *S, SymId s, SymId v);
SymId sym_act(Sym *S, SymAct act, int order, SymId v);
SymId sym_dot(Sym *S, SymId a, SymId b);
const char *sym_act_name(SymAct act);
int sym_act_by_name(const char *name);
double sym_act_eval(SymAct act, int order, double x);

/* Extern functions: register one (or find it by name); a call node. */
int sym_add_extern(Sym *S, const char *name, int nargs, void *fn);
/* An input's interpolant of one argument (data: a runtime/input.h InputFn),
 * found by its data, not by its name: two systems may each have an F. */
int sym_add_input(Sym *S, const char *name, const void *data);
SymId sym_ext(Sym *S, int ext, const SymId *args, int nargs, uint32_t deriv);
/* The value of extern `ext` (with derivative descriptor deriv) at x. */
double sym_ext_eval(const SymExtern *e, uint32_t deriv, const double *x);

/* Substitute numbers for variables: value[v] is used for each variable v
 * with has[v] set. */
SymId sym_subst(Sym *S, SymId id, const double *value, const char *has);
/* Substitute expressions for variables: with[v] (a node) for each
 * variable v where it is nonzero (with has S->nvars entries). */
SymId sym_replace(Sym *S, SymId id, const SymId *with);

/* Evaluate with x[v] the value of variable v. */
double sym_eval(const Sym *S, SymId id, const double *x);

/* Count operations: tree size (no sharing) or DAG size (distinct nodes). */
long sym_ops_tree(const Sym *S, SymId id);
long sym_ops_dag(Sym *S, const SymId *roots, int n);

/* Printing in .lag syntax (primes for velocities, ^ for powers) and LaTeX. */
void sym_print(Sym *S, FILE *out, SymId id);
/* v in the fewest digits that read back as the same double (at most 17),
 * as the printers write numbers; buf of at least 40 bytes. */
void sym_format_number(char *buf, size_t n, double v);
void sym_print_latex(Sym *S, FILE *out, SymId id);
char *sym_to_string(Sym *S, Arena *a, SymId id);

#endif
