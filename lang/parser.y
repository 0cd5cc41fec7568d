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
static Stmt *desugar_bodies(Parser *P, Stmt *stmts, Loc end);
static Stmt *mk_input(Parser *P, Ident word, Ident name, Ident arg, const Ident *from, Expr *file,
                      NetArg *opts, Loc loc);
static Stmt *with_unit(Parser *P, Stmt *s, Expr *unit, Loc at, int after_name);

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
%token WHEN "when" /* only right after a setting named `stop` or `record` (lexer.l) */
%token SEP "newline"

%left '+' '-'
%left '*' '/'
%precedence UMINUS
%right '^'

%type <item> items item
%type <stmt> stmts stmt decls decl cdecls cdecl fixes fix subjects subject gens gen
%type <expr> expr primary args opt_args names opt_names exprs unit
%type <netarg> netargs netarg props prop
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
                                  $$->loc = @1; $$->name = $2;
                                  $$->stmts = desugar_bodies(P, REVERSE(Stmt, $4), @5); }
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
  | "coord" cdecls              { $$ = REVERSE(Stmt, $2); }
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
  | NAME NAME '=' expr          { $$ = NULL;
                                  if (strcmp($1.name, "gravity") == 0) {
                                      $$ = mk_stmt(P, ST_GRAVITY, @$);
                                      $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                      $$->names[0] = $2; $$->nnames = 1; $$->value = $4;
                                  } else
                                      unknown_statement(P, $1, $2); }
  | NAME NAME '(' NAME ')' '=' expr {
                                  $$ = mk_input(P, $1, $2, $4, NULL, NULL, NULL, @$); if ($$) $$->value = $7; }
  | NAME NAME '(' NAME ')' NAME STRING {
                                  Expr *f = mk_expr(P, EX_STR, @7); f->str = $7;
                                  $$ = mk_input(P, $1, $2, $4, &$6, f, NULL, @$); }
  | NAME NAME '(' NAME ')' NAME STRING '{' props '}' {
                                  Expr *f = mk_expr(P, EX_STR, @7); f->str = $7;
                                  $$ = mk_input(P, $1, $2, $4, &$6, f, REVERSE(NetArg, $9), @$); }
  | NAME NAME ':' expr '=' expr { $$ = NULL;
                                  if (strcmp($1.name, "constrain") == 0) {
                                      $$ = mk_stmt(P, ST_CONSTRAIN, @$);
                                      $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                      $$->names[0] = $2; $$->nnames = 1; $$->value = $4; $$->at = $6;
                                  } else
                                      unknown_statement(P, $1, $2); }
  | NAME NAME '{' props '}'     { $$ = NULL;
                                  if (strcmp($1.name, "body") == 0 || strcmp($1.name, "point") == 0) {
                                      $$ = mk_stmt(P, ST_BODY, @$); $$->func = $1;
                                      $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                      $$->names[0] = $2; $$->nnames = 1; $$->netargs = REVERSE(NetArg, $4);
                                  } else
                                      unknown_statement(P, $1, $2); }
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
  | NAME '=' expr unit          { $$ = mk_stmt(P, ST_PARAM, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1; $$->value = $3;
                                  $$ = with_unit(P, $$, $4, @4, 0); }
  | NAME unit                   { $$ = mk_stmt(P, ST_PARAM, @$);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1;
                                  $$ = with_unit(P, $$, $2, @2, 1); }
    ;

/* Coordinates, each with its unit or not: coord x [m], th */
cdecls:
    cdecl
  | cdecls ',' cdecl            { $3->next = $1; $$ = $3; }
    ;

cdecl:
    NAME                        { $$ = mk_stmt(P, ST_COORD, @1);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1; }
  | NAME unit                   { $$ = mk_stmt(P, ST_COORD, @1);
                                  $$->names = arena_alloc(P->arena, sizeof *$$->names);
                                  $$->names[0] = $1; $$->nnames = 1;
                                  $$ = with_unit(P, $$, $2, @2, 1); }
    ;

/* A unit is the last thing of a declaration, in brackets: [kg], [m/s^2].
 * Its contents are read as an expression, which lang/units.c then reads as
 * a unit (names, '*', '/', '^' with an integer, 1, parentheses). */
unit:
    '[' expr ']'                { $$ = $2; }
  | '[' error ']'               { $$ = NULL; P->broken = 1; } /* resume after the bracket */
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

/* A body's properties: `mass m, at r, inertia (A, B, C)`; a parenthesised
 * tuple of two or more is an EX_LIST. */
props:
    prop
  | props prop                  { $2->next = $1; $$ = $2; }
  | props ',' prop              { $3->next = $1; $$ = $3; }
    ;

prop:
    NAME expr                   { $$ = arena_alloc(P->arena, sizeof *$$); $$->key = $1; $$->value = $2; }
  | NAME '(' expr ',' exprs ')' { $$ = arena_alloc(P->arena, sizeof *$$); $$->key = $1;
                                  /* exprs is reversed (last first): the first goes at its end */
                                  Expr *tail = $5;
                                  while (tail->next)
                                      tail = tail->next;
                                  tail->next = $3;
                                  $3->next = NULL;
                                  Loc tuple = @2;
                                  tuple.last_line = @6.last_line;
                                  tuple.last_column = @6.last_column;
                                  $$->value = mk_call(P, EX_LIST, (Ident){0}, $5, tuple); }
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
    /* stop when EXPR crosses 0 [rising|falling]; the words are the
     * checker's to name in its messages, and the forms without them are
     * here so that it can say what is missing */
  | head WHEN                   { $$ = mk_setting(P, $1, SET_WHEN, @$); }
  | head WHEN expr              { $$ = mk_setting(P, $1, SET_WHEN, @$); $$->e1 = $3; }
  | head WHEN expr NAME expr    { $$ = mk_setting(P, $1, SET_WHEN, @$); $$->e1 = $3; $$->word = $4;
                                  $$->e2 = $5; }
  | head WHEN expr NAME expr NAME {
                                  $$ = mk_setting(P, $1, SET_WHEN, @$); $$->e1 = $3; $$->word = $4;
                                  $$->e2 = $5; $$->dir = $6; }
  | head WHEN expr '=' expr     { $$ = mk_setting(P, $1, SET_WHEN, @$); $$->e1 = $3;
                                  $$->word = (Ident){"=", 0, @4}; $$->e2 = $5; }
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

/* A declaration's unit.  A bracket written directly after a name, with no
 * space (x[m]), is kept for an index (coord q[N], issue 17), so a unit
 * after a name is written after a space: coord x [m]. */
static Stmt *with_unit(Parser *P, Stmt *s, Expr *unit, Loc at, int after_name)
{
    const Loc n = s->names[0].loc;
    if (after_name && at.first_line == n.last_line && at.first_column == n.last_column + 1)
        diag_error(P->diag, at, "a unit is written after a space ('%s [...]'); a bracket directly after "
                   "a name is an index", s->names[0].name);
    s->unit = unit;
    s->unit_loc = at;
    return s;
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
    (void)name;
    static const char *const words[] = {"param", "coord", "let", "force", "dissipation", "accel", "net",
                                        "unknown", "symmetry", "domain", "field", "fix", "subject", "minimize",
                                        "maximize", "stationary", "constrain"};
    if (strcmp(word.name, "constraint") == 0 || strcmp(word.name, "constrain") == 0)
        diag_error(P->diag, word.loc, "a constraint is written 'constrain NAME: lhs = rhs' (its name, a colon, "
                   "then an equation), as in 'constrain rod: x^2 + y^2 = l^2'");
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

/* ---- bodies, points and gravity ----
 *
 * `point NAME { mass m, at r }`, `body NAME { mass m, at r, inertia I,
 * angle th }` (2-D) or `body NAME { mass m, at r, inertia (A, B, C[, Ixy,
 * Iyz, Izx]), angles (phi, theta, psi)[, convention zxz | zyx] }` (3-D) and
 * `gravity g = vec(...)` are written here as lets the checker and the
 * symbolic core treat like any other: each body's mass and position as
 * lets NAME#m and NAME#at (a name no user can write), a 3-D body's angles
 * and its angular velocity in its own frame (NAME#w), then after the last
 * of these statements `let T = ...` (every kinetic energy) and `let V =
 * ...` (-m g.r of every body and point; 0 without gravity), and `L = T - V`
 * when the system states neither L nor accel. */

static Expr *d_name(Parser *P, const char *name, int primes, Loc loc)
{
    Expr *e = mk_expr(P, EX_NAME, loc);
    e->id = (Ident){name, primes, loc};
    return e;
}

static Expr *d_num(Parser *P, double v, Loc loc)
{
    Expr *e = mk_expr(P, EX_NUM, loc);
    e->num = v;
    return e;
}

static Expr *d_bin(Parser *P, ExprKind k, Expr *a, Expr *b)
{
    return mk_binary(P, k, a, b, a->loc);
}

static Expr *d_call(Parser *P, const char *f, Expr *a, Expr *b, Expr *c)
{
    /* mk_call takes the arguments reversed */
    Expr *rev = a;
    a->next = NULL;
    if (b) {
        b->next = rev;
        rev = b;
    }
    if (c) {
        c->next = rev;
        rev = c;
    }
    return mk_call(P, EX_CALL, (Ident){f, 0, a->loc}, rev, a->loc);
}

static Expr *d_comp(Parser *P, Expr *a, const char *c)
{
    Expr *e = mk_unary(P, EX_COMP, a, a->loc);
    e->id = (Ident){c, 0, a->loc};
    return e;
}

static Stmt *d_let(Parser *P, const char *name, Expr *value, Loc loc)
{
    Stmt *s = mk_stmt(P, ST_LET, loc);
    s->names = arena_alloc(P->arena, sizeof *s->names);
    s->names[0] = (Ident){name, 0, loc};
    s->nnames = 1;
    s->value = value;
    s->written = 1;
    return s;
}

static Expr *d_sum(Parser *P, Expr *sum, Expr *term)
{
    return sum ? d_bin(P, EX_ADD, sum, term) : term;
}

static const NetArg *prop_of(const Stmt *b, const char *key)
{
    for (const NetArg *a = b->netargs; a; a = a->next)
        if (strcmp(a->key.name, key) == 0)
            return a;
    return NULL;
}

/* sin(x), cos(x) of a let's name */
static Expr *d_fn(Parser *P, const char *f, const char *x, Loc loc)
{
    return d_call(P, f, d_name(P, x, 0, loc), NULL, NULL);
}

/* The angular velocity in the body's frame from the rates of the angles
 * a (rotated about first), b, c of an intrinsic convention:
 *   zxz (proper Euler angles phi, theta, psi):
 *     w = (a' sin b sin c + b' cos c, a' sin b cos c - b' sin c, a' cos b + c')
 *   zyx (yaw, pitch, roll):
 *     w = (c' - a' sin b, b' cos c + a' cos b sin c, a' cos b cos c - b' sin c)
 * (Goldstein, Classical Mechanics, 3rd ed., eq. 4.87, and its Tait-Bryan
 * counterpart; tests/bodies.py checks both against R^T dR/dt.) */
static Expr *omega(Parser *P, int zyx, const char *a, const char *b, const char *c, Loc loc)
{
#define N(x, p) d_name(P, x, p, loc)
#define MUL(x, y) d_bin(P, EX_MUL, x, y)
    Expr *w1, *w2, *w3;
    if (!zyx) {
        w1 = d_bin(P, EX_ADD, MUL(MUL(N(a, 1), d_fn(P, "sin", b, loc)), d_fn(P, "sin", c, loc)),
                   MUL(N(b, 1), d_fn(P, "cos", c, loc)));
        w2 = d_bin(P, EX_SUB, MUL(MUL(N(a, 1), d_fn(P, "sin", b, loc)), d_fn(P, "cos", c, loc)),
                   MUL(N(b, 1), d_fn(P, "sin", c, loc)));
        w3 = d_bin(P, EX_ADD, MUL(N(a, 1), d_fn(P, "cos", b, loc)), N(c, 1));
    } else {
        w1 = d_bin(P, EX_SUB, N(c, 1), MUL(N(a, 1), d_fn(P, "sin", b, loc)));
        w2 = d_bin(P, EX_ADD, MUL(N(b, 1), d_fn(P, "cos", c, loc)),
                   MUL(MUL(N(a, 1), d_fn(P, "cos", b, loc)), d_fn(P, "sin", c, loc)));
        w3 = d_bin(P, EX_SUB, MUL(MUL(N(a, 1), d_fn(P, "cos", b, loc)), d_fn(P, "cos", c, loc)),
                   MUL(N(b, 1), d_fn(P, "sin", c, loc)));
    }
    return d_call(P, "vec", w1, w2, w3);
#undef N
#undef MUL
}

static Stmt *desugar_bodies(Parser *P, Stmt *stmts, Loc end)
{
    Stmt *last = NULL, *gravity = NULL;
    int has_L = 0;
    for (Stmt *s = stmts; s; s = s->next) {
        if (s->kind == ST_BODY || s->kind == ST_GRAVITY)
            last = s;
        has_L |= s->kind == ST_ASSIGN || s->kind == ST_ACCEL;
        if (s->kind == ST_GRAVITY) {
            if (gravity) {
                diag_error(P->diag, s->loc, "a system has one gravity");
                diag_note(P->diag, gravity->loc, "the first is here");
            }
            gravity = s;
        }
    }
    if (!last)
        return stmts;
    Expr *T = NULL, *V = NULL;
    for (Stmt *s = stmts; s; s = s->next) {
        Stmt *after = s->next, *run = NULL, **tail = &run;
#define ADD(st) (*tail = (st), tail = &(*tail)->next)
        if (s->kind == ST_GRAVITY)
            ADD(d_let(P, s->names[0].name, s->value, s->loc));
        if (s->kind == ST_BODY) {
            const char *name = s->names[0].name;
            int point = strcmp(s->func.name, "point") == 0;
            Loc loc = s->loc;
            static const char *const keys[] = {"mass", "at", "inertia", "angle", "angles", "convention"};
            for (const NetArg *a = s->netargs; a; a = a->next) {
                int k = 0;
                while (k < 6 && strcmp(a->key.name, keys[k]) != 0)
                    k++;
                if (k == 6 || (point && k > 1))
                    diag_error(P->diag, a->key.loc, "a %s has no property '%s'; %s", s->func.name, a->key.name,
                               point ? "a point has a mass and a position: point NAME { mass m, at r }"
                                     : "a body has mass, at, inertia, and angle (2-D) or angles and "
                                       "convention (3-D)");
                for (const NetArg *b = s->netargs; b != a; b = b->next)
                    if (strcmp(a->key.name, b->key.name) == 0)
                        diag_error(P->diag, a->key.loc, "'%s' is given twice", a->key.name);
            }
            const NetArg *m = prop_of(s, "mass"), *at = prop_of(s, "at"), *I = prop_of(s, "inertia"),
                         *ang = prop_of(s, "angle"), *angs = prop_of(s, "angles"), *conv = prop_of(s, "convention");
            if (!m || !at) {
                diag_error(P->diag, loc, "%s '%s' needs %s", s->func.name, name,
                           !m && !at ? "a mass and a position ('mass m, at r')" : !m ? "a mass ('mass m')"
                                                                                  : "a position ('at r', a vector)");
                goto contributed;
            }
            const char *mn = arena_printf(P->arena, "%s#m", name), *rn = arena_printf(P->arena, "%s#at", name);
            ADD(d_let(P, mn, m->value, loc));
            ADD(d_let(P, rn, at->value, loc));
            /* 1/2 m dot(r', r') */
            Expr *t = d_bin(P, EX_MUL, d_bin(P, EX_MUL, d_num(P, 0.5, loc), d_name(P, mn, 0, loc)),
                            d_call(P, "dot", d_name(P, rn, 1, loc), d_name(P, rn, 1, loc), NULL));
            if (!point) {
                if ((ang != NULL) == (angs != NULL)) {
                    if (ang)
                        diag_error(P->diag, angs->key.loc, "body '%s' has both 'angle' (2-D) and 'angles' (3-D): "
                                   "keep the one for its space", name);
                    else
                        diag_error(P->diag, loc, "body '%s' needs its orientation: 'angle th' in 2-D or "
                                   "'angles (phi, theta, psi)' in 3-D", name);
                    goto contributed;
                }
                if (!I) {
                    diag_error(P->diag, loc, "body '%s' needs its moment of inertia about its centre of mass "
                               "('inertia I' in 2-D, 'inertia (A, B, C)' in 3-D); a point mass is "
                               "'point %s { mass m, at r }'", name, name);
                    goto contributed;
                }
                if (ang) {
                    if (I->value->kind == EX_LIST || ang->value->kind == EX_LIST || conv) {
                        diag_error(P->diag, conv ? conv->key.loc : I->value->kind == EX_LIST ? I->value->loc
                                                                                         : ang->value->loc,
                                   "a body with one angle turns in a plane: its inertia is one number and it "
                                   "has no convention (3-D bodies have 'angles (phi, theta, psi)')");
                        goto contributed;
                    }
                    /* + 1/2 I (angle')^2 */
                    Expr *rate = mk_unary(P, EX_PRIME, ang->value, ang->value->loc);
                    rate->id.primes = 1;
                    t = d_bin(P, EX_ADD, t, d_bin(P, EX_MUL, d_bin(P, EX_MUL, d_num(P, 0.5, loc), I->value),
                                                  d_bin(P, EX_POW, rate, d_num(P, 2, loc))));
                } else {
                    const Expr *al = angs->value;
                    int ni = I->value->kind == EX_LIST ? I->value->nargs : 1;
                    if (al->kind != EX_LIST || al->nargs != 3 || (ni != 3 && ni != 6)) {
                        diag_error(P->diag, al->kind != EX_LIST || al->nargs != 3 ? al->loc : I->value->loc, "%s",
                                   al->kind != EX_LIST || al->nargs != 3
                                       ? "'angles' are three: (phi, theta, psi), rotated about in that order"
                                       : "a 3-D body's inertia is (A, B, C), its principal moments, or (Ixx, Iyy, "
                                         "Izz, Ixy, Iyz, Izx), the tensor's entries in the body's frame");
                        goto contributed;
                    }
                    int zyx = 0;
                    if (conv) {
                        const char *c = conv->value->kind == EX_NAME ? conv->value->id.name : "";
                        zyx = strcmp(c, "zyx") == 0;
                        if (!zyx && strcmp(c, "zxz") != 0) {
                            diag_error(P->diag, conv->value->loc, "unknown convention; 'zxz' (Euler angles, the "
                                       "default) or 'zyx' (yaw, pitch, roll), both rotations about the body's "
                                       "own axes");
                            goto contributed;
                        }
                    }
                    const char *an[3];
                    int k = 0;
                    for (Expr *x = al->args, *nx; x; x = nx, k++) {
                        nx = x->next;
                        an[k] = arena_printf(P->arena, "%s#%d", name, k + 1);
                        ADD(d_let(P, an[k], x, loc));
                    }
                    const char *wn = arena_printf(P->arena, "%s#w", name);
                    ADD(d_let(P, wn, omega(P, zyx, an[0], an[1], an[2], loc), loc));
                    Expr *in[6];
                    k = 0;
                    if (I->value->kind == EX_LIST)
                        for (Expr *x = I->value->args, *nx; x; x = nx) {
                            nx = x->next;
                            x->next = NULL;
                            in[k++] = x;
                        }
                    static const char *const ax[3] = {"x", "y", "z"};
                    Expr *rot = NULL;
                    for (int i = 0; i < 3; i++) /* 1/2 I_ii w_i^2 */
                        rot = d_sum(P, rot, d_bin(P, EX_MUL, d_bin(P, EX_MUL, d_num(P, 0.5, loc), in[i]),
                                                  d_bin(P, EX_POW, d_comp(P, d_name(P, wn, 0, loc), ax[i]),
                                                        d_num(P, 2, loc))));
                    for (int i = 0; ni == 6 && i < 3; i++) /* I_xy w_x w_y + I_yz w_y w_z + I_zx w_z w_x */
                        rot = d_sum(P, rot, d_bin(P, EX_MUL, in[3 + i],
                                                  d_bin(P, EX_MUL, d_comp(P, d_name(P, wn, 0, loc), ax[i]),
                                                        d_comp(P, d_name(P, wn, 0, loc), ax[(i + 1) % 3]))));
                    t = d_bin(P, EX_ADD, t, rot);
                }
            }
            T = d_sum(P, T, t);
            s->written = 1; /* well formed: the checker checks its space */
            if (gravity) /* - m dot(g, r) */
                V = d_sum(P, V, d_bin(P, EX_MUL, d_name(P, mn, 0, loc),
                                      d_call(P, "dot", d_name(P, gravity->names[0].name, 0, loc),
                                             d_name(P, rn, 0, loc), NULL)));
        }
    contributed:
        if (s == last) {
            Loc loc = s->loc;
            ADD(d_let(P, "T", T ? T : d_num(P, 0, loc), loc));
            ADD(d_let(P, "V", V ? mk_unary(P, EX_NEG, V, V->loc) : d_num(P, 0, loc), loc));
        }
#undef ADD
        if (run) { /* splice the lets in after s, and go on after them */
            Stmt *end_run = run;
            while (end_run->next)
                end_run = end_run->next;
            end_run->next = after;
            s->next = run;
            s = end_run;
        }
    }
    if (!has_L) {
        Stmt *L = mk_stmt(P, ST_ASSIGN, end);
        L->names = arena_alloc(P->arena, sizeof *L->names);
        L->names[0] = (Ident){"L", 0, end};
        L->nnames = 1;
        L->value = d_bin(P, EX_SUB, d_name(P, "T", 0, end), d_name(P, "V", 0, end));
        Stmt **p = &stmts;
        while (*p)
            p = &(*p)->next;
        *p = L;
    }
    return stmts;
}

/* input F(t) = expr, input F(t) from "file.csv" [{ options }] */
static Stmt *mk_input(Parser *P, Ident word, Ident name, Ident arg, const Ident *from, Expr *file,
                      NetArg *opts, Loc loc)
{
    if (strcmp(word.name, "input") != 0) {
        diag_error(P->diag, word.loc, "unknown statement '%s'; a function of time given as data or as an "
                   "expression is 'input %s(%s) from \"file.csv\"' or 'input %s(%s) = ...'", word.name,
                   name.name, arg.name, name.name, arg.name);
        return NULL;
    }
    if (from && strcmp(from->name, "from") != 0)
        diag_error(P->diag, from->loc, "'input %s(%s) %s ...': write 'from' before the file", name.name, arg.name,
                   from->name);
    Stmt *s = mk_stmt(P, ST_INPUT, loc);
    s->names = arena_alloc(P->arena, 2 * sizeof *s->names);
    s->names[0] = name;
    s->names[1] = arg;
    s->nnames = 2;
    s->at = file;
    s->netargs = opts;
    return s;
}
