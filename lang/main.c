/*
 * lang/main.c — the command-line driver: parse the command line, load and
 * check the program, hand the jobs to the runtime.
 *
 * Exit codes (LANGUAGE.md §5): 0 success, 1 error in the input, 2 usage,
 * 3 numerical failure, 4 I/O error.
 */
#define _POSIX_C_SOURCE 200809L
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/el.h"
#include "lang/front.h"
#include "lang/mech.h"
#include "lang/run.h"
#include "runtime/simulate.h"
#include "runtime/mem.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

enum { EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_NUMERIC = 3, EXIT_IO = 4 };

static const char usage_text[] =
    "usage: lag run FILE.lag [--json] [--quiet] [--progress] [--job NAME]\n"
    "                        [--set SYSTEM.param=value] [-o DIR] [--native]\n"
    "                        [--max-steps N]\n"
    "       lag check FILE.lag [--ast]\n"
    "       lag el FILE.lag [SYSTEM] [--latex | --lag | --stats]\n"
    "       lag ir FILE.lag [SYSTEM]\n"
    "       lag --help | --version\n";

static const char help_text[] =
    "lag — Lagrangian mechanics from a model file.\n"
    "\n"
    "Commands:\n"
    "  run FILE.lag     check the file, then run its jobs in order (simulate and\n"
    "                   train so far; the other jobs say 'not implemented yet',\n"
    "                   exit status 2)\n"
    "  check FILE.lag   parse and check only; report every error found\n"
    "  el FILE.lag [SYSTEM]\n"
    "                   the equations of motion: momenta, mass matrix, M q'' = f,\n"
    "                   accelerations, energy, conserved quantities\n"
    "  ir FILE.lag [SYSTEM]\n"
    "                   the lowered programs (right-hand side, energy), for debugging\n"
    "\n"
    "Options of run:\n"
    "  --json           print one JSON object per job on stdout\n"
    "  --quiet          no progress output\n"
    "  --progress       progress on stderr even when it is not a terminal\n"
    "  --job NAME       run only the jobs on the system or problem NAME\n"
    "  --set S.p=v      override parameter p of system S\n"
    "  -o DIR           write relative output paths under DIR\n"
    "  --native         compile the lowered programs to machine code\n"
    "  --max-steps N    train for at most N steps (a quick trial of a long file)\n"
    "Options of check:\n"
    "  --ast            print the syntax tree (for debugging and tests)\n"
    "Options of el:\n"
    "  --latex          LaTeX (an align* block per system)\n"
    "  --lag            one 'name = expr' per line in .lag syntax (p_q, M_i_j, f_q,\n"
    "                   accel_q, E, conserved_...), for other tools\n"
    "  --stats          sizes of the derived equations (operation counts)\n"
    "\n"
    "Exit status: 0 success, 1 error in the input, 2 usage, 3 numerical\n"
    "failure, 4 I/O error.  Messages have the form FILE:LINE:COL: error: ...\n";

static int usage(const char *fmt, const char *arg)
{
    fputs("lag: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

static int cmd_check(int argc, char **argv)
{
    const char *file = NULL;
    int ast = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--ast") == 0)
            ast = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage("unknown option '%s' for check", argv[i]);
        else if (file)
            return usage("check takes one file (got also '%s')", argv[i]);
        else
            file = argv[i];
    }
    if (!file)
        return usage("check needs a file%s", "");
    Front F;
    int rc = front_load(&F, file, stderr);
    if (rc == 0 && ast)
        ast_dump(stdout, F.prog.items);
    front_fini(&F);
    return rc;
}

static int cmd_el(int argc, char **argv)
{
    const char *file = NULL, *system = NULL;
    ElFormat format = EL_TEXT;
    int formats = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--latex") == 0 || strcmp(a, "--lag") == 0 || strcmp(a, "--stats") == 0) {
            format = a[2] == 'l' ? (a[3] == 'a' && a[4] == 't' ? EL_LATEX : EL_LAG) : EL_STATS;
            formats++;
        } else if (a[0] == '-' && a[1]) {
            return usage("unknown option '%s' for el", a);
        } else if (!file) {
            file = a;
        } else if (!system) {
            system = a;
        } else {
            return usage("el takes a file and at most one system (got also '%s')", a);
        }
    }
    if (!file)
        return usage("el needs a file%s", "");
    if (formats > 1)
        return usage("choose one of --latex, --lag and --stats%s", "");
    Front F;
    int rc = front_load(&F, file, stderr);
    if (rc == 0)
        rc = el_run(&F, system, format, stdout);
    front_fini(&F);
    return rc;
}

