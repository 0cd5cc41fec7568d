/*
 * lang/ast.h — the abstract syntax tree of a .lag file.
 *
 * The parser builds it in the compilation's arena; the checker (check.c)
 * annotates expressions with what their names refer to.  Every node keeps
 * its source range so later passes can report located errors.  Lists are
 * singly linked through `next`, in source order.
 */
#ifndef LAG_AST_H
#define LAG_AST_H

#include "lang/arena.h"
#include "lang/diag.h"

/* Expression nesting bound: deeper expressions are refused by the parser, so
 * every recursive pass over an expression has a bounded depth. */
enum { AST_MAX_DEPTH = 2000 };

typedef struct Ident {
    const char *name;
    int primes; /* number of ' after the name: 1 = velocity/derivative */
    Loc loc;
} Ident;

typedef enum ExprKind {
    EX_NUM,  /* num */
    EX_STR,  /* str */
    EX_NAME, /* id (possibly primed) */
    EX_NEG,  /* -a */
    EX_ADD,  /* a + b */
    EX_SUB,  /* a - b */
    EX_MUL,  /* a * b */
    EX_DIV,  /* a / b */
    EX_POW,  /* a ^ b */
    EX_CALL, /* id(args) */
    EX_LIST, /* [args] */
    EX_PRIME, /* (a)' : the total time derivative of a, id.primes times */
    EX_COMP   /* a.x : a vector's component id.name (x, y or z; index 0, 1, 2 once checked),
               * its time derivative when id.primes > 0 (a.x') */
} ExprKind;

/* What a name in an expression refers to (filled in by the checker). */
typedef enum RefKind {
    REF_NONE,
    REF_CONST,     /* file-level const; index = its Item */
    REF_PARAM,     /* system/problem param; index = position */
    REF_COORD,     /* coordinate q_i (primes = 0), velocity (1), acceleration (2) */
    REF_LET,       /* a let-bound name; index = position among lets */
    REF_TIME,      /* t */
    REF_DOMAIN,    /* the problem's domain variable */
    REF_FIELD,     /* a field y (primes = 0) or its derivative y' (1) */
    REF_UNKNOWN,   /* an unknown scalar */
    REF_UNKNOWN_FN,/* an unknown function poly(k)/spline(k) (called) */
    REF_BUILTIN,   /* a built-in function (called); index = Builtin */
    REF_NET,       /* a net (called) */
    REF_EXTERN,    /* an extern function (called) */
    REF_PI,        /* pi */
    REF_E,         /* e */
    REF_INTEGRAL,  /* integral(...) in a problem */
    REF_RANDOM,    /* uniform(a, b) / normal(m, s) in a job's init */
    REF_VECFN,     /* vec, dot, cross, norm (called); index: 1, 2, 3, 4 */
    REF_INPUT,     /* an input F(t) (called); decl: its ST_INPUT */
    REF_MOMENTUM   /* p_q, the momentum of coordinate q in a system given by H; index = q's */
} RefKind;

typedef struct Expr {
    ExprKind kind;
    Loc loc;
    int depth;          /* 1 + depth of the deepest operand */
    double num;         /* EX_NUM */
    const char *str;    /* EX_STR (unescaped) */
    Ident id;           /* EX_NAME, EX_CALL (the callee) */
    struct Expr *a, *b; /* operands */
    struct Expr *args;  /* EX_CALL, EX_LIST */
    int nargs;
    struct Expr *next;  /* in argument and expression lists */
    /* Resolution, by the checker: */
    RefKind ref;
    int index;
    const void *decl; /* the Stmt/Item/ExternFn the name refers to */
    int folded;       /* a constant: its value is folded_v (check_draw_eval reads it) */
    double folded_v;
} Expr;

