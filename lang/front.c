/*
 * lang/front.c — loading a program: read the root file, parse it, follow
 * its imports (each file once, so cycles end), then check everything.
 *
 * An import "name" is looked up as name.lag (unless it already ends in
 * .lag) beside the importing file, then in each directory of $LAG_PATH,
 * then in the installed stdlib, then in a stdlib/ directory beside the
 * lag executable (an uninstalled build tree).
 */
#define _XOPEN_SOURCE 700
#include "lang/front.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lang/check.h"
#include "runtime/mem.h"

#ifndef LAG_STDLIB_DIR
#define LAG_STDLIB_DIR "/usr/local/share/lag/stdlib"
#endif

enum { MAX_FILE_BYTES = 64 << 20 };

/* Read a whole regular file into the arena.  Returns 0 or an errno-like
 * code, with *why set to a human reason. */
static int read_file(Arena *a, const char *path, char **text, size_t *len, const char **why)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        *why = strerror(errno);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        *why = "it is a directory";
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = strerror(errno);
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = mem_xalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                mem_free(buf);
                fclose(f);
                *why = "it is larger than 64 MiB";
                return -1;
            }
            cap *= 2;
            buf = mem_xrealloc(buf, cap);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        mem_free(buf);
        *why = "read error";
        return -1;
    }
    *text = arena_strndup(a, buf, n);
    *len = n;
    mem_free(buf);
    return 0;
}

static const char *dir_of(Arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ".";
    if (slash == path)
        return "/";
    return arena_strndup(a, path, (size_t)(slash - path));
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct Loader {
    Front *F;
    const char **dirs;  /* directory of each loaded file */
    const char **keys;  /* canonical path of each loaded file */
    int cap;
} Loader;

/* Register and parse one source; returns its index in F->prog. */
static int add_file(Loader *Ld, const char *name, const char *key, const char *text, size_t len)
{
    Front *F = Ld->F;
    Program *pr = &F->prog;
    if (pr->nfiles == Ld->cap) {
        Ld->cap = Ld->cap ? 2 * Ld->cap : 8;
        Item **files = arena_alloc(F->arena, (size_t)Ld->cap * sizeof *files);
        const char **paths = arena_alloc(F->arena, (size_t)Ld->cap * sizeof *paths);
        const char **dirs = arena_alloc(F->arena, (size_t)Ld->cap * sizeof *dirs);
        const char **keys = arena_alloc(F->arena, (size_t)Ld->cap * sizeof *keys);
        for (int i = 0; i < pr->nfiles; i++) {
            files[i] = pr->files[i];
            paths[i] = pr->paths[i];
            dirs[i] = Ld->dirs[i];
            keys[i] = Ld->keys[i];
        }
        pr->files = files;
        pr->paths = paths;
        Ld->dirs = dirs;
        Ld->keys = keys;
    }
    int k = pr->nfiles++;
    pr->paths[k] = name;
    Ld->dirs[k] = dir_of(F->arena, name);
    Ld->keys[k] = key;
    Parser P = {0};
    P.arena = F->arena;
    P.diag = &F->diag;
    P.file = diag_add_source(&F->diag, name, text, len);
    front_parse(&P, text, len);
    pr->files[k] = P.items;
    return k;
}

static const char *canonical(Arena *a, const char *path)
{
    char *r = realpath(path, NULL);
    if (!r)
        return arena_strdup(a, path);
    const char *s = arena_strdup(a, r);
    free(r);
    return s;
}

/* Find the file an import names, or NULL.  A file never imports itself:
 * examples/pendulums.lag importing "pendulums" finds the stdlib's. */
static const char *find_import(Front *F, const char *from_dir, const char *from_key, const char *name)
{
    Arena *a = F->arena;
    size_t n = strlen(name);
    const char *file = n >= 4 && strcmp(name + n - 4, ".lag") == 0 ? name : arena_printf(a, "%s.lag", name);
    if (file[0] == '/')
        return is_file(file) ? file : NULL;
    const char *p = strcmp(from_dir, ".") == 0 ? file : arena_printf(a, "%s/%s", from_dir, file);
    if (is_file(p) && strcmp(canonical(a, p), from_key) != 0)
        return p;
    const char *env = getenv("LAG_PATH");
    if (env) {
        for (const char *s = env; *s;) {
            const char *colon = strchr(s, ':');
            size_t len = colon ? (size_t)(colon - s) : strlen(s);
            if (len) {
                p = arena_printf(a, "%.*s/%s", (int)len, s, file);
                if (is_file(p))
                    return p;
            }
            s += len + (colon ? 1 : 0);
        }
    }
    p = arena_printf(a, "%s/%s", LAG_STDLIB_DIR, file);
    if (is_file(p))
        return p;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = '\0';
        p = arena_printf(a, "%s/stdlib/%s", dir_of(a, exe), file);
        if (is_file(p))
            return p;
    }
    return NULL;
}

