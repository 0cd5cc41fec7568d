/*
 * lang/check.h — the checking pass: name resolution and every static rule
 * of the language (LANGUAGE.md), with located messages.
 *
 * Input: the items of every loaded file (the root first).  Output: errors
 * and warnings in the Diag, and each Expr's `ref`/`index`/`decl` filled in.
 */
#ifndef LAG_CHECK_H
#define LAG_CHECK_H

#include "lang/ast.h"
#include "lang/diag.h"

/* files[i] is the first item of loaded file i; dirs[i] its directory (for
 * extern library paths).  Returns the number of errors found. */
int check_program(Diag *d, Arena *a, Item *const *files, const char *const *dirs, int nfiles);

/* The value of a checked initial value with draws inside (Assign.draw 3,
 * e.g. 0.99999*tanh(normal(0, 2))): every draw, left to right, comes from
 * draw(ctx, normal, a, b) — normal(a, b) when normal is 1, uniform(a, b)
 * when 0 — and the rest is arithmetic and built-ins on folded constants. */
double check_draw_eval(const Expr *e, double (*draw)(void *ctx, int normal, double a, double b), void *ctx);

#endif
