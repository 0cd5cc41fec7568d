/*
 * lang/override.h — parameter values from the command line,
 * `--set SYSTEM.param=value`, for `lag run` and `lag el`: the one place
 * they are parsed and checked against the program.
 */
#ifndef LAG_OVERRIDE_H
#define LAG_OVERRIDE_H

#include "lang/front.h"

typedef struct Override {
    const Item *sys;   /* the system or problem named */
    const char *param; /* one of its parameters */
    double value;      /* a finite number */
    const char *arg;   /* the whole argument, for messages */
} Override;

/* The form of one argument: SYSTEM.param=value with a finite number.
 * Returns 0, or 2 (usage) after "lag: CMD: --set ..." on stderr.  Needs no
 * program, so a command can refuse it before loading any file. */
int override_form(const char *cmd, const char *arg);

/* Each of the n arguments (of the checked form) resolved against the
 * program into out[0 .. n-1]: SYSTEM a system or problem of it, param one
 * of its parameters; "did you mean" for near misses.  Returns 0, or 2
 * after a message naming the first bad part.  Names are in F's arena. */
int override_resolve(Front *F, const char *cmd, const char *const *args, int n, Override *out);

#endif