typedef enum StmtKind {
    ST_PARAM,       /* param NAME = value */
    ST_COORD,       /* coord NAME */
    ST_LET,         /* let NAME, ... = value */
    ST_ASSIGN,      /* NAME = value (only L = ... and H = ... are valid) */
    ST_ACCEL,       /* accel NAME, ... = exprs */
    ST_FORCE,       /* force NAME = value */
    ST_DISSIPATION, /* dissipation NAME = value */
    ST_NET,         /* net NAME = func(netargs) */
    ST_DOMAIN,      /* domain NAME = value .. hi */
    ST_FIELD,       /* field NAME */
    ST_UNKNOWN,     /* unknown NAME = value */
    ST_FIX,         /* fix NAME(at) = value */
    ST_SUBJECT,     /* subject value = at */
    ST_MINIMIZE,    /* minimize value */
    ST_STATIONARY,  /* stationary value */
    ST_MAXIMIZE,    /* maximize value (the sign-flipped minimize) */
    ST_SYMMETRY,    /* symmetry NAME: q -> expr, ... (names[1..], exprs) or a <-> b, ... (swap) */
    ST_BODY,        /* body NAME { mass m, at r, ... } (func "body") or point NAME { mass m, at r }
                     * (func "point"): netargs are its properties.  The parser writes what it
                     * contributes to T as lets after it (lang/parser.y: desugar_bodies) */
    ST_GRAVITY,     /* gravity g = vec(...): a marker; the parser writes `let g = ...` after it */
    ST_INPUT,       /* input F(t) = value, or input F(t) from "file" (at: the string) { netargs } */
    ST_CONSTRAIN    /* constrain NAME: value = at (a holonomic g(q, t) = 0, or linear in the
                     * velocities, a(q, t).q' + b(q, t) = 0): the constraint is value - at */
} StmtKind;

typedef struct NetArg {
    Ident key;
    Expr *value;
    struct NetArg *next;
} NetArg;

typedef struct Stmt {
    StmtKind kind;
    Loc loc;         /* the whole statement */
    Ident *names;    /* declared names (one for most kinds) */
    int nnames;
    Expr *value;     /* see StmtKind */
    Expr *exprs;     /* ST_ACCEL right-hand sides */
    int nexprs;
    Expr *at;        /* ST_FIX point, ST_SUBJECT right-hand side */
    Expr *hi;        /* ST_DOMAIN upper end */
    Ident func;      /* ST_NET constructor (mlp) */
    NetArg *netargs; /* ST_NET keyword arguments */
    int swap;        /* ST_SYMMETRY: an exchange of coordinates (pairs in names[1..]) */
    int mixed;       /* ST_SYMMETRY: both kinds of generator (an error) */
    void *input;     /* ST_INPUT from a file: its samples, read by the checker (runtime/input.h
                      * InputFn[5], one per derivative order), or NULL */
    int written;     /* ST_LET: written by the parser for a body, point or gravity (its name is
                      * NAME#..., T or V), not by the user; ST_BODY: its lets were all written
                      * (no error in its properties) */
    Expr *unit;      /* ST_PARAM, ST_UNKNOWN, ST_COORD: the unit in brackets after it ([kg],
                      * [m/s^2]; an expression of unit names, lang/units.c), or NULL */
    Loc unit_loc;    /* the bracket */
    double unit_scale; /* set by lang/units.c: the unit in coherent SI ([cm]: 0.01); the
                        * symbolic core multiplies the quantity by it (0 or 1: nothing) */
    int unit_si;     /* ST_PARAM, ST_UNKNOWN: the default uses other parameters, so it is a
                      * quantity in SI, divided by unit_scale (a plain number is in the unit) */
    struct Stmt *next;
} Stmt;

typedef struct ExternFn {
    const char *lib;  /* the library named by its extern block */
    Ident name;
    Ident *params;
    int nparams;
    Ident *grads; /* NULL when no grad (...) was given */
    int ngrads;
    Loc grad_loc;
    struct ExternFn *next;
} ExternFn;