static double started; /* when main began */

static int cmd_run(int argc, char **argv)
{
    const char *file = NULL;
    RunOptions opt = {0};
    opt.started = started;
    opt.sets = malloc((size_t)(argc + 1) * sizeof *opt.sets);
    int rc = 0;
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0)
            opt.json = 1;
        else if (strcmp(a, "--quiet") == 0)
            opt.quiet = 1;
        else if (strcmp(a, "--native") == 0)
            opt.native = 1;
        else if (strcmp(a, "--progress") == 0)
            opt.progress = 1;
        else if (strcmp(a, "--max-steps") == 0) {
            char *end;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || *end || v < 1 || v > 1000000000)
                rc = usage("--max-steps expects a whole number of steps >= 1 (got '%s')", i + 1 < argc ? argv[i + 1] : "");
            else
                opt.max_steps = (int)v;
            i++;
        } else if (strcmp(a, "--job") == 0 || strcmp(a, "--set") == 0 || strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                rc = usage("option '%s' needs a value", a);
                break;
            }
            const char *v = argv[++i];
            if (a[2] == 'j')
                opt.job = v;
            else if (a[1] == 'o')
                opt.outdir = v;
            else if (!strchr(v, '=') || !strchr(v, '.') || strchr(v, '.') > strchr(v, '='))
                rc = usage("--set expects SYSTEM.param=value (got '%s')", v);
            else
                opt.sets[opt.nsets++] = v;
        } else if (a[0] == '-' && a[1])
            rc = usage("unknown option '%s' for run", a);
        else if (file)
            rc = usage("run takes one file (got also '%s')", a);
        else
            file = a;
    }
    if (rc == 0 && !file)
        rc = usage("run needs a file%s", "");
    if (rc == 0) {
        Front F;
        rc = front_load(&F, file, stderr);
        if (rc == 0)
            rc = run_program(&F, &opt);
        front_fini(&F);
    }
    free(opt.sets);
    return rc;
}

static int cmd_ir(int argc, char **argv)
{
    const char *file = NULL, *system = NULL;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            return usage("unknown option '%s' for ir", argv[i]);
        else if (!file)
            file = argv[i];
        else if (!system)
            system = argv[i];
        else
            return usage("ir takes a file and at most one system (got also '%s')", argv[i]);
    }
    if (!file)
        return usage("ir needs a file%s", "");
    Front F;
    int rc = front_load(&F, file, stderr);
    if (rc == 0)
        rc = ir_run(&F, system, stdout);
    front_fini(&F);
    return rc;
}

int main(int argc, char **argv)
{
    started = sim_clock();
    /* Fault injection for the tests: make the Nth allocation fail. */
    const char *fail = getenv("LAG_FAIL_ALLOC");
    if (fail && *fail)
        mem_fail_after(atol(fail));
    if (argc < 2)
        return usage("no command given%s", "");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(help_text, stdout);
        fputc('\n', stdout);
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("lag %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "el") == 0)
        return cmd_el(argc - 2, argv + 2);
    if (strcmp(cmd, "ir") == 0)
        return cmd_ir(argc - 2, argv + 2);
    return usage("unknown command '%s'", cmd);
}
