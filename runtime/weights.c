/*
 * runtime/weights.c — weights files (see weights.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/weights.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/par.h"

static const unsigned char magic[8] = {'L', 'A', 'G', 'W', '\r', '\n', 0x1a, '\n'};
enum { VERSION = 1, VERSION_BITS = 2, MAX_TENSORS = 4096, MAX_DIM = WEIGHTS_MAX_DIM };
#define MAX_BYTES ((size_t)1 << 32) /* 4 GiB: far beyond any net lag builds */

/* A growing byte buffer. */
typedef struct Buf {
    unsigned char *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        b->p = mem_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_le(Buf *b, uint64_t v, int bytes)
{
    unsigned char c[8];
    for (int i = 0; i < bytes; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    put(b, c, (size_t)bytes);
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Whether v is a float32 value (a NaN counts as one). */
static int is_float(double v)
{
    return v != v || (double)(float)v == v;
}

int weights_write(const char *path, const WeightsTensor *t, int n, char *err, size_t errlen)
{
    return weights_write_bits(path, t, n, 64, err, errlen);
}

int weights_write_bits(const char *path, const WeightsTensor *t, int n, int bits, char *err, size_t errlen)
{
    if (!par_root())
        return 0; /* rank 0 writes the run's files (runtime/par.h) */
    if (bits != 64 && bits != 32) {
        snprintf(err, errlen, "cannot write '%s': precision of %d bits (64 or 32)", path, bits);
        return -1;
    }
    for (int k = 0; k < n && bits == 32; k++)
        for (size_t i = 0; i < (size_t)t[k].rows * (size_t)t[k].cols; i++)
            if (!is_float(t[k].data[i])) {
                snprintf(err, errlen, "cannot write '%s' as float32 weights: tensor '%.40s' holds %.17g", path,
                         t[k].name, t[k].data[i]);
                return -1;
            }
    /* refuse what weights_read would refuse, before anything is written */
    if (n < 0 || n > MAX_TENSORS) {
        snprintf(err, errlen, "cannot write '%s': %d tensors (a weights file holds at most %d)", path, n,
                 MAX_TENSORS);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        size_t len = strlen(t[k].name);
        if (len == 0 || len > WEIGHTS_MAX_NAME) {
            snprintf(err, errlen, "cannot write '%s': the tensor name '%.40s%s' is %zu bytes (a weights "
                     "file holds names of 1 to %d bytes)", path, t[k].name, len > 40 ? "..." : "", len,
                     WEIGHTS_MAX_NAME);
            return -1;
        }
        if (t[k].rows < 1 || t[k].cols < 1 || t[k].rows > MAX_DIM || t[k].cols > MAX_DIM) {
            snprintf(err, errlen, "cannot write '%s': tensor '%.40s%s' is %d x %d (each dimension must be "
                     "1 to %d)", path, t[k].name, len > 40 ? "..." : "", t[k].rows, t[k].cols, MAX_DIM);
            return -1;
        }
    }
    Buf b = {0};
    put(&b, magic, sizeof magic);
    put_le(&b, bits == 64 ? VERSION : VERSION_BITS, 4);
    put_le(&b, (uint64_t)n, 4);
    if (bits != 64)
        put_le(&b, (uint64_t)bits, 4);
    for (int k = 0; k < n; k++) {
        size_t len = strlen(t[k].name);
        put_le(&b, len, 2);
        put(&b, t[k].name, len);
        put_le(&b, (uint64_t)t[k].rows, 4);
        put_le(&b, (uint64_t)t[k].cols, 4);
        for (size_t i = 0; i < (size_t)t[k].rows * (size_t)t[k].cols; i++) {
            uint64_t word;
            memcpy(&word, &t[k].data[i], sizeof word);
            put_le(&b, word, 8);
        }
    }
    put_le(&b, io_fnv1a(b.p, b.n, IO_FNV_INIT), 8);
    char *tmp = io_tmp_path(path);
    errno = 0;
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    int bad = !f || fwrite(b.p, 1, b.n, f) != b.n || fflush(f) != 0 || ferror(f);
    int saved = errno;
    if (f && fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(saved ? saved : EIO));
        if (f)
            remove(tmp);
        rc = -1;
    } else if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
        remove(tmp);
        rc = -1;
    }
    mem_free(tmp);
    mem_free(b.p);
    return rc;
}

void weights_free(WeightsTensor *t, int n)
{
    for (int k = 0; k < n && t; k++) {
        mem_free(t[k].name);
        mem_free(t[k].data);
    }
    mem_free(t);
}

int weights_read(const char *path, WeightsTensor **out, int *nout, char *err, size_t errlen)
{
    int bits;
    return weights_read_bits(path, out, nout, &bits, err, errlen);
}

int weights_read_bits(const char *path, WeightsTensor **out, int *nout, int *bits, char *err, size_t errlen)
{
    *bits = 64;
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read weights file '%s': %s", path, strerror(errno));
        return -1;
    }
    Buf b = {0};
    unsigned char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.n <= MAX_BYTES)
        put(&b, chunk, got);
    int failed = ferror(f);
    fclose(f);
    const char *why = NULL;
    WeightsTensor *t = NULL;
    int n = 0;
    if (failed)
        why = "it cannot be read";
    else if (b.n > MAX_BYTES)
        why = "it is larger than 4 GiB";
    else if (b.n < sizeof magic || memcmp(b.p, magic, sizeof magic) != 0)
        why = "it is not a lag weights file (no LAGW header)";
    else if (b.n < 16 + 8)
        why = "it is truncated";
    else if (get_le(b.p + 8, 4) != VERSION && get_le(b.p + 8, 4) != VERSION_BITS) {
        snprintf(err, errlen, "weights file '%s' has version %llu; this lag reads versions %d and %d", path,
                 (unsigned long long)get_le(b.p + 8, 4), VERSION, VERSION_BITS);
        mem_free(b.p);
        return -1;
    } else if (get_le(b.p + b.n - 8, 8) != io_fnv1a(b.p, b.n - 8, IO_FNV_INIT))
        why = "its checksum does not match (the file is corrupted or truncated)";
    else if (get_le(b.p + 8, 4) == VERSION_BITS && b.n < 20 + 8)
        why = "it is truncated";
    else {
        uint64_t count = get_le(b.p + 12, 4);
        size_t at = 16, end = b.n - 8;
        if (get_le(b.p + 8, 4) == VERSION_BITS) { /* the precision the weights were trained in */
            uint64_t w = get_le(b.p + 16, 4);
            at = 20;
            if (w != 32 && w != 64)
                why = "it declares a precision other than 32 or 64 bits";
            *bits = (int)w;
        }
        if (!why && count > MAX_TENSORS)
            why = "it declares too many tensors";
        else if (!why)
            t = mem_xalloc((size_t)(count + 1) * sizeof *t);
        for (uint64_t k = 0; !why && k < count; k++) {
            if (end - at < 2) {
                why = "a tensor header is cut short";
                break;
            }
            size_t len = (size_t)get_le(b.p + at, 2);
            at += 2;
            if (len == 0 || len > WEIGHTS_MAX_NAME || end - at < len + 8) {
                why = "a tensor header is malformed";
                break;
            }
            uint64_t rows = get_le(b.p + at + len, 4), cols = get_le(b.p + at + len + 4, 4);
            if (rows == 0 || cols == 0 || rows > MAX_DIM || cols > MAX_DIM ||
                (end - at - len - 8) / 8 < rows * cols) {
                why = "a tensor's shape does not match its data";
                break;
            }
            t[n].name = mem_xalloc(len + 1);
            memcpy(t[n].name, b.p + at, len);
            t[n].name[len] = 0;
            at += len + 8;
            t[n].rows = (int)rows;
            t[n].cols = (int)cols;
            t[n].data = mem_xalloc((size_t)(rows * cols) * sizeof(double));
            for (size_t i = 0; i < rows * cols; i++, at += 8) {
                uint64_t word = get_le(b.p + at, 8);
                memcpy(&t[n].data[i], &word, sizeof word);
                if (*bits == 32 && !is_float(t[n].data[i]) && !why)
                    why = "it declares float32 weights but holds a value that is not one";
            }
            n++;
        }
        if (!why && at != end)
            why = "it has bytes after its last tensor";
    }
    mem_free(b.p);
    if (why) {
        snprintf(err, errlen, "weights file '%s' is unusable: %s", path, why);
        weights_free(t, n);
        return -1;
    }
    *out = t;
    *nout = n;
    return 0;
}