typedef enum SettingForm {
    SET_FLAG,    /* head */
    SET_EXPR,    /* head e1                       (tol 1e-10, output "x.csv") */
    SET_RANGE,   /* head e1 .. e2                 (time 0 .. 20) */
    SET_ASSIGNS, /* head a = v, b = v, ...        (init, param, record, guess, grid) */
    SET_AT,      /* head e1: a = v, ...           (from 0: t1 = 0.1) */
    SET_WORD,    /* head word e1                  (checkpoint every 100, loss accel l1) */
    SET_BLOCK,   /* head word NAME { settings }   (data from System { ... }) */
    SET_WHEN,    /* head when e1 word e2 dir      (stop when y crosses 0 falling): word, e2
                  * and dir may be missing (their names NULL) for the checker to report */
    SET_CONT     /* a = v: continues the previous list (merged by the parser
                  * after a comma; left in place, an error, otherwise) */
} SettingForm;

/* How a job's assignment gives its value (Assign.draw). */
enum { ASSIGN_VALUE, ASSIGN_UNIFORM, ASSIGN_NORMAL, ASSIGN_DRAWS, ASSIGN_GRID };

typedef struct Assign {
    Ident name;
    Expr *value; /* value, or the low end of a range */
    Expr *hi;    /* range high end (grid), or NULL */
    Expr *count; /* range point count (grid: lo .. hi : count), or NULL */
    Loc loc;
    /* Folded by the checker (jobs' settings only): */
    double v, v_hi, v_count; /* value (or low end), high end, point count */
    int draw;                /* ASSIGN_VALUE: the constant v; ASSIGN_UNIFORM: uniform(p1, p2);
                              * ASSIGN_NORMAL: normal(p1, p2); ASSIGN_DRAWS: an expression of
                              * draws (check_draw_eval of value); ASSIGN_GRID: grid(v, v_hi,
                              * v_count), an axis of a grid of starts */
    double p1, p2;
    struct Assign *next;
} Assign;

typedef struct Setting {
    Ident head;
    Loc loc;
    SettingForm form;
    Expr *e1, *e2;
    Ident word;      /* SET_WORD, SET_BLOCK, SET_WHEN */
    Ident target;    /* SET_BLOCK: the system named */
    Ident dir;       /* SET_WHEN: rising or falling, or no name (either way) */
    Assign *assigns; /* SET_ASSIGNS, SET_AT, SET_CONT */
    struct Setting *sub; /* SET_BLOCK */
    const struct Setting *list_before; /* SET_CONT: a list setting just before it */
    double v1, v2;   /* e1 and e2 folded by the checker, where they are numbers */
    struct Setting *next;
} Setting;

typedef enum ItemKind { IT_IMPORT, IT_CONST, IT_EXTERN, IT_SYSTEM, IT_PROBLEM, IT_JOB } ItemKind;

typedef enum JobKind { JOB_SIMULATE, JOB_TRAIN, JOB_COMPARE, JOB_SOLVE, JOB_ACTION, JOB_INFER } JobKind;

typedef struct Item {
    ItemKind kind;
    Loc loc;        /* the keyword */
    JobKind job;
    Ident name;     /* system/problem/const name */
    Expr *value;    /* const */
    const char *str;/* import path, extern library */
    Loc str_loc;
    ExternFn *fns;  /* extern */
    Stmt *stmts;    /* system/problem body */
    Ident *targets; /* job: the systems/problems named */
    int ntargets;
    Setting *settings;
    struct Item *next;
    int broken;     /* the parser skipped part of it after a syntax error */
    /* Filled by the checker: */
    struct Item *imported; /* IT_IMPORT: the first item of the imported file */
} Item;

const char *ast_job_name(JobKind k);
const char *ast_stmt_keyword(StmtKind k);

/* Print the tree in a stable S-expression form (lag check --ast). */
void ast_dump(FILE *out, const Item *items);

#endif
