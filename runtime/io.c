/*
 * runtime/io.c — atomic CSV output (see io.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/dtoa.h"
#include "runtime/h5.h"

#include "runtime/mem.h"
#include "runtime/par.h"

struct CsvWriter {
    FILE *f;
    char *path;  /* final name */
    char *tmp;   /* temporary name beside it */
    int ncols;
    H5Table *h5; /* an HDF5 table instead of text (runtime/h5.h), rows gathered in buf */
    double *buf;
    size_t nbuf;
    int off;     /* a rank other than 0 of an MPI run: rows go nowhere (runtime/par.h) */
    char *line;  /* a text row being formatted (csv_format) */
    size_t cap;
};

enum { H5_ROWS = 4096 }; /* rows gathered before they go to the file */

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

/* Whether name is base ".tmp." followed by a process id; the id, or 0. */
static long tmp_pid(const char *name, const char *base)
{
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp.", 5) != 0)
        return 0;
    const char *d = name + bl + 5;
    if (!*d || strlen(d) > 10)
        return 0;
    long pid = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9')
            return 0;
        pid = 10 * pid + (*d - '0');
    }
    return pid;
}

int io_remove_stale(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base)
        return 0;
    size_t dl = slash ? (size_t)(slash - path) : 1;
    char *dir = mem_xalloc(dl + 2);
    if (slash) {
        memcpy(dir, path, dl);
        if (dl == 0)
            dir[dl++] = '/'; /* a file in the root directory */
        dir[dl] = 0;
    } else {
        strcpy(dir, ".");
    }
    int removed = 0;
    DIR *d = opendir(dir);
    if (d) {
        long self = (long)getpid();
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            long pid = tmp_pid(e->d_name, base);
            /* only a temporary of this very output whose writer is gone
             * (a live process, or one of another user, keeps its file) */
            if (pid <= 0 || pid == self || pid > 0x7fffffffL)
                continue;
            errno = 0;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                continue;
            char *full = io_join(strcmp(dir, ".") == 0 ? NULL : dir, e->d_name);
            if (unlink(full) == 0)
                removed++;
            mem_free(full);
        }
        closedir(d);
    }
    mem_free(dir);
    return removed;
}

char *io_tmp_path(const char *path)
{
    io_remove_stale(path);
    size_t n = strlen(path) + 32;
    char *tmp = mem_xalloc(n);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    return tmp;
}

/* The temporaries of the CSV files being written, removed if the process
 * exits before closing them (the out-of-memory exit, exit(4)): no
 * FILE.tmp.PID is left by a run that ends on an error. */
enum { MAX_OPEN = 64 };
static char *open_tmps[MAX_OPEN];

static void remove_open_tmps(void)
{
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_tmps[i])
            unlink(open_tmps[i]);
}

static void track_tmp(char *tmp, int on)
{
    static int registered;
    if (!registered) {
        registered = atexit(remove_open_tmps) == 0;
        mem_on_out_of_memory(remove_open_tmps);
    }
    for (int i = 0; i < MAX_OPEN; i++)
        if (on ? !open_tmps[i] : open_tmps[i] == tmp) {
            open_tmps[i] = on ? tmp : NULL;
            return;
        }
}

/* A writer that could not be opened: its temporary file gone, NULL. */
static CsvWriter *open_failed(CsvWriter *w, int made)
{
    if (made) {
        remove(w->tmp);
        track_tmp(w->tmp, 0);
    }
    mem_free(w->path);
    mem_free(w->tmp);
    mem_free(w);
    return NULL;
}

CsvWriter *csv_open(const char *path, const char *const *columns, int ncols, char *err,
                    size_t errlen)
{
    return csv_open_table(path, "table", columns, ncols, err, errlen);
}

