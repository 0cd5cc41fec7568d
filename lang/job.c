/*
 * lang/job.c — what the job drivers share (see job.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <stdarg.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "runtime/io.h"
#include "runtime/mem.h"

const Item *job_find_system(Front *F, const char *name)
{
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            if ((it->kind == IT_SYSTEM || it->kind == IT_PROBLEM) && strcmp(it->name.name, name) == 0)
                return it;
    return NULL;
}

const char *job_where(Front *F, const Item *it)
{
    const Source *s = &F->diag.src[it->loc.file];
    return arena_printf(F->arena, "%s:%d", s->name, it->loc.first_line);
}

int job_not_yet(const Job *J, const char *what)
{
    fprintf(stderr, "lag: %s: %s %s: %s is not implemented yet\n", J->where, ast_job_name(J->item->job),
            J->item->targets[0].name, what);
    return 2;
}

double *job_params(const Job *J, Sym *S, const Setting *settings, const IrProgram *p, const Item *sys)
{
    double *params = arena_alloc(S->arena, (size_t)(p->nparams + 1) * sizeof *params);
    for (int j = 0; j < p->nparams; j++)
        params[j] = p->param_values[j];
    for (const Setting *s = settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "param") == 0)
            for (const Assign *a = s->assigns; a; a = a->next)
                for (int j = 0; j < p->nparams; j++)
                    if (strcmp(a->name.name, p->param_names[j]) == 0)
                        params[j] = a->v;
    for (int k = 0; k < J->run->nsets; k++)
        if (J->run->sets[k].sys == sys)
            for (int j = 0; j < p->nparams; j++)
                if (strcmp(J->run->sets[k].param, p->param_names[j]) == 0)
                    params[j] = J->run->sets[k].value;
    return params;
}

void job_init_draws(const Setting *init, const Mech *m, TrainDraw *d)
{
    for (int i = 0; i < 2 * m->n; i++)
        d[i] = (TrainDraw){DRAW_CONST, 0, 0};
    for (const Assign *a = init ? init->assigns : NULL; a; a = a->next)
        for (int i = 0; i < m->n; i++)
            if (strcmp(a->name.name, m->names[i]) == 0)
                d[a->name.primes ? m->n + i : i] = a->draw == 1   ? (TrainDraw){DRAW_UNIFORM, a->p1, a->p2}
                                                 : a->draw == 2 ? (TrainDraw){DRAW_NORMAL, a->p1, a->p2}
                                                                : (TrainDraw){DRAW_CONST, a->v, 0};
}

void job_draw_states(const TrainDraw *d, int m, unsigned long seed, int count, double *y)
{
    gsl_rng *rng = train_rng_new();
    gsl_rng_set(rng, seed);
    for (int s = 0; s < count; s++)
        train_draw_state(d, m, rng, y + (size_t)s * (size_t)m);
    gsl_rng_free(rng);
}

char *job_output(const Job *J, const Setting *s)
{
    return s ? io_join(J->opt->outdir, s->e1->str) : NULL;
}

void job_summary(const Job *J, const char *fmt, ...)
{
    if (J->opt->quiet)
        return;
    fprintf(stderr, "lag: %s %s: ", ast_job_name(J->item->job), J->item->targets[0].name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