/* Follow the imports of every loaded file, loading each file once. */
static void load_imports(Loader *Ld)
{
    Front *F = Ld->F;
    for (int f = 0; f < F->prog.nfiles && !F->diag.gave_up; f++) {
        for (Item *it = F->prog.files[f]; it; it = it->next) {
            if (it->kind != IT_IMPORT)
                continue;
            if (!it->str[0]) {
                diag_error(&F->diag, it->str_loc, "empty import name");
                continue;
            }
            const char *path = find_import(F, Ld->dirs[f], Ld->keys[f], it->str);
            if (!path) {
                diag_error(&F->diag, it->str_loc,
                           "cannot find \"%s\" to import (looked for %s%s beside this file, in "
                           "$LAG_PATH and in the stdlib)",
                           it->str, it->str, strstr(it->str, ".lag") ? "" : ".lag");
                continue;
            }
            const char *key = canonical(F->arena, path);
            int seen = -1;
            for (int i = 0; i < F->prog.nfiles; i++)
                if (strcmp(Ld->keys[i], key) == 0)
                    seen = i;
            if (seen >= 0) {
                it->imported = F->prog.files[seen];
                continue;
            }
            if (F->prog.nfiles >= FRONT_MAX_IMPORTS) {
                diag_error(&F->diag, it->str_loc, "too many imported files (more than %d)",
                           FRONT_MAX_IMPORTS);
                return;
            }
            char *text;
            size_t len;
            const char *why;
            if (read_file(F->arena, path, &text, &len, &why) != 0) {
                diag_error(&F->diag, it->str_loc, "cannot read \"%s\": %s", path, why);
                continue;
            }
            int k = add_file(Ld, path, key, text, len);
            it->imported = F->prog.files[k];
        }
    }
}

static int finish(Loader *Ld)
{
    Front *F = Ld->F;
    load_imports(Ld);
    F->prog.items = F->prog.nfiles ? F->prog.files[0] : NULL;
    if (!F->diag.gave_up)
        check_program(&F->diag, F->arena, F->prog.files, Ld->dirs, F->prog.nfiles);
    return F->diag.errors ? 1 : 0;
}

int front_load(Front *F, const char *path, FILE *err)
{
    memset(F, 0, sizeof *F);
    F->arena = arena_new();
    diag_init(&F->diag, F->arena, err);
    char *text;
    size_t len;
    const char *why;
    if (read_file(F->arena, path, &text, &len, &why) != 0) {
        if (err)
            fprintf(err, "lag: error: cannot read '%s': %s\n", path, why);
        return 4;
    }
    Loader Ld = {F, NULL, NULL, 0};
    add_file(&Ld, path, canonical(F->arena, path), text, len);
    return finish(&Ld);
}

void front_fini(Front *F)
{
    diag_fini(&F->diag);
    arena_free(F->arena);
    F->arena = NULL;
}

int front_load_text(Front *F, const char *name, const char *text, size_t len, FILE *err)
{
    memset(F, 0, sizeof *F);
    F->arena = arena_new();
    diag_init(&F->diag, F->arena, err);
    Loader Ld = {F, NULL, NULL, 0};
    add_file(&Ld, name, name, arena_strndup(F->arena, text, len), len);
    return finish(&Ld);
}

int front_check_buffer(const char *name, const char *text, size_t len, FILE *err)
{
    Front F;
    front_load_text(&F, name, text, len, err);
    int errors = F.diag.errors;
    front_fini(&F);
    return errors;
}

const char *front_near_system(Front *F, const char *name)
{
    int n = 0;
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            n += it->kind == IT_SYSTEM;
    const char **names = arena_alloc(F->arena, (size_t)(n + 1) * sizeof *names);
    n = 0;
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            if (it->kind == IT_SYSTEM)
                names[n++] = it->name.name;
    return diag_suggest(name, names, n);
}