CsvWriter *csv_open_table(const char *path, const char *table, const char *const *columns, int ncols, char *err,
                          size_t errlen)
{
    CsvWriter *w = mem_xalloc(sizeof *w);
    memset(w, 0, sizeof *w);
    w->path = mem_xalloc(strlen(path) + 1);
    strcpy(w->path, path);
    w->ncols = ncols;
    if (!par_root()) { /* rank 0 writes the run's files */
        w->off = 1;
        return w;
    }
    w->tmp = io_tmp_path(path);
    if (h5_is_path(path)) {
        track_tmp(w->tmp, 1);
        w->h5 = h5_open(w->tmp, path, table, columns, ncols, err, errlen);
        if (!w->h5)
            return open_failed(w, 1);
        w->buf = mem_xalloc((size_t)H5_ROWS * (size_t)ncols * sizeof *w->buf);
        return w;
    }
    w->f = fopen(w->tmp, "w");
    if (w->f)
        track_tmp(w->tmp, 1);
    if (!w->f) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        return open_failed(w, 0);
    }
    /* the header: a failed write is an I/O error now, not a file that
     * silently lacks its column names */
    int bad = 0;
    errno = 0;
    for (int i = 0; i < ncols && !bad; i++)
        bad = fprintf(w->f, "%s%s", i ? "," : "", columns[i]) < 0;
    if (bad || fputc('\n', w->f) == EOF || ferror(w->f)) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno ? errno : EIO));
        fclose(w->f);
        return open_failed(w, 1);
    }
    return w;
}

int csv_attr_text(CsvWriter *w, const char *key, const char *value, char *err, size_t errlen)
{
    return w->h5 ? h5_attr_text(w->h5, key, value, err, errlen) : 0;
}

int csv_attr_num(CsvWriter *w, const char *key, double value, char *err, size_t errlen)
{
    return w->h5 ? h5_attr_num(w->h5, key, value, err, errlen) : 0;
}

int csv_row(CsvWriter *w, const double *v, char *err, size_t errlen)
{
    if (w->off)
        return 0;
    if (w->h5) {
        memcpy(w->buf + w->nbuf * (size_t)w->ncols, v, (size_t)w->ncols * sizeof *v);
        if (++w->nbuf == H5_ROWS) {
            int rc = h5_rows(w->h5, w->buf, w->nbuf, err, errlen);
            w->nbuf = 0;
            return rc;
        }
        return 0;
    }
    /* the row is formatted into one buffer and written at once */
    size_t k = 0;
    csv_format(v, w->ncols, &w->line, &k, &w->cap);
    return csv_text(w, w->line, k, err, errlen);
}

void csv_format(const double *v, int ncols, char **buf, size_t *len, size_t *cap)
{
    size_t need = *len + (size_t)ncols * (DTOA_MAX + 1) + 2;
    if (need > *cap) {
        *cap = need > 2 * *cap ? need : 2 * *cap;
        *buf = mem_xrealloc(*buf, *cap);
    }
    /* each number as the shortest text that reads back as it (runtime/dtoa.h) */
    char *p = *buf + *len;
    for (int i = 0; i < ncols; i++) {
        if (i)
            *p++ = ',';
        p += dtoa_short(v[i], p); /* nan: one spelling, whatever the sign bit */
    }
    *p++ = '\n';
    *len = (size_t)(p - *buf);
}

int csv_is_text(const char *path)
{
    return !h5_is_path(path);
}

int csv_text(CsvWriter *w, const char *text, size_t len, char *err, size_t errlen)
{
    if (w->off || len == 0)
        return 0;
    if (fwrite(text, 1, len, w->f) != len) {
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
    mem_free(w->line);
    if (w->off) {
        mem_free(w->path);
        mem_free(w);
        return 0;
    }
    if (w->h5) {
        char e2[300];
        int bad = h5_rows(w->h5, w->buf, w->nbuf, e2, sizeof e2) != 0;
        bad |= h5_close(w->h5, bad ? NULL : e2, sizeof e2) != 0;
        mem_free(w->buf);
        if (bad && keep) {
            snprintf(err, errlen, "%s", e2);
            rc = -1;
            keep = 0;
        }
    } else {
        /* an earlier write error (a full disk) must not be renamed into
         * place: ferror, then the flush and close */
        errno = 0;
        int werr = fflush(w->f) != 0 || ferror(w->f);
        int saved = errno;
        if ((fclose(w->f) != 0 || werr) && keep) {
            if (werr)
                errno = saved ? saved : EIO;
            snprintf(err, errlen, "cannot write '%s': %s", w->path, strerror(errno));
            rc = -1;
            keep = 0;
        }
    }
    if (keep && rename(w->tmp, w->path) != 0) {
        snprintf(err, errlen, "cannot create '%s': %s", w->path, strerror(errno));
        rc = -1;
    }
    if (!keep || rc)
        remove(w->tmp);
    track_tmp(w->tmp, 0);
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

/* ---------- reading CSV (RFC 4180) ---------- */

/* One record: its fields, NUL-terminated, one after another in buf. */
typedef struct Record {
    char *buf;
    size_t n, cap;
    size_t *start; /* each field's offset in buf */
    int nf, capf;
    int quoted_any;
} Record;

static void rec_put(Record *r, char c)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->buf = mem_xrealloc(r->buf, r->cap);
    }
    r->buf[r->n++] = c;
}

