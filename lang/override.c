/*
 * lang/override.c — --set SYSTEM.param=value (see override.h).
 */
#include "lang/override.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The value of a well-formed argument, or NaN when it is not a finite
 * number (strtod alone takes "abc" as 0 and "1e999" as infinity). */
static double value_of(const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    return end == text || *end || errno == ERANGE || !isfinite(v) ? NAN : v;
}

int override_form(const char *cmd, const char *arg)
{
    const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
    if (!dot || !eq || dot > eq || dot == arg || eq == dot + 1) {
        fprintf(stderr, "lag: %s: --set expects SYSTEM.param=value (got '%s')\n", cmd, arg);
        return 2;
    }
    if (isnan(value_of(eq + 1))) {
        fprintf(stderr, "lag: %s: --set '%s': '%s' is not a finite number\n", cmd, arg, eq + 1);
        return 2;
    }
    return 0;
}

static const char *maybe(Front *F, const char *sugg)
{
    return sugg ? arena_printf(F->arena, " (did you mean '%s'?)", sugg) : "";
}

int override_resolve(Front *F, const char *cmd, const char *const *args, int n, Override *out)
{
    /* the program's systems and problems, for suggestions */
    int nitems = 0;
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            nitems += it->kind == IT_SYSTEM || it->kind == IT_PROBLEM;
    const char **names = arena_alloc(F->arena, (size_t)(nitems + 1) * sizeof *names);
    const Item **items = arena_alloc(F->arena, (size_t)(nitems + 1) * sizeof *items);
    nitems = 0;
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            if (it->kind == IT_SYSTEM || it->kind == IT_PROBLEM) {
                items[nitems] = it;
                names[nitems++] = it->name.name;
            }
    for (int k = 0; k < n; k++) {
        const char *arg = args[k];
        if (override_form(cmd, arg) != 0)
            return 2;
        const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
        const char *sysname = arena_printf(F->arena, "%.*s", (int)(dot - arg), arg);
        const char *param = arena_printf(F->arena, "%.*s", (int)(eq - dot - 1), dot + 1);
        const Item *sys = NULL;
        for (int i = 0; i < nitems && !sys; i++)
            if (strcmp(names[i], sysname) == 0)
                sys = items[i];
        if (!sys) {
            fprintf(stderr, "lag: %s: --set '%s': no system or problem '%s' in the program%s\n", cmd, arg,
                    sysname, maybe(F, diag_suggest(sysname, names, nitems)));
            return 2;
        }
        int np = 0, found = 0;
        for (const Stmt *s = sys->stmts; s; s = s->next)
            np += s->kind == ST_PARAM;
        const char **pnames = arena_alloc(F->arena, (size_t)(np + 1) * sizeof *pnames);
        np = 0;
        for (const Stmt *s = sys->stmts; s; s = s->next)
            if (s->kind == ST_PARAM) {
                pnames[np++] = s->names[0].name;
                found |= strcmp(s->names[0].name, param) == 0;
            }
        if (!found) {
            fprintf(stderr, "lag: %s: --set '%s': '%s' is not a parameter of '%s'%s\n", cmd, arg, param, sysname,
                    np ? maybe(F, diag_suggest(param, pnames, np)) : " (it has no parameters)");
            return 2;
        }
        out[k] = (Override){sys, param, value_of(eq + 1), arg};
    }
    return 0;
}
