/*
 * lang/parser.y — the grammar of .lag files (pure Bison, with locations).
 *
 * One statement grammar serves system and problem bodies; the checker says
 * which statements belong where, which gives better messages than a syntax
 * error.  Job bodies are lists of settings `head args`, separated by ',',
 * ';' or newlines; the setting names are not keywords (the checker knows
 * them), only the forms of their arguments are grammar.  Lists are built in
 * reverse (O(1) per element) and reversed once when complete.
 */
%define api.pure full
%define api.location.type {Loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%lex-param {yyscan_t scanner}
%parse-param {yyscan_t scanner} {Parser *P}

%code requires {
#include "lang/ast.h"
#include "lang/front.h"
typedef void *yyscan_t;
}

%code {
#include <stdio.h>
#include <string.h>

#include "runtime/mem.h"

/* The parser's stack grows through the project's allocation hook. */
#define YYMALLOC mem_alloc
#define YYFREE mem_free

#include "lexer.h"

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                            \
    do {                                                                       \
        if (N) {                                                               \
            (Cur).file = YYRHSLOC(Rhs, 1).file;                                \
            (Cur).first_line = YYRHSLOC(Rhs, 1).first_line;                    \
            (Cur).first_column = YYRHSLOC(Rhs, 1).first_column;                \
            (Cur).last_line = YYRHSLOC(Rhs, N).last_line;                      \
            (Cur).last_column = YYRHSLOC(Rhs, N).last_column;                  \
        } else {                                                               \
            (Cur).file = YYRHSLOC(Rhs, 0).file;                                \
            (Cur).first_line = (Cur).last_line = YYRHSLOC(Rhs, 0).last_line;   \
            (Cur).first_column = (Cur).last_column = YYRHSLOC(Rhs, 0).last_column; \
        }                                                                      \
    } while (0)

static Expr *mk_expr(Parser *P, ExprKind k, Loc loc);
static Expr *mk_unary(Parser *P, ExprKind k, Expr *a, Loc loc);
static Expr *mk_binary(Parser *P, ExprKind k, Expr *a, Expr *b, Loc loc);
static Expr *mk_call(Parser *P, ExprKind k, Ident callee, Expr *revargs, Loc loc);
static Stmt *mk_stmt(Parser *P, StmtKind k, Loc loc);
static Stmt *mk_symmetry(Parser *P, Ident name, Stmt *gens, Loc loc);
static Ident *idents(Parser *P, Expr *revnames, int *n);
static Setting *mk_setting(Parser *P, Ident head, SettingForm f, Loc loc);
static Assign *mk_assign(Parser *P, Ident name, Expr *v, Expr *hi, Expr *count, Loc loc);
static Setting *add_setting(Setting *rev, Setting *s, int after_comma);
static void yyerror(const Loc *loc, yyscan_t scanner, Parser *P, const char *msg);
static void unknown_statement(Parser *P, Ident word, Ident name);

/* Reverse a list built backwards; one function per list type. */
#define DEFINE_REVERSE(T)                                                      \
    static T *reverse_##T(T *list)                                             \
    {                                                                          \
        T *r = NULL, *n;                                                       \
        for (T *c = list; c; c = n) {                                          \
            n = c->next;                                                       \
            c->next = r;                                                       \
            r = c;                                                             \
        }                                                                      \
        return r;                                                              \
    }
DEFINE_REVERSE(Item)
DEFINE_REVERSE(Stmt)
DEFINE_REVERSE(Expr)
DEFINE_REVERSE(ExternFn)
DEFINE_REVERSE(NetArg)
DEFINE_REVERSE(Setting)
#define REVERSE(T, list) reverse_##T(list)

/* Prepend a statement's run of Stmts (in source order) to a reversed list. */
static Stmt *prepend_stmts(Stmt *rev, Stmt *run)
{
    while (run) {
        Stmt *n = run->next;
        run->next = rev;
        rev = run;
        run = n;
    }
    return rev;
}
}

%union {
    Ident id;
    double num;
    const char *str;
    Expr *expr;
    Stmt *stmt;
    NetArg *netarg;
    ExternFn *fn;
    Setting *setting;
    Assign *assign;
    Item *item;
    int flag;
}

%token <id> NAME "name"
%token <num> NUMBER "number"
%token <str> STRING "string"
%token <id> IMPORT "import" CONST "const" EXTERN "extern" SYSTEM "system" PROBLEM "problem"
%token <id> NET "net" PARAM "param" COORD "coord" LET "let" ACCEL "accel" FORCE "force"
%token <id> DISSIPATION "dissipation" DOMAIN "domain" FIELD "field" UNKNOWN "unknown"
%token <id> FIX "fix" SUBJECT "subject" MINIMIZE "minimize" MAXIMIZE "maximize" STATIONARY "stationary" GRAD "grad"
%token <id> SIMULATE "simulate" TRAIN "train" COMPARE "compare" SOLVE "solve" ACTION "action"
%token <id> INFER "infer" SYMMETRY "symmetry"
%token <num> PRIMES "primes"
%token <id> COMPONENT "component"
%token DOTDOT ".." ARROW "->" SWAP "<->"
%token SEP "newline"

%left '+' '-'
%left '*' '/'
%precedence UMINUS
%right '^'

%type <item> items item
%type <stmt> stmts stmt decls decl fixes fix subjects subject gens gen
%type <expr> expr primary args opt_args names opt_names exprs
%type <netarg> netargs netarg
%type <fn> fns fn
%type <setting> settings setting_list setting
%type <assign> assign
%type <id> head word keyword jobkind
%type <flag> seps sep

%%

program:
    items                       { P->items = REVERSE(Item, $1); }
    ;

/* An item whose body had a syntax error is marked broken, so the checker
 * does not add "missing X" errors for what the parser had to skip. */
items:
    %empty                      { $$ = NULL; }
  | items item                  { if ($2) { $2->broken = P->broken; $2->next = $1; $$ = $2; }
                                  else $$ = $1;
                                  P->broken = 0; }
  | items ';'                   { $$ = $1; }
    ;

item:
    "import" STRING             { $$ = arena_alloc(P->arena, sizeof *$$); $$->kind = IT_IMPORT;
                                  $$->loc = @1; $$->str = $2; $$->str_loc = @2; }
  | "const" NAME '=' expr       { $$ = arena_alloc(P->arena, sizeof *$$); $$->kind = IT_CONST;
                                  $$->loc = @1; $$->name = $2; $$->value = $4; }
  | "extern" STRING '{' fns '}' { $$ = arena_alloc(P->arena, sizeof *$$); $$->kind = IT_EXTERN;
                                  $$->loc = @1; $$->str = $2; $$->str_loc = @2;
                                  $$->fns = REVERSE(ExternFn, $4);
                                  for (ExternFn *f = $$->fns; f; f = f->next) f->lib = $2; }
  | "system" NAME '{' stmts '}' { $$ = arena_alloc(P->arena, sizeof *$$); $$->kind = IT_SYSTEM;
                                  $$->loc = @1; $$->name = $2; $$->stmts = REVERSE(Stmt, $4); }
  | "problem" NAME '{' stmts '}' { $$ = arena_alloc(P->arena, sizeof *$$); $$->kind = IT_PROBLEM;
                                  $$->loc = @1; $$->name = $2; $$->stmts = REVERSE(Stmt, $4); }
  | jobkind names '{' settings '}' {
                                  $$ = arena_alloc(P->arena, sizeof *$$); $$->kind = IT_JOB;
                                  $$->loc = @1; $$->name = $1;
                                  $$->job = $1.name[0] == 's' ? ($1.name[1] == 'i' ? JOB_SIMULATE : JOB_SOLVE)
                                          : $1.name[0] == 't' ? JOB_TRAIN
                                          : $1.name[0] == 'c' ? JOB_COMPARE
                                          : $1.name[0] == 'a' ? JOB_ACTION : JOB_INFER;
                                  $$->targets = idents(P, $2, &$$->ntargets);
                                  $$->settings = REVERSE(Setting, $4); }
  | error                       { $$ = NULL; }
    ;

jobkind: "simulate" | "train" | "compare" | "solve" | "action" | "infer" ;

/* ---- extern ---- */

fns:
    %empty                      { $$ = NULL; }
  | fns fn                      { $2->next = $1; $$ = $2; }
    ;

fn:
    NAME '(' opt_names ')'      { $$ = arena_alloc(P->arena, sizeof *$$); $$->name = $1;
                                  $$->params = idents(P, $3, &$$->nparams); }
  | NAME '(' opt_names ')' "grad" '(' names ')' {
                                  $$ = arena_alloc(P->arena, sizeof *$$); $$->name = $1;
                                  $$->params = idents(P, $3, &$$->nparams);
                                  $$->grads = idents(P, $7, &$$->ngrads); $$->grad_loc = @5; }
    ;

/* Name lists are collected as reversed chains of EX_NAME nodes. */
names:
    NAME                        { $$ = mk_expr(P, EX_NAME, @1); $$->id = $1; }
  | names ',' NAME              { $$ = mk_expr(P, EX_NAME, @3); $$->id = $3; $$->next = $1; }
    ;

opt_names:
    %empty                      { $$ = NULL; }
  | names
    ;

/* ---- system and problem bodies ---- */

stmts:
    %empty                      { $$ = NULL; }
  | stmts stmt                  { $$ = prepend_stmts($1, $2); }
  | stmts ';'                   { $$ = $1; }
    ;

/* A statement yields a run of Stmts in source order: `param a = 1, b = 2` is two. */
stmt:
    "param" decls               { $$ = REVERSE(Stmt, $2); for (Stmt *s = $$; s; s = s->next) s->kind = ST_PARAM; }
  | "unknown" decls             { $$ = REVERSE(Stmt, $2); for (Stmt *s = $$; s; s = s->next) s->kind = ST_UNKNOWN; }
  | "coord" names               { $$ = NULL;
                                  for (Expr *n = $2; n; n = n->next) {
                                      Stmt *s = mk_stmt(P, ST_COORD, n->loc);
                                      s->names = arena_alloc(P->arena, sizeof *s->names);
                                      s->names[0] = n->id; s->nnames = 1; s->next = $$; $$ = s;
                                  }
                                  }
  | "field" names               { $$ = NULL;
                                  for (Expr *n = $2; n; n = n->next) {
                                      Stmt *s = mk_stmt(P, ST_FIELD, n->loc);
                                      s->names = arena_alloc(P->arena, sizeof *s->names);
                                      s->names[0] = n->id; s->nnames = 1; s->next = $$; $$ = s;
                                  }
                                  }
  | "let" names '=' expr        { $$ = mk_stmt(P, ST_LET, @$); $$->names = idents(P, $2, &$$->nnames);
                                  $$->value = $4; }
  | NAME '=' expr               { $$ = mk_stmt(P, ST_ASSIGN, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1; $$->value = $3; }
  | "accel" names '=' exprs     { $$ = mk_stmt(P, ST_ACCEL, @$); $$->names = idents(P, $2, &$$->nnames);
                                  $$->exprs = REVERSE(Expr, $4);
                                  for (Expr *e = $$->exprs; e; e = e->next) $$->nexprs++; }
  | "force" NAME '=' expr       { $$ = mk_stmt(P, ST_FORCE, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $2; $$->nnames = 1; $$->value = $4; }
  | "dissipation" NAME '=' expr { $$ = mk_stmt(P, ST_DISSIPATION, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $2; $$->nnames = 1; $$->value = $4; }
  | "net" NAME '=' NAME '(' netargs ')' {
                                  $$ = mk_stmt(P, ST_NET, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $2; $$->nnames = 1; $$->func = $4;
                                  $$->netargs = REVERSE(NetArg, $6); }
  | "domain" NAME '=' expr ".." expr {
                                  $$ = mk_stmt(P, ST_DOMAIN, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $2; $$->nnames = 1; $$->value = $4; $$->hi = $6; }
  | "fix" fixes                 { $$ = REVERSE(Stmt, $2); }
  | "subject" subjects          { $$ = REVERSE(Stmt, $2); }
  | "minimize" expr             { $$ = mk_stmt(P, ST_MINIMIZE, @$); $$->value = $2; }
  | "maximize" expr             { $$ = mk_stmt(P, ST_MAXIMIZE, @$); $$->value = $2; }
  | "stationary" expr           { $$ = mk_stmt(P, ST_STATIONARY, @$); $$->value = $2; }
  | "symmetry" NAME ':' gens    { $$ = mk_symmetry(P, $2, REVERSE(Stmt, $4), @$); }
  | NAME NAME '=' expr          { $$ = NULL; unknown_statement(P, $1, $2); }
  | error                       { $$ = NULL; P->broken = 1; }
    ;

decls:
    decl
  | decls ',' decl              { $3->next = $1; $$ = $3; }
    ;

decl:
    NAME '=' expr               { $$ = mk_stmt(P, ST_PARAM, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1; $$->value = $3; }
  | NAME                        { $$ = mk_stmt(P, ST_PARAM, @$); /* symbolic: no value (param m, k) */
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1; }
    ;

fixes:
    fix
  | fixes ',' fix               { $3->next = $1; $$ = $3; }
    ;

fix:
    NAME '(' expr ')' '=' expr  { $$ = mk_stmt(P, ST_FIX, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1; $$->at = $3; $$->value = $6; }
    ;

subjects:
    subject
  | subjects ',' subject        { $3->next = $1; $$ = $3; }
    ;

subject:
    expr '=' expr               { $$ = mk_stmt(P, ST_SUBJECT, @$); $$->value = $1; $$->at = $3; }
    ;

/* A symmetry's generators, as one-name statements: q -> expr (value), or
 * a <-> b (two names); mk_symmetry gathers them. */
gens:
    gen
  | gens ',' gen                { $3->next = $1; $$ = $3; }
    ;

gen:
    NAME "->" expr              { $$ = mk_stmt(P, ST_SYMMETRY, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1; $$->value = $3; }
  | NAME "<->" NAME             { $$ = mk_stmt(P, ST_SYMMETRY, @$);
                                  $$->names = arena_alloc(P->arena, 2 * sizeof *$$->names);
                                  $$->names[0] = $1; $$->names[1] = $3; $$->nnames = 2; }
    ;

netargs:
    netarg
  | netargs ',' netarg          { $3->next = $1; $$ = $3; }
    ;

netarg:
    NAME '=' expr               { $$ = arena_alloc(P->arena, sizeof *$$); $$->key = $1; $$->value = $3; }
    ;

exprs:
    expr
  | exprs ',' expr              { $3->next = $1; $$ = $3; }
    ;

/* ---- expressions ---- */

expr:
    primary
  | expr '+' expr               { $$ = mk_binary(P, EX_ADD, $1, $3, @$); }
  | expr '-' expr               { $$ = mk_binary(P, EX_SUB, $1, $3, @$); }
  | expr '*' expr               { $$ = mk_binary(P, EX_MUL, $1, $3, @$); }
  | expr '/' expr               { $$ = mk_binary(P, EX_DIV, $1, $3, @$); }
  | expr '^' expr               { $$ = mk_binary(P, EX_POW, $1, $3, @$); }
  | '-' expr %prec UMINUS       { $$ = mk_unary(P, EX_NEG, $2, @$); }
  | '+' expr %prec UMINUS       { $$ = $2; }
    ;

primary:
    NUMBER                      { $$ = mk_expr(P, EX_NUM, @1); $$->num = $1; }
  | STRING                      { $$ = mk_expr(P, EX_STR, @1); $$->str = $1; }
  | NAME                        { $$ = mk_expr(P, EX_NAME, @1); $$->id = $1; }
  | NAME '(' opt_args ')'       { $$ = mk_call(P, EX_CALL, $1, $3, @$); }
  | '[' opt_args ']'            { $$ = mk_call(P, EX_LIST, (Ident){0}, $2, @$); }
  | '(' expr ')'                { $$ = $2; $$->loc = @$; }
  | '(' expr ')' PRIMES         { $$ = mk_unary(P, EX_PRIME, $2, @$); $$->id.primes = (int)$4; }
  | primary COMPONENT           { $$ = mk_unary(P, EX_COMP, $1, @$); $$->id = $2; }
    ;

opt_args:
    %empty                      { $$ = NULL; }
  | args
    ;

args:
    expr
  | args ',' expr               { $3->next = $1; $$ = $3; }
    ;

/* ---- job bodies ---- */

settings:
    %empty                      { $$ = NULL; }
  | seps                        { $$ = NULL; }
  | setting_list
  | setting_list seps
    ;

setting_list:
    setting                     { $$ = add_setting(NULL, $1, 0); }
  | seps setting                { $$ = add_setting(NULL, $2, 0); }
  | setting_list seps setting   { $$ = add_setting($1, $3, $2); }
    ;

/* The value of a separator run: 1 when it is commas only (a list goes on). */
seps:
    sep
  | seps sep                    { $$ = $1 && $2; }
    ;

sep:
    ','                         { $$ = 1; }
  | ';'                         { $$ = 0; }
  | SEP                         { $$ = 0; }
    ;

head:
    NAME
  | keyword
    ;

word:
    NAME
  | keyword
    ;

keyword:
    "import" | "const" | "extern" | "system" | "problem" | "net" | "param" | "coord"
  | "let" | "accel" | "force" | "dissipation" | "domain" | "field" | "unknown" | "fix"
  | "subject" | "minimize" | "maximize" | "stationary" | "grad" | "simulate" | "train" | "compare"
  | "solve" | "action" | "infer" | "symmetry"
    ;

setting:
    head                        { $$ = mk_setting(P, $1, SET_FLAG, @$); }
  | head expr                   { $$ = mk_setting(P, $1, SET_EXPR, @$); $$->e1 = $2; }
  | head keyword                { $$ = mk_setting(P, $1, SET_EXPR, @$);
                                  $$->e1 = mk_expr(P, EX_NAME, @2); $$->e1->id = $2; }
  | head expr ".." expr         { $$ = mk_setting(P, $1, SET_RANGE, @$); $$->e1 = $2; $$->e2 = $4; }
  | head assign                 { $$ = mk_setting(P, $1, SET_ASSIGNS, @$); $$->assigns = $2; }
  | head expr ':' assign        { $$ = mk_setting(P, $1, SET_AT, @$); $$->e1 = $2; $$->assigns = $4; }
  | head word NUMBER            { $$ = mk_setting(P, $1, SET_WORD, @$); $$->word = $2;
                                  $$->e1 = mk_expr(P, EX_NUM, @3); $$->e1->num = $3; }
  | head word NAME              { $$ = mk_setting(P, $1, SET_WORD, @$); $$->word = $2;
                                  $$->e1 = mk_expr(P, EX_NAME, @3); $$->e1->id = $3; }
  | head word NAME '{' settings '}' {
                                  $$ = mk_setting(P, $1, SET_BLOCK, @$); $$->word = $2;
                                  $$->target = $3; $$->sub = REVERSE(Setting, $5); }
  | assign                      { $$ = mk_setting(P, $1->name, SET_CONT, @$); $$->assigns = $1; }
  | error                       { $$ = NULL; P->broken = 1; }
    ;

assign:
    NAME '=' expr               { $$ = mk_assign(P, $1, $3, NULL, NULL, @$); }
  | NAME '=' expr ".." expr     { $$ = mk_assign(P, $1, $3, $5, NULL, @$); }
  | NAME '=' expr ".." expr ':' expr { $$ = mk_assign(P, $1, $3, $5, $7, @$); }
    ;

%%

static Expr *mk_expr(Parser *P, ExprKind k, Loc loc)
{
    Expr *e = arena_alloc(P->arena, sizeof *e);
    e->kind = k;
    e->loc = loc;
    e->depth = 1;
    return e;
}

/* Refuse expressions deeper than AST_MAX_DEPTH, so that every later
 * recursive pass is bounded; the offending operand becomes 0. */
static Expr *bounded(Parser *P, Expr *e, Loc loc)
{
    if (e->depth < AST_MAX_DEPTH)
        return e;
    if (e->depth == AST_MAX_DEPTH)
        diag_error(P->diag, loc, "expression is too deeply nested (more than %d levels)",
                   AST_MAX_DEPTH);
    Expr *z = mk_expr(P, EX_NUM, loc);
    z->depth = AST_MAX_DEPTH + 1; /* report once per expression */
    return z;
}

static Expr *mk_unary(Parser *P, ExprKind k, Expr *a, Loc loc)
{
    Expr *e = mk_expr(P, k, loc);
    e->a = a;
    e->depth = a->depth + 1;
    return bounded(P, e, loc);
}

static Expr *mk_binary(Parser *P, ExprKind k, Expr *a, Expr *b, Loc loc)
{
    Expr *e = mk_expr(P, k, loc);
    e->a = a;
    e->b = b;
    e->depth = (a->depth > b->depth ? a->depth : b->depth) + 1;
    return bounded(P, e, loc);
}

static Expr *mk_call(Parser *P, ExprKind k, Ident callee, Expr *revargs, Loc loc)
{
    Expr *e = mk_expr(P, k, loc);
    e->id = callee;
    e->args = REVERSE(Expr, revargs);
    for (Expr *a = e->args; a; a = a->next) {
        e->nargs++;
        if (a->depth + 1 > e->depth)
            e->depth = a->depth + 1;
    }
    return bounded(P, e, loc);
}

static Stmt *mk_stmt(Parser *P, StmtKind k, Loc loc)
{
    Stmt *s = arena_alloc(P->arena, sizeof *s);
    s->kind = k;
    s->loc = loc;
    return s;
}

/* symmetry NAME: its generators in source order.  names[0] is the
 * symmetry's name; a continuous one (every generator q -> expr) has the
 * coordinates in names[1..] and their expressions in exprs; an exchange
 * (every generator a <-> b) has the pairs in names[1..] and swap set.  A
 * mixture is reported by the checker (mixed). */
static Stmt *mk_symmetry(Parser *P, Ident name, Stmt *gens, Loc loc)
{
    Stmt *s = mk_stmt(P, ST_SYMMETRY, loc);
    int n = 1, ng = 0, swaps = 0;
    for (Stmt *g = gens; g; g = g->next) {
        n += g->nnames;
        ng++;
        swaps += g->nnames == 2;
    }
    s->names = arena_alloc(P->arena, (size_t)n * sizeof *s->names);
    s->names[0] = name;
    s->nnames = 1;
    s->swap = swaps > 0;
    s->mixed = swaps > 0 && swaps < ng;
    Expr **tail = &s->exprs;
    for (Stmt *g = gens; g; g = g->next) {
        for (int i = 0; i < g->nnames; i++)
            s->names[s->nnames++] = g->names[i];
        if (g->value) {
            *tail = g->value;
            tail = &g->value->next;
            s->nexprs++;
        }
    }
    return s;
}

/* Turn a reversed chain of EX_NAME nodes into an array in source order. */
static Ident *idents(Parser *P, Expr *rev, int *n)
{
    int count = 0;
    for (Expr *e = rev; e; e = e->next)
        count++;
    Ident *v = arena_alloc(P->arena, (size_t)(count ? count : 1) * sizeof *v);
    int i = count;
    for (Expr *e = rev; e; e = e->next)
        v[--i] = e->id;
    *n = count;
    return v;
}

static Setting *mk_setting(Parser *P, Ident head, SettingForm f, Loc loc)
{
    Setting *s = arena_alloc(P->arena, sizeof *s);
    s->head = head;
    s->form = f;
    s->loc = loc;
    return s;
}

static Assign *mk_assign(Parser *P, Ident name, Expr *v, Expr *hi, Expr *count, Loc loc)
{
    Assign *a = arena_alloc(P->arena, sizeof *a);
    a->name = name;
    a->value = v;
    a->hi = hi;
    a->count = count;
    a->loc = loc;
    return a;
}

/* Add a setting to a reversed list.  A bare `name = value` continues the
 * assignment list of the setting before it, but only after a comma;
 * otherwise it stays in the list as SET_CONT for the checker to report. */
static Setting *add_setting(Setting *rev, Setting *s, int after_comma)
{
    if (!s)
        return rev;
    if (s->form != SET_CONT) {
        s->next = rev;
        return s;
    }
    if (rev && after_comma && (rev->form == SET_ASSIGNS || rev->form == SET_AT)) {
        Assign *a = rev->assigns;
        while (a->next)
            a = a->next;
        a->next = s->assigns;
        rev->loc.last_line = s->loc.last_line;
        rev->loc.last_column = s->loc.last_column;
        return rev;
    }
    /* Not a continuation: the checker says what it should have been. */
    if (rev && (rev->form == SET_ASSIGNS || rev->form == SET_AT))
        s->list_before = rev;
    s->next = rev;
    return s;
}

/* Describe a token for an error message: its kind and, for names,
 * keywords and numbers, its text. */
static void describe(const Parser *P, yysymbol_kind_t sym, int lookahead, char *buf, size_t n)
{
    switch (sym) {
    case YYSYMBOL_YYEOF:
        snprintf(buf, n, "end of file");
        break;
    case YYSYMBOL_NAME:
        if (lookahead)
            snprintf(buf, n, "name '%s'", P->tok);
        else
            snprintf(buf, n, "a name");
        break;
    case YYSYMBOL_NUMBER:
        if (lookahead)
            snprintf(buf, n, "number '%s'", P->tok);
        else
            snprintf(buf, n, "a number");
        break;
    case YYSYMBOL_STRING:
        snprintf(buf, n, lookahead ? "string" : "a string");
        break;
    case YYSYMBOL_SEP:
        snprintf(buf, n, "end of line");
        break;
    default: {
        const char *s = yysymbol_name(sym);
        if (s[0] == '"') /* "keyword" as Bison may quote it */
            snprintf(buf, n, "'%.*s'", (int)strlen(s) - 2, s + 1);
        else if (s[0] == '\'')
            snprintf(buf, n, "%s", s);
        else
            snprintf(buf, n, "'%s'", s);
    }
    }
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, Parser *P)
{
    (void)scanner;
    if (P->aborted)
        return 0;
    enum { MAX_EXPECTED = 5 };
    yysymbol_kind_t expected[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
    char what[96], msg[512];
    yysymbol_kind_t got = yypcontext_token(ctx);
    const Loc *at = yypcontext_location(ctx);
    if (at->first_line == P->lex_error_line)
        return 0; /* the lexer said what is wrong on this line: one error, no cascade */
    describe(P, got, 1, what, sizeof what);
    int want_name = 0, want_close = 0, want_sep = 0, want_value = 0;
    for (int i = 0; i < n; i++) {
        want_name |= expected[i] == YYSYMBOL_NAME;
        want_value |= expected[i] == YYSYMBOL_NUMBER;
        want_close |= strcmp(yysymbol_name(expected[i]), "'}'") == 0;
        want_sep |= expected[i] == YYSYMBOL_SEP;
    }
    int keyword = got >= YYSYMBOL_IMPORT && got <= YYSYMBOL_INFER;
    if (got == YYSYMBOL_YYEOF && (want_close || P->brace_depth > 0)) {
        diag_error(P->diag, *at, "unexpected end of file: a block opened with '{' is not closed");
        return 0;
    }
    if (want_name && keyword) {
        if (want_value)
            diag_error(P->diag, *at, "unexpected %s where a value is expected (%s is a reserved word)",
                       what, what);
        else
            diag_error(P->diag, *at, "%s is a reserved word and cannot be used as a name", what);
        return 0;
    }
    if (keyword && P->paren_depth > 0) {
        diag_error(P->diag, *at, "unexpected %s: a '(' before it is not closed", what);
        return 0;
    }
    if (want_sep && (got == YYSYMBOL_NAME || keyword)) {
        diag_error(P->diag, *at,
                   "unexpected %s: separate the settings of a job with ',', ';' or a new line",
                   what);
        return 0;
    }
    if (n > MAX_EXPECTED)
        n = 0; /* too many to be a useful hint */
    size_t k = (size_t)snprintf(msg, sizeof msg, "unexpected %s", what);
    if (n > 0 && n <= MAX_EXPECTED) {
        k += (size_t)snprintf(msg + k, sizeof msg - k, "; expected ");
        for (int i = 0; i < n && k < sizeof msg; i++) {
            char e[64];
            describe(P, expected[i], 0, e, sizeof e);
            k += (size_t)snprintf(msg + k, sizeof msg - k, "%s%s",
                                  i == 0 ? "" : i == n - 1 ? " or " : ", ", e);
        }
    }
    diag_error(P->diag, *at, "%s", msg);
    return 0;
}

/* `WORD name = expr` where WORD is no statement keyword: what it is. */
static void unknown_statement(Parser *P, Ident word, Ident name)
{
    static const char *const words[] = {"param", "coord", "let", "force", "dissipation", "accel", "net",
                                        "unknown", "symmetry", "domain", "field", "fix", "subject", "minimize",
                                        "maximize", "stationary"};
    if (strcmp(word.name, "constraint") == 0 || strcmp(word.name, "constrain") == 0)
        diag_error(P->diag, word.loc, "holonomic constraints ('%s %s = ...') are not supported yet: write the "
                   "system in coordinates the constraint leaves free (for rolling without slipping, y = R*theta, "
                   "keep theta and write y as an expression of it)", word.name, name.name);
    else {
        const char *near = diag_suggest(word.name, words, (int)(sizeof words / sizeof words[0]));
        diag_error(P->diag, word.loc, "'%s' is not a statement%s%s%s", word.name, near ? " (did you mean '" : "",
                   near ? near : "", near ? "'?)" : "");
    }
    P->broken = 1;
}

static void yyerror(const Loc *loc, yyscan_t scanner, Parser *P, const char *msg)
{
    (void)scanner;
    if (P->aborted)
        return;

    if (strcmp(msg, "memory exhausted") == 0)
        diag_error(P->diag, *loc, "input nested too deeply for the parser");
    else
        diag_error(P->diag, *loc, "%s", msg);
}

int front_parse(Parser *P, const char *text, size_t len)
{
    int before = P->diag->errors;
    yyscan_t scanner;
    if (yylex_init_extra(P, &scanner) != 0) {
        diag_error(P->diag, (Loc){.file = -1}, "cannot start the scanner");
        return 1;
    }
    P->line = P->column = 1;
    YY_BUFFER_STATE buf = yy_scan_bytes(text, (int)len, scanner);
    yyparse(scanner, P);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    return P->diag->errors - before;
}
