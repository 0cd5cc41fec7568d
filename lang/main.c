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

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/el.h"
#include "lang/front.h"
#include "lang/modes.h"
#include "lang/run.h"
#include "runtime/simulate.h"
#include "runtime/mem.h"
#include "runtime/par.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

enum { EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_NUMERIC = 3, EXIT_IO = 4 };

/* Each command's usage (continuation lines indented for a 7-column
 * "usage: " prefix), what it does, and its options: `lag CMD --help`
 * prints its own, `lag --help` all of them. */
typedef struct Command {
    const char *name;
    const char *usage;
    const char *about;
    const char *options;
} Command;

enum { CMD_RUN, CMD_CHECK, CMD_EL, CMD_MODES, CMD_IR, NCMDS };

static const Command commands[NCMDS] = {
    [CMD_RUN] = {"run",
                 "lag run FILE.lag [--json] [--quiet] [--progress] [--job NAME]\n"
                 "                        [--set SYSTEM.param=value] [-o DIR] [--native]\n"
                 "                        [--max-steps N]\n",
                 "  run FILE.lag     check the file, then run its jobs in order (simulate,\n"
                 "                   train, solve, action, compare and infer); under\n"
                 "                   mpirun -n N, ensembles, training batches and grids\n"
                 "                   split over the ranks, the same files (docs/scaling.md)\n",
                 "  --json           print one JSON object per job on stdout\n"
                 "  --quiet          no progress and no summary line on stderr\n"
                 "  --progress       progress on stderr even when it is not a terminal\n"
                 "  --job NAME       run only the jobs on the system or problem NAME\n"
                 "  --set S.p=v      override parameter p of system S (may be repeated)\n"
                 "  -o DIR           write relative output paths under DIR\n"
                 "  --native         compile the lowered programs to machine code\n"
                 "  --max-steps N    train for at most N steps (a quick trial of a long file)\n"
},
    [CMD_CHECK] = {"check", "lag check FILE.lag [--ast]\n",
                   "  check FILE.lag   parse and check only; report every error found\n",
                   "  --ast            print the syntax tree (for debugging and tests)\n"},
    [CMD_EL] = {"el",
                "lag el FILE.lag [SYSTEM] [--latex | --lag | --stats] [--hamiltonian]\n"
                "                       [--set SYSTEM.param=value]\n",
                "  el FILE.lag [SYSTEM]\n"
                "                   the equations of motion: momenta, mass matrix, M q'' = f,\n"
                "                   accelerations, energy, conserved quantities (of the\n"
                "                   file's systems, or of SYSTEM, which may be imported)\n",
                "  --latex          LaTeX (an align* block per system)\n"
                "  --lag            one 'name = expr' per line in .lag syntax: the parameters'\n"
                "                   values, then p_q, M_i_j, f_q, accel_q, E, conserved_...;\n"
                "                   the lines evaluate in order, for other tools\n"
                "  --stats          sizes of the derived equations (operation counts)\n"
                "  --hamiltonian    the Hamiltonian view: H(q, p) by the Legendre transform\n"
                "                   and Hamilton's equations (as text, --latex or --lag: lines\n"
                "                   H, dq_dt, dp_q_dt; with p_q the momentum of q)\n"
                "  --set S.p=v      the value of parameter p of system S in --lag and --stats\n"
                "                   (instead of its default; may be repeated)\n"},
    [CMD_MODES] = {"modes",
                   "lag modes FILE.lag SYSTEM [--at q=value,...] [--json]\n"
                   "                          [--set SYSTEM.param=value]\n",
                   "  modes FILE.lag SYSTEM\n"
                   "                   an equilibrium (a root of f at rest, by Newton from 0 or\n"
                   "                   --at) and its normal modes K v = w^2 M v: frequencies,\n"
                   "                   periods, shapes; w^2 < 0 is unstable (w imaginary)\n",
                   "  --at q=v,...     start Newton's search there (others at 0; may be repeated)\n"
                   "  --json           one JSON object: equilibrium, frequencies, growth_rates,\n"
                   "                   omega2, modes, mass_matrix, stiffness, ...\n"
                   "  --set S.p=v      the value of parameter p of SYSTEM (may be repeated)\n"},
    [CMD_IR] = {"ir", "lag ir FILE.lag [SYSTEM]\n",
                "  ir FILE.lag [SYSTEM]\n"
                "                   the lowered programs (right-hand side, energy), for\n"
                "                   debugging\n",
                NULL},
};

static const char help_option[] = "  -h, --help       print this help and exit\n";

static const char exit_text[] =
    "Exit status: 0 success, 1 error in the input, 2 usage, 3 numerical\n"
    "failure, 4 I/O error.  Messages have the form FILE:LINE:COL: error: ...\n";

static void print_usage(FILE *out)
{
    for (int c = 0; c < NCMDS; c++)
        fprintf(out, "%s%s", c ? "       " : "usage: ", commands[c].usage);
    fputs("       lag CMD --help | lag --help | lag --version\n", out);
}

