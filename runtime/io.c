/*
 * runtime/io.c — atomic CSV output (see io.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/io.h"

#include <errno.h>
#include <math.h>
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

/* Split one line at commas into at most max fields (in place); returns
 * the count, or max + 1 when there are more. */
static int split_fields(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line;;) {
        if (n == max)
            return max + 1;
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

/* A field without the blanks around it. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

/* At most 40 bytes of s for a message, bytes outside printable ASCII as
 * '?' (a binary file's fields would garble the terminal). */
static const char *shown(const char *s, char *buf)
{
    size_t i = 0;
    for (; s[i] && i < 40; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    buf[i] = 0;
    return buf;
}

int csv_read(const char *path, CsvTable *t, int *io_error, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    *io_error = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        *io_error = 1;
        return -1;
    }
    enum { MAXCOLS = 4096 };
    char **fields = mem_xalloc(MAXCOLS * sizeof *fields);
    char *line = NULL;
    size_t cap = 0, rowcap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (memchr(line, 0, (size_t)len)) {
            snprintf(err, errlen, "%s:%ld: a NUL byte: not a CSV text file", path, lineno);
            rc = -1;
            break;
        }
        char *l = trim(line);
        if (!*l || *l == '#')
            continue; /* blank lines and comments */
        int n = split_fields(l, fields, MAXCOLS);
        if (!t->names) {
            if (n > MAXCOLS) {
                snprintf(err, errlen, "%s:%ld: more than %d columns", path, lineno, MAXCOLS);
                rc = -1;
                break;
            }
            t->ncols = n;
            t->names = mem_xalloc((size_t)n * sizeof *t->names);
            for (int i = 0; i < n; i++) {
                const char *name = trim(fields[i]);
                size_t nl = strlen(name);
                t->names[i] = mem_xalloc(nl + 1);
                memcpy(t->names[i], name, nl + 1);
            }
            continue;
        }
        if (n != t->ncols) {
            snprintf(err, errlen, "%s:%ld: %d fields, but the header names %d columns", path, lineno,
                     n > MAXCOLS ? MAXCOLS + 1 : n, t->ncols);
            rc = -1;
            break;
        }
        if ((size_t)t->nrows == rowcap) {
            rowcap = rowcap ? 2 * rowcap : 1024;
            t->data = mem_xrealloc(t->data, rowcap * (size_t)t->ncols * sizeof *t->data);
        }
        for (int i = 0; i < n && rc == 0; i++) {
            char *s = trim(fields[i]), *end;
            errno = 0;
            double v = strtod(s, &end);
            if (!*s || *end || errno == ERANGE || !isfinite(v)) {
                char b1[48], b2[48];
                snprintf(err, errlen, "%s:%ld: column '%s': '%s' is not a finite number%s", path, lineno,
                         shown(t->names[i], b1), shown(s, b2), errno == ERANGE ? " (out of range)" : "");
                rc = -1;
            }
            t->data[(size_t)t->nrows * (size_t)t->ncols + (size_t)i] = v;
        }
        if (rc)
            break;
        if (++t->nrows > 100000000) {
            snprintf(err, errlen, "%s: more than 10^8 rows", path);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        *io_error = 1;
        rc = -1;
    }
    if (rc == 0 && !t->names) {
        snprintf(err, errlen, "%s: empty (no header line)", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    mem_free(fields);
    if (rc)
        csv_table_free(t);
    return rc;
}

int csv_column(const CsvTable *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->names[i], name) == 0)
            return i;
    return -1;
}

void csv_table_free(CsvTable *t)
{
    for (int i = 0; t->names && i < t->ncols; i++)
        mem_free(t->names[i]);
    mem_free(t->names);
    mem_free(t->data);
    memset(t, 0, sizeof *t);
}

int io_check_writable(const char *path, char *err, size_t errlen)
{
    size_t len = strlen(path) + 32;
    char *probe = mem_xalloc(len);
    snprintf(probe, len, "%s.probe%ld", path, (long)getpid());
    FILE *f = fopen(probe, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        mem_free(probe);
        return -1;
    }
    fclose(f);
    remove(probe);
    mem_free(probe);
    return 0;
}
