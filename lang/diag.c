/*
 * lang/diag.c — printing located diagnostics (see diag.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mem.h"

void diag_init(Diag *d, Arena *a, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->arena = a;
    d->out = out;
}

struct DiagMsg {
    int file, line, column;
    int seq;    /* order of reporting, to keep the sort stable */
    char *text; /* the formatted message, notes appended */
    size_t len;
};

void diag_fini(Diag *d)
{
    diag_flush(d);
    mem_free(d->msgs);
    d->msgs = NULL;
    d->nmsgs = d->capmsgs = 0;
    mem_free(d->src);
    d->src = NULL;
    d->nsrc = d->capsrc = 0;
}

int diag_add_source(Diag *d, const char *name, const char *text, size_t len)
{
    if (d->nsrc == d->capsrc) {
        d->capsrc = d->capsrc ? 2 * d->capsrc : 8;
        d->src = mem_xrealloc(d->src, (size_t)d->capsrc * sizeof *d->src);
    }
    d->src[d->nsrc] = (Source){name, text, len};
    return d->nsrc++;
}

/* Length in bytes of the UTF-8 sequence starting at s (at most n bytes), or 0
 * if it is not a well-formed sequence. */
static int utf8_len(const unsigned char *s, size_t n)
{
    int len;
    if (s[0] < 0x80)
        return 1;
    else if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

enum { WINDOW = 100 }; /* characters shown around the caret on long lines */

/* Print source line `line` of `s` with a GCC-style gutter and a caret line
 * underlining columns [c0, c1] (1-based, inclusive). */
static void show_line(FILE *out, const Source *s, int line, int c0, int c1)
{
    const unsigned char *p = (const unsigned char *)s->text, *end = p + s->len;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n')
            l++;
    const unsigned char *q = p;
    while (q < end && *q != '\n')
        q++;
    if (q > p && q[-1] == '\r')
        q--;

    /* Count characters in the line, to decide on a window for long lines. */
    int nchars = 0;
    for (const unsigned char *r = p; r < q; nchars++) {
        int k = utf8_len(r, (size_t)(q - r));
        r += k ? k : 1;
    }
    int lo = 1, hi = nchars;
    if (nchars > 2 * WINDOW) {
        lo = c0 - WINDOW / 2 > 1 ? c0 - WINDOW / 2 : 1;
        hi = lo + WINDOW;
    }
    if (c1 > hi)
        c1 = hi;

    char gutter[32];
    int gw = snprintf(gutter, sizeof gutter, "%5d", line);
    fprintf(out, "%s | %s", gutter, lo > 1 ? "..." : "");
    int col = 1;
    /* Remember which characters are tabs so the caret line lines up. */
    for (const unsigned char *r = p; r < q; col++) {
        int k = utf8_len(r, (size_t)(q - r));
        if (col >= lo && col <= hi) {
            if (k == 1 && (*r == '\t'))
                fputc('\t', out);
            else if (k == 1 && (*r < 0x20 || *r == 0x7F))
                fputc('?', out);
            else if (k == 0)
                fputc('?', out);
            else
                fwrite(r, 1, (size_t)k, out);
        }
        r += k ? k : 1;
    }
    fprintf(out, "%s\n", hi < nchars ? "..." : "");
    fprintf(out, "%*s | %s", gw, "", lo > 1 ? "   " : "");
    col = 1;
    for (const unsigned char *r = p; col <= c1; col++) {
        int tab = r < q && *r == '\t';
        if (col >= lo)
            fputc(col < c0 ? (tab ? '\t' : ' ') : col == c0 ? '^' : '~', out);
        if (r < q) {
            int k = utf8_len(r, (size_t)(q - r));
            r += k ? k : 1;
        }
    }
    fputc('\n', out);
}

static void format(FILE *out, const Diag *d, Loc at, const char *kind, const char *fmt, va_list ap)
{
    if (at.file >= 0 && at.file < d->nsrc) {
        const Source *s = &d->src[at.file];
        fprintf(out, "%s:%d:%d: %s: ", s->name, at.first_line, at.first_column, kind);
        vfprintf(out, fmt, ap);
        fputc('\n', out);
        int c1 = at.last_line == at.first_line && at.last_column >= at.first_column
                     ? at.last_column
                     : at.first_column;
        show_line(out, s, at.first_line, at.first_column, c1);
    } else {
        fprintf(out, "lag: %s: ", kind);
        vfprintf(out, fmt, ap);
        fputc('\n', out);
    }
}

/* Format a message and hold it; a note is appended to the message before. */
static void report(Diag *d, Loc at, const char *kind, const char *fmt, va_list ap)
{
    if (!d->out)
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return;
    format(m, d, at, kind, fmt, ap);
    fclose(m);
    if (strcmp(kind, "note") == 0 && d->nmsgs > 0) {
        DiagMsg *prev = &d->msgs[d->nmsgs - 1];
        prev->text = mem_xrealloc(prev->text, prev->len + len + 1);
        memcpy(prev->text + prev->len, text, len + 1);
        prev->len += len;
        free(text);
        return;
    }
    if (d->nmsgs == d->capmsgs) {
        d->capmsgs = d->capmsgs ? 2 * d->capmsgs : 16;
        d->msgs = mem_xrealloc(d->msgs, (size_t)d->capmsgs * sizeof *d->msgs);
    }
    /* Copy into our allocator so every buffer is freed the same way. */
    char *copy = mem_xalloc(len + 1);
    memcpy(copy, text, len + 1);
    free(text);
    d->msgs[d->nmsgs] = (DiagMsg){at.file, at.first_line, at.first_column, d->nmsgs, copy, len};
    d->nmsgs++;
}

static int by_position(const void *pa, const void *pb)
{
    const DiagMsg *a = pa, *b = pb;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->column != b->column)
        return a->column < b->column ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void diag_flush(Diag *d)
{
    if (d->nmsgs)
        qsort(d->msgs, (size_t)d->nmsgs, sizeof *d->msgs, by_position);
    for (int i = 0; i < d->nmsgs; i++) {
        if (d->out)
            fwrite(d->msgs[i].text, 1, d->msgs[i].len, d->out);
        mem_free(d->msgs[i].text);
    }
    d->nmsgs = 0;
    if (d->gave_up && d->out && d->gave_up != 2) {
        fprintf(d->out, "lag: too many errors (%d), stopping\n", DIAG_MAX_ERRORS);
        d->gave_up = 2; /* said once */
    }
    if (d->out)
        fflush(d->out);
}

void diag_error(Diag *d, Loc at, const char *fmt, ...)
{
    d->errors++;
    if (d->gave_up)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "error", fmt, ap);
    va_end(ap);
    if (d->errors >= DIAG_MAX_ERRORS)
        d->gave_up = 1;
}

void diag_warning(Diag *d, Loc at, const char *fmt, ...)
{
    d->warnings++;
    if (d->gave_up)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "warning", fmt, ap);
    va_end(ap);
}

void diag_note(Diag *d, Loc at, const char *fmt, ...)
{
    if (d->gave_up)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "note", fmt, ap);
    va_end(ap);
}

/* Damerau-free Levenshtein distance, bounded by the caller's use. */
static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64)
        return 1000;
    int row[65];
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

const char *diag_suggest(const char *name, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = 1000;
    size_t len = strlen(name);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    for (int i = 0; i < n; i++) {
        if (!cands[i] || strcmp(cands[i], name) == 0)
            continue;
        int dist = edit_distance(name, cands[i]);
        if (dist < bestd) {
            bestd = dist;
            best = cands[i];
        }
    }
    return bestd <= limit ? best : NULL;
}

const char *diag_beside(const Diag *d, Arena *a, const char *path, Loc at)
{
    const char *src = d->src[at.file].name, *slash = strrchr(src, '/');
    if (path[0] == '/' || !slash)
        return path;
    return arena_printf(a, "%.*s/%s", (int)(slash - src), src, path);
}