static void print_help(void)
{
    fputs("lag — Lagrangian mechanics from a model file.\n\nCommands:\n", stdout);
    for (int c = 0; c < NCMDS; c++)
        fputs(commands[c].about, stdout);
    fputc('\n', stdout);
    for (int c = 0; c < NCMDS; c++)
        if (commands[c].options)
            printf("Options of %s:\n%s", commands[c].name, commands[c].options);
    printf("Every command takes -h / --help (its own usage).\n\n%s\n", exit_text);
    print_usage(stdout);
}

/* `lag CMD --help`: on stdout, exit status 0. */
static int command_help(int c)
{
    printf("usage: %s\n%s\nOptions:\n%s%s\n%s", commands[c].usage, commands[c].about,
           commands[c].options ? commands[c].options : "", help_option, exit_text);
    return 0;
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* A usage error: the message, then the usage of the command it concerns
 * (c), or of every command (c < 0); exit status 2. */
static int usage_of(int c, const char *fmt, const char *arg)
{
    fputs("lag: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    if (c < 0)
        print_usage(stderr);
    else
        fprintf(stderr, "usage: %s(lag %s --help for the options)\n", commands[c].usage,
                commands[c].name);
    return EXIT_USAGE;
}

static int cmd_check(int argc, char **argv)
{
    const char *file = NULL;
    int ast = 0;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i]))
            return command_help(CMD_CHECK);
        else if (strcmp(argv[i], "--ast") == 0)
            ast = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage_of(CMD_CHECK, "unknown option '%s' for check", argv[i]);
        else if (file)
            return usage_of(CMD_CHECK, "check takes one file (got also '%s')", argv[i]);
        else
            file = argv[i];
    }
    if (!file)
        return usage_of(CMD_CHECK, "check needs a file%s", "");
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
    ElView view = EL_VIEW_LAGRANGIAN;
    int formats = 0, nsets = 0, rc = 0;
    const char **sets = mem_xalloc((size_t)(argc + 1) * sizeof *sets);
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            rc = -1;
        } else if (strcmp(a, "--latex") == 0 || strcmp(a, "--lag") == 0 ||
                   strcmp(a, "--stats") == 0) {
            format = strcmp(a, "--latex") == 0 ? EL_LATEX
                     : strcmp(a, "--lag") == 0 ? EL_LAG
                                               : EL_STATS;
            formats++;
        } else if (strcmp(a, "--hamiltonian") == 0) {
            view = EL_VIEW_HAMILTONIAN;
        } else if (strcmp(a, "--set") == 0) {
            if (i + 1 >= argc)
                rc = usage_of(CMD_EL, "option '%s' needs a value", a);
            else if ((rc = override_form("el", argv[++i])) == 0)
                sets[nsets++] = argv[i];
        } else if (a[0] == '-' && a[1]) {
            rc = usage_of(CMD_EL, "unknown option '%s' for el", a);
        } else if (!file) {
            file = a;
        } else if (!system) {
            system = a;
        } else {
            rc = usage_of(CMD_EL, "el takes a file and at most one system (got also '%s')", a);
        }
    }
    int help = rc == -1;
    if (help)
        rc = command_help(CMD_EL);
    else if (rc == 0 && !file)
        rc = usage_of(CMD_EL, "el needs a file%s", "");
    else if (rc == 0 && formats > 1)
        rc = usage_of(CMD_EL, "choose one of --latex, --lag and --stats%s", "");
    else if (rc == 0 && view == EL_VIEW_HAMILTONIAN && format == EL_STATS)
        rc = usage_of(CMD_EL, "--hamiltonian prints H as text, --latex or --lag, not --stats%s", "");
    else if (rc == 0 && nsets > 0 && format != EL_LAG && format != EL_STATS)
        rc = usage_of(CMD_EL, "--set gives the parameter values of --lag and --stats; the %s form "
                              "keeps parameters as symbols",
                      format == EL_LATEX ? "LaTeX" : "text");
    if (rc == 0 && !help) {
        Front F;
        rc = front_load(&F, file, stderr);
        Override *over = rc == 0 ? arena_alloc(F.arena, (size_t)(nsets + 1) * sizeof *over) : NULL;
        if (rc == 0)
            rc = override_resolve(&F, "el", sets, nsets, over);
        if (rc == 0)
            rc = el_run_view(&F, system, format, over, nsets, view, stdout);
        front_fini(&F);
    }
    mem_free(sets);
    return rc;
}

static double started; /* when main began */

