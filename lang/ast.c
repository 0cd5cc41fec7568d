/*
 * lang/ast.c — names of AST kinds and the S-expression dump used by
 * `lag check --ast` and the front-end golden tests.
 */
#include "lang/ast.h"

#include <stdio.h>
#include <stdlib.h>

const char *ast_job_name(JobKind k)
{
    static const char *const names[] = {"simulate", "train", "compare", "solve", "action", "infer"};
    return names[k];
}

const char *ast_stmt_keyword(StmtKind k)
{
    static const char *const names[] = {
        "param", "coord", "let", "=", "accel", "force", "dissipation", "net",
        "domain", "field", "unknown", "fix", "subject", "minimize", "stationary", "maximize", "symmetry",
        "body", "gravity", "input", "constrain"};
    return names[k];
}

static void ident(FILE *out, Ident id)
{
    fputs(id.name ? id.name : "?", out);
    for (int i = 0; i < id.primes; i++)
        fputc('\'', out);
}

static void string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

/* The shortest decimal form that reads back as the same double. */
static void number(FILE *out, double v)
{
    char buf[32];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

static void expr(FILE *out, const Expr *e)
{
    static const char *const ops[] = {[EX_ADD] = "+", [EX_SUB] = "-", [EX_MUL] = "*",
                                      [EX_DIV] = "/", [EX_POW] = "^"};
    switch (e->kind) {
    case EX_NUM:
        number(out, e->num);
        break;
    case EX_STR:
        string(out, e->str);
        break;
    case EX_NAME:
        ident(out, e->id);
        break;
    case EX_NEG:
        fputs("(neg ", out);
        expr(out, e->a);
        fputc(')', out);
        break;
    case EX_PRIME:
        fprintf(out, "(d/dt^%d ", e->id.primes);
        expr(out, e->a);
        fputc(')', out);
        break;
    case EX_COMP:
        fputs("(. ", out);
        expr(out, e->a);
        fputc(' ', out);
        ident(out, e->id);
        fputc(')', out);
        break;
    case EX_ADD:
    case EX_SUB:
    case EX_MUL:
    case EX_DIV:
    case EX_POW:
        fprintf(out, "(%s ", ops[e->kind]);
        expr(out, e->a);
        fputc(' ', out);
        expr(out, e->b);
        fputc(')', out);
        break;
    case EX_CALL:
    case EX_LIST:
        if (e->kind == EX_CALL) {
            fputc('(', out);
            ident(out, e->id);
        } else {
            fputs("[", out);
        }
        for (const Expr *a = e->args; a; a = a->next) {
            if (e->kind == EX_CALL || a != e->args)
                fputc(' ', out);
            expr(out, a);
        }
        fputc(e->kind == EX_CALL ? ')' : ']', out);
        break;
    }
}

static void names(FILE *out, const Ident *v, int n)
{
    fputc('(', out);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(' ', out);
        ident(out, v[i]);
    }
    fputc(')', out);
}

static void stmt(FILE *out, const Stmt *s)
{
    fprintf(out, "  (%s", s->kind == ST_ASSIGN ? "assign" : ast_stmt_keyword(s->kind));
    if (s->nnames) {
        fputc(' ', out);
        if (s->kind == ST_LET || s->kind == ST_ACCEL)
            names(out, s->names, s->nnames);
        else if (s->kind == ST_SYMMETRY) {
            ident(out, s->names[0]);
            fputs(s->swap ? " swap " : " ", out);
            names(out, s->names + 1, s->nnames - 1);
        }
        else
            ident(out, s->names[0]);
    }
    if (s->kind == ST_NET) {
        fputc(' ', out);
        ident(out, s->func);
        for (const NetArg *a = s->netargs; a; a = a->next) {
            fprintf(out, " (%s ", a->key.name);
            expr(out, a->value);
            fputc(')', out);
        }
    }
    if (s->kind == ST_FIX) {
        fputc(' ', out);
        expr(out, s->at);
    }
    if (s->value) {
        fputc(' ', out);
        expr(out, s->value);
    }
    for (const Expr *e = s->exprs; e; e = e->next) {
        fputc(' ', out);
        expr(out, e);
    }
    if (s->kind == ST_SUBJECT || s->kind == ST_CONSTRAIN || s->hi) {
        fputc(' ', out);
        expr(out, s->kind == ST_SUBJECT || s->kind == ST_CONSTRAIN ? s->at : s->hi);
    }
    if (s->unit) {
        fputs(" (unit ", out);
        expr(out, s->unit);
        fputc(')', out);
    }
    fputs(")\n", out);
}

static void settings(FILE *out, const Setting *s, int indent)
{
    for (; s; s = s->next) {
        fprintf(out, "%*s(", indent, "");
        ident(out, s->head);
        if (s->form == SET_WHEN) {
            fputs(" when", out);
            if (s->e1) {
                fputc(' ', out);
                expr(out, s->e1);
            }
            if (s->word.name) {
                fprintf(out, " %s ", s->word.name);
                expr(out, s->e2);
            }
            if (s->dir.name)
                fprintf(out, " %s", s->dir.name);
            fputs(")\n", out);
            continue;
        }
        if (s->form == SET_WORD || s->form == SET_BLOCK)
            fprintf(out, " %s", s->word.name);
        if (s->form == SET_BLOCK)
            fprintf(out, " %s", s->target.name);
        if (s->e1) {
            fputc(' ', out);
            expr(out, s->e1);
        }
        if (s->e2) {
            fputs(" .. ", out);
            expr(out, s->e2);
        }
        for (const Assign *a = s->assigns; a; a = a->next) {
            fputs(" (", out);
            ident(out, a->name);
            fputc(' ', out);
            expr(out, a->value);
            if (a->hi) {
                fputs(" .. ", out);
                expr(out, a->hi);
            }
            if (a->count) {
                fputs(" : ", out);
                expr(out, a->count);
            }
            fputc(')', out);
        }
        if (s->form == SET_BLOCK) {
            fputc('\n', out);
            settings(out, s->sub, indent + 2);
            fprintf(out, "%*s", indent, "");
        }
        fputs(")\n", out);
    }
}

void ast_dump(FILE *out, const Item *items)
{
    for (const Item *it = items; it; it = it->next) {
        switch (it->kind) {
        case IT_IMPORT:
            fputs("(import ", out);
            string(out, it->str);
            fputs(")\n", out);
            break;
        case IT_CONST:
            fprintf(out, "(const %s ", it->name.name);
            expr(out, it->value);
            fputs(")\n", out);
            break;
        case IT_EXTERN:
            fputs("(extern ", out);
            string(out, it->str);
            fputc('\n', out);
            for (const ExternFn *f = it->fns; f; f = f->next) {
                fprintf(out, "  (%s ", f->name.name);
                names(out, f->params, f->nparams);
                if (f->grads) {
                    fputs(" grad ", out);
                    names(out, f->grads, f->ngrads);
                }
                fputs(")\n", out);
            }
            fputs(")\n", out);
            break;
        case IT_SYSTEM:
        case IT_PROBLEM:
            fprintf(out, "(%s %s\n", it->kind == IT_SYSTEM ? "system" : "problem", it->name.name);
            for (const Stmt *s = it->stmts; s; s = s->next)
                stmt(out, s);
            fputs(")\n", out);
            break;
        case IT_JOB:
            fprintf(out, "(%s ", ast_job_name(it->job));
            names(out, it->targets, it->ntargets);
            fputc('\n', out);
            settings(out, it->settings, 2);
            fputs(")\n", out);
            break;
        }
    }
}