/* Start a field; -1 when the record would have more than max fields. */
static int rec_field(Record *r, int max)
{
    if (r->nf == max)
        return -1;
    if (r->nf == r->capf) {
        r->capf = r->capf ? 2 * r->capf : 16;
        r->start = mem_xrealloc(r->start, (size_t)r->capf * sizeof *r->start);
    }
    r->start[r->nf++] = r->n;
    return 0;
}

/* Drop the blanks at the end of the current (unquoted) field. */
static void rec_trim(Record *r, size_t from)
{
    while (r->n > from && (r->buf[r->n - 1] == ' ' || r->buf[r->n - 1] == '\t'))
        r->n--;
}

/* Read one record from f into r: 1 read, 0 end of file, -1 malformed (a
 * message in err; *line is where the record started).  Blank lines and
 * '#' comment lines are skipped.  *lineno counts the lines read. */
static int read_record(FILE *f, const char *path, Record *r, int max, long *lineno, long *line,
                       char *err, size_t errlen)
{
    enum { START, PLAIN, QUOTED, QUOTE, AFTER } st;
    for (;;) { /* until a record that is neither blank nor a comment */
        r->n = 0;
        r->nf = 0;
        r->quoted_any = 0;
        st = START;
        *line = *lineno + 1;
        int c, any = 0, blank = 1;
        size_t fstart = 0;
        for (;;) {
            c = getc(f);
            if (c == EOF) {
                if (st == QUOTED) {
                    snprintf(err, errlen, "%s:%ld: a quoted field is not closed (no ending '\"')", path,
                             *line);
                    return -1;
                }
                if (!any)
                    return 0;
                break;
            }
            any = 1;
            if (c == 0) {
                snprintf(err, errlen, "%s:%ld: a NUL byte: not a CSV text file", path, *lineno + 1);
                return -1;
            }
            int eol = c == '\n' || c == '\r';
            if (c == '\r') { /* CRLF, or a lone CR, ends the line */
                int d = getc(f);
                if (d != '\n' && d != EOF)
                    ungetc(d, f);
            }
            if (st == QUOTED) {
                if (c == '"')
                    st = QUOTE;
                else {
                    if (eol) {
                        ++*lineno;
                        if (c == '\r') /* a line break inside quotes, kept as \n */
                            c = '\n';
                    }
                    rec_put(r, (char)c);
                }
                continue;
            }
            if (eol)
                ++*lineno;
            if (st == START && blank && r->nf == 0 && c == '#') { /* a comment line */
                while ((c = getc(f)) != EOF && c != '\n' && c != '\r')
                    ;
                if (c == '\r' && (c = getc(f)) != '\n' && c != EOF)
                    ungetc(c, f);
                ++*lineno;
                any = 0;
                break;
            }
            if (st == START) {
                if (c == ' ' || c == '\t')
                    continue;
                if (rec_field(r, max) != 0) {
                    snprintf(err, errlen, "%s:%ld: more than %d columns", path, *line, max);
                    return -1;
                }
                fstart = r->n;
                if (c == '"') {
                    st = QUOTED;
                    r->quoted_any = 1;
                    blank = 0;
                    continue;
                }
                st = PLAIN;
            }
            if (st == QUOTE) {
                if (c == '"') { /* "" inside quotes: one quote */
                    rec_put(r, '"');
                    st = QUOTED;
                    continue;
                }
                if (c == ' ' || c == '\t') {
                    st = AFTER;
                    continue;
                }
                if (c != ',' && !eol) {
                    snprintf(err, errlen, "%s:%ld: field %d: '%c' after the closing quote (a quote inside "
                             "a quoted field is written \"\")", path, *lineno + 1, r->nf,
                             c >= 0x20 && c < 0x7f ? c : '?');
                    return -1;
                }
                st = AFTER;
            }
            if (st == AFTER) {
                if (c == ' ' || c == '\t')
                    continue;
                if (c != ',' && !eol) {
                    snprintf(err, errlen, "%s:%ld: field %d: text after the closing quote", path,
                             *lineno + 1, r->nf);
                    return -1;
                }
            }
            /* PLAIN, or the end of a quoted field */
            if (c == ',' || eol) {
                if (st == PLAIN)
                    rec_trim(r, fstart);
                rec_put(r, 0);
                if (c == ',') {
                    st = START;
                    blank = 0;
                    /* a field follows, even an empty one at the end */
                    int d = getc(f);
                    ungetc(d, f);
                    if (d == EOF || d == '\n' || d == '\r') {
                        if (rec_field(r, max) != 0) {
                            snprintf(err, errlen, "%s:%ld: more than %d columns", path, *line, max);
                            return -1;
                        }
                        rec_put(r, 0);
                        st = AFTER;
                    }
                    continue;
                }
                break; /* end of the record */
            }
            if (c == '"') {
                snprintf(err, errlen, "%s:%ld: field %d: a quote inside an unquoted field (quote the "
                         "whole field: \"...\")", path, *lineno + 1, r->nf);
                return -1;
            }
            blank = 0;
            rec_put(r, (char)c);
        }
        if (!any)
            continue; /* a comment line */
        if (st == PLAIN || st == QUOTE) { /* the last field ended at end of file */
            if (st == PLAIN)
                rec_trim(r, fstart);
            rec_put(r, 0);
        }
        if (r->nf == 0 || (r->nf == 1 && !r->quoted_any && r->buf[r->start[0]] == 0)) {
            if (c == EOF)
                return 0;
            continue; /* a blank line */
        }
        return 1;
    }
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
    /* a UTF-8 byte-order mark (what some spreadsheets write first) */
    int b0 = getc(f), b1 = b0 == 0xEF ? getc(f) : EOF, b2 = b1 == 0xBB ? getc(f) : EOF;
    if (!(b0 == 0xEF && b1 == 0xBB && b2 == 0xBF)) {
        rewind(f);
        clearerr(f);
    }
    Record r = {0};
    size_t rowcap = 0;
    long lineno = 0, line = 0;
    int rc = 0, got;
    while ((got = read_record(f, path, &r, MAXCOLS, &lineno, &line, err, errlen)) > 0) {
        int n = r.nf;
        if (!t->names) {
            t->ncols = n;
            t->names = mem_xalloc((size_t)n * sizeof *t->names);
            for (int i = 0; i < n; i++) {
                const char *name = r.buf + r.start[i];
                size_t nl = strlen(name);
                t->names[i] = mem_xalloc(nl + 1);
                memcpy(t->names[i], name, nl + 1);
            }
            continue;
        }
        if (n != t->ncols) {
            snprintf(err, errlen, "%s:%ld: %d fields, but the header names %d columns", path, line, n,
                     t->ncols);
            rc = -1;
            break;
        }
        if ((size_t)t->nrows == rowcap) {
            rowcap = rowcap ? 2 * rowcap : 1024;
            t->data = mem_xrealloc(t->data, rowcap * (size_t)t->ncols * sizeof *t->data);
        }
        for (int i = 0; i < n && rc == 0; i++) {
            char *s = r.buf + r.start[i], *end;
            while (*s == ' ' || *s == '\t') /* blanks inside quotes too */
                s++;
            size_t sl = strlen(s);
            while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t'))
                s[--sl] = 0;
            errno = 0;
            double v = strtod(s, &end);
            if (!*s || *end || errno == ERANGE || !isfinite(v)) {
                char bn[48], bv[48];
                snprintf(err, errlen, "%s:%ld: column '%s': '%s' is not a finite number%s", path, line,
                         shown(t->names[i], bn), shown(s, bv), errno == ERANGE ? " (out of range)" : "");
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
    if (got < 0)
        rc = -1;
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        *io_error = 1;
        rc = -1;
    }
    if (rc == 0 && !t->names) {
        snprintf(err, errlen, "%s: empty (no header line)", path);
        rc = -1;
    }
    mem_free(r.buf);
    mem_free(r.start);
    fclose(f);
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
    if (!par_root())
        return 0; /* only rank 0 writes: its check is the one that counts */
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