static int cmd_run(int argc, char **argv)
{
    const char *file = NULL;
    RunOptions opt = {0};
    opt.started = started;
    opt.sets = mem_xalloc((size_t)(argc + 1) * sizeof *opt.sets);
    int rc = 0;
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            rc = -1;
        } else if (strcmp(a, "--json") == 0)
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
                rc = usage_of(CMD_RUN,
                              "--max-steps expects a whole number of steps >= 1 (got '%s')",
                              i + 1 < argc ? argv[i + 1] : "");
            else
                opt.max_steps = (int)v;
            i++;
        } else if (strcmp(a, "--job") == 0 || strcmp(a, "--set") == 0 || strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                rc = usage_of(CMD_RUN, "option '%s' needs a value", a);
                break;
            }
            const char *v = argv[++i];
            if (a[2] == 'j')
                opt.job = v;
            else if (a[1] == 'o')
                opt.outdir = v;
            else if ((rc = override_form("run", v)) == 0)
                opt.sets[opt.nsets++] = v;
        } else if (a[0] == '-' && a[1])
            rc = usage_of(CMD_RUN, "unknown option '%s' for run", a);
        else if (file)
            rc = usage_of(CMD_RUN, "run takes one file (got also '%s')", a);
        else
            file = a;
    }
    if (!par_root()) { /* rank 0 reports; the others' stderr is a buffer */
        opt.quiet = 1;
        opt.progress = 0;
    }
    if (rc == -1)
        rc = command_help(CMD_RUN);
    else if (rc == 0 && !file)
        rc = usage_of(CMD_RUN, "run needs a file%s", "");
    else if (rc == 0) {
        Front F;
        rc = front_load(&F, file, stderr);
        if (rc == 0)
            rc = run_program(&F, &opt);
        front_fini(&F);
    }
    mem_free(opt.sets);
    return rc;
}

static int cmd_ir(int argc, char **argv)
{
    const char *file = NULL, *system = NULL;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i]))
            return command_help(CMD_IR);
        else if (argv[i][0] == '-' && argv[i][1])
            return usage_of(CMD_IR, "unknown option '%s' for ir", argv[i]);
        else if (!file)
            file = argv[i];
        else if (!system)
            system = argv[i];
        else
            return usage_of(CMD_IR, "ir takes a file and at most one system (got also '%s')",
                            argv[i]);
    }
    if (!file)
        return usage_of(CMD_IR, "ir needs a file%s", "");
    Front F;
    int rc = front_load(&F, file, stderr);
    if (rc == 0)
        rc = ir_run(&F, system, stdout);
    front_fini(&F);
    return rc;
}

static int cmd_modes(int argc, char **argv)
{
    const char *file = NULL, *system = NULL;
    int json = 0, nsets = 0, nat = 0, rc = 0;
    const char **sets = mem_xalloc((size_t)(argc + 1) * sizeof *sets);
    /* each --at has at most as many pairs as characters */
    size_t room = 1;
    for (int i = 0; i < argc; i++)
        room += strlen(argv[i]);
    ModesAt *at = mem_xalloc(room * sizeof *at);
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (is_help(a))
            rc = -1;
        else if (strcmp(a, "--json") == 0)
            json = 1;
        else if (strcmp(a, "--set") == 0 || strcmp(a, "--at") == 0) {
            if (i + 1 >= argc)
                rc = usage_of(CMD_MODES, "option '%s' needs a value", a);
            else if (a[2] == 's' && (rc = override_form("modes", argv[++i])) == 0)
                sets[nsets++] = argv[i];
            else if (a[2] == 'a')
                rc = modes_parse_at(argv[++i], at, &nat);
        } else if (a[0] == '-' && a[1])
            rc = usage_of(CMD_MODES, "unknown option '%s' for modes", a);
        else if (!file)
            file = a;
        else if (!system)
            system = a;
        else
            rc = usage_of(CMD_MODES, "modes takes a file and one system (got also '%s')", a);
    }
    if (rc == -1)
        rc = command_help(CMD_MODES);
    else if (rc == 0 && !system)
        rc = usage_of(CMD_MODES, "modes needs a file and a system%s", "");
    else if (rc == 0) {
        Front F;
        rc = front_load(&F, file, stderr);
        Override *over = rc == 0 ? arena_alloc(F.arena, (size_t)(nsets + 1) * sizeof *over) : NULL;
        if (rc == 0)
            rc = override_resolve(&F, "modes", sets, nsets, over);
        if (rc == 0)
            rc = modes_run(&F, system, at, nat, over, nsets, json, stdout);
        front_fini(&F);
    }
    mem_free(sets);
    mem_free(at);
    return rc;
}

static int dispatch(int argc, char **argv)
{
    /* Fault injection for the tests: make the Nth allocation fail. */
    const char *fail = getenv("LAG_FAIL_ALLOC");
    if (fail && *fail)
        mem_fail_after(atol(fail));
    if (argc < 2)
        return usage_of(-1, "no command given%s", "");
    const char *cmd = argv[1];
    if (is_help(cmd) || strcmp(cmd, "help") == 0) {
        print_help();
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
    if (strcmp(cmd, "modes") == 0)
        return cmd_modes(argc - 2, argv + 2);
    if (strcmp(cmd, "ir") == 0)
        return cmd_ir(argc - 2, argv + 2);
    return usage_of(-1, "unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
    started = sim_clock();
    /* under mpirun: join the ranks (ranks other than 0 print nothing) */
    int rc = par_begin(&argc, &argv);
    if (rc != 0)
        return rc;
    return par_end(dispatch(argc, argv));
}
