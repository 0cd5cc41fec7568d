/*
 * runtime/io.c — atomic CSV output (see io.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/mem.h"

struct CsvWriter {
    FILE *f;
    char *path;  /* final name */
    char *tmp;   /* temporary name beside it */
    int ncols;
};

int io_make_dirs(const char *dir, unsigned mode)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0)
        return 0;
    if (n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++)
        if (path[i] == '/' || path[i] == '\0') {
            char c = path[i];
            path[i] = '\0';
            if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST)
                return -1;
            path[i] = c;
        }
    return 0;
}

char *io_join(const char *dir, const char *path)
{
    size_t n;
    char *s;
    if (!dir || !*dir || path[0] == '/') {
        n = strlen(path) + 1;
        s = mem_xalloc(n);
        memcpy(s, path, n);
        return s;
    }
    n = strlen(dir) + strlen(path) + 2;
    s = mem_xalloc(n);
    snprintf(s, n, "%s/%s", dir, path);
    return s;
}

CsvWriter *csv_open(const char *path, const char *const *columns, int ncols, char *err,
                    size_t errlen)
{
    CsvWriter *w = mem_xalloc(sizeof *w);
    memset(w, 0, sizeof *w);
    size_t n = strlen(path) + 32;
    w->path = mem_xalloc(strlen(path) + 1);
    strcpy(w->path, path);
    w->tmp = mem_xalloc(n);
    snprintf(w->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    w->ncols = ncols;
    w->f = fopen(w->tmp, "w");
    if (!w->f) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        mem_free(w->path);
        mem_free(w->tmp);
        mem_free(w);
        return NULL;
    }
    for (int i = 0; i < ncols; i++)
        fprintf(w->f, "%s%s", i ? "," : "", columns[i]);
    fputc('\n', w->f);
    return w;
}

int csv_row(CsvWriter *w, const double *v, char *err, size_t errlen)
{
    /* the row is formatted into one buffer and written at once; a plain
     * "%.17g" per number keeps printf on its fast path */
    char line[64 * 32];
    size_t k = 0;
    for (int i = 0; i < w->ncols; i++) {
        if (k + 40 > sizeof line) {
            fwrite(line, 1, k, w->f);
            k = 0;
        }
        if (i)
            line[k++] = ',';
        k += (size_t)snprintf(line + k, sizeof line - k, "%.17g", v[i]);
    }
    line[k++] = '\n';
    if (fwrite(line, 1, k, w->f) != k) {
        snprintf(err, errlen, "cannot write '%s': %s", w->path, strerror(errno));
        return -1;
    }
    return 0;
}

int csv_close(CsvWriter *w, int keep, char *err, size_t errlen)
{
    if (!w)
        return 0;
    int rc = 0;
    if (fclose(w->f) != 0 && keep) {
        snprintf(err, errlen, "cannot write '%s': %s", w->path, strerror(errno));
        rc = -1;
        keep = 0;
    }
    if (keep && rename(w->tmp, w->path) != 0) {
        snprintf(err, errlen, "cannot create '%s': %s", w->path, strerror(errno));
        rc = -1;
    }
    if (!keep || rc)
        remove(w->tmp);
    mem_free(w->path);
    mem_free(w->tmp);
    mem_free(w);
    return rc;
}

uint64_t io_fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211u;
    return h;
}
