/*
 * runtime/h5.c — HDF5 tables (see h5.h).
 *
 * The functions and the few global identifiers that HDF5's macros name
 * (H5T_NATIVE_DOUBLE is the variable H5T_NATIVE_DOUBLE_g once H5open has
 * run) are looked up in the library with dlsym; hdf5.h gives their types.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include "runtime/h5.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "runtime/mem.h"

#if HAVE_HDF5
#include <dlfcn.h>
#include <hdf5.h>
#include <pthread.h>

#ifndef LAG_HDF5_SONAME
#define LAG_HDF5_SONAME "libhdf5_serial.so.103"
#endif

static struct {
    herr_t (*open)(void);
    herr_t (*eset_auto)(hid_t, H5E_auto2_t, void *);
    hid_t (*fcreate)(const char *, unsigned, hid_t, hid_t);
    herr_t (*fclose)(hid_t);
    hid_t (*screate_simple)(int, const hsize_t *, const hsize_t *);
    hid_t (*screate)(H5S_class_t);
    herr_t (*sclose)(hid_t);
    herr_t (*sselect_hyperslab)(hid_t, H5S_seloper_t, const hsize_t *, const hsize_t *, const hsize_t *,
                                const hsize_t *);
    hid_t (*pcreate)(hid_t);
    herr_t (*pset_chunk)(hid_t, int, const hsize_t *);
    herr_t (*pclose)(hid_t);
    hid_t (*dcreate)(hid_t, const char *, hid_t, hid_t, hid_t, hid_t, hid_t);
    herr_t (*dset_extent)(hid_t, const hsize_t *);
    hid_t (*dget_space)(hid_t);
    herr_t (*dwrite)(hid_t, hid_t, hid_t, hid_t, hid_t, const void *);
    herr_t (*dclose)(hid_t);
    hid_t (*acreate)(hid_t, const char *, hid_t, hid_t, hid_t, hid_t);
    herr_t (*awrite)(hid_t, hid_t, const void *);
    herr_t (*aclose)(hid_t);
    hid_t (*tcopy)(hid_t);
    herr_t (*tset_size)(hid_t, size_t);
    herr_t (*tset_cset)(hid_t, H5T_cset_t);
    herr_t (*tclose)(hid_t);
    hid_t *native_double, *c_s1, *dataset_create;
} h;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[300] = "not loaded";

static void load(void)
{
    void *lib = dlopen(LAG_HDF5_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error, "cannot load %s (HDF5; the Debian package libhdf5-103 has it)",
                 LAG_HDF5_SONAME);
        return;
    }
    static const struct {
        const char *name;
        size_t off;
    } syms[] = {
#define S(field, name) {name, offsetof(__typeof__(h), field)}
        S(open, "H5open"), S(eset_auto, "H5Eset_auto2"), S(fcreate, "H5Fcreate"), S(fclose, "H5Fclose"),
        S(screate_simple, "H5Screate_simple"), S(screate, "H5Screate"), S(sclose, "H5Sclose"),
        S(sselect_hyperslab, "H5Sselect_hyperslab"), S(pcreate, "H5Pcreate"), S(pset_chunk, "H5Pset_chunk"),
        S(pclose, "H5Pclose"), S(dcreate, "H5Dcreate2"), S(dset_extent, "H5Dset_extent"),
        S(dget_space, "H5Dget_space"), S(dwrite, "H5Dwrite"), S(dclose, "H5Dclose"), S(acreate, "H5Acreate2"),
        S(awrite, "H5Awrite"), S(aclose, "H5Aclose"), S(tcopy, "H5Tcopy"), S(tset_size, "H5Tset_size"),
        S(tset_cset, "H5Tset_cset"), S(tclose, "H5Tclose"), S(native_double, "H5T_NATIVE_DOUBLE_g"),
        S(c_s1, "H5T_C_S1_g"), S(dataset_create, "H5P_CLS_DATASET_CREATE_ID_g"),
#undef S
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *p = dlsym(lib, syms[i].name);
        if (!p) {
            snprintf(load_error, sizeof load_error, "%s has no %s", LAG_HDF5_SONAME, syms[i].name);
            return;
        }
        memcpy((char *)&h + syms[i].off, &p, sizeof p);
    }
    if (h.open() < 0) {
        snprintf(load_error, sizeof load_error, "HDF5 did not start (H5open)");
        return;
    }
    h.eset_auto(H5E_DEFAULT, NULL, NULL); /* errors come back as statuses, said here */
    load_error[0] = 0;
}

struct H5Table {
    hid_t file, dset;
    int ncols;
    hsize_t rows;
    char *shown; /* the name for messages */
};

enum { CHUNK_ROWS = 4096 };

H5Table *h5_open(const char *file, const char *shown, const char *name, const char *const *columns, int ncols,
                 char *err, size_t errlen)
{
    pthread_once(&once, load);
    if (load_error[0]) {
        snprintf(err, errlen, "cannot write '%s': %s", shown, load_error);
        return NULL;
    }
    /* H5F_ACC_TRUNC's value (the macro calls H5open and H5check_version
     * by name, which are looked up here instead) */
    hid_t f = h.fcreate(file, 0x0002u, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        snprintf(err, errlen, "cannot write '%s': HDF5 cannot create the file", shown);
        return NULL;
    }
    hsize_t dims[2] = {0, (hsize_t)ncols}, maxdims[2] = {H5S_UNLIMITED, (hsize_t)ncols};
    hsize_t chunk[2] = {CHUNK_ROWS, (hsize_t)ncols};
    hid_t space = h.screate_simple(2, dims, maxdims), dcpl = h.pcreate(*h.dataset_create);
    hid_t d = -1;
    if (space >= 0 && dcpl >= 0 && h.pset_chunk(dcpl, 2, chunk) >= 0)
        d = h.dcreate(f, name, *h.native_double, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (space >= 0)
        h.sclose(space);
    if (dcpl >= 0)
        h.pclose(dcpl);
    if (d < 0) {
        h.fclose(f);
        snprintf(err, errlen, "cannot write '%s': HDF5 cannot create the dataset '%s'", shown, name);
        return NULL;
    }
    H5Table *t = mem_xalloc(sizeof *t);
    t->file = f;
    t->dset = d;
    t->ncols = ncols;
    t->rows = 0;
    t->shown = mem_xalloc(strlen(shown) + 1);
    strcpy(t->shown, shown);
    /* the column names: a one-dimensional attribute of UTF-8 strings */
    hsize_t n = (hsize_t)ncols;
    hid_t st = h.tcopy(*h.c_s1), as = h.screate_simple(1, &n, NULL);
    int ok = st >= 0 && as >= 0 && h.tset_size(st, H5T_VARIABLE) >= 0 && h.tset_cset(st, H5T_CSET_UTF8) >= 0;
    hid_t a = ok ? h.acreate(d, "columns", st, as, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = a >= 0 && h.awrite(a, st, columns) >= 0;
    if (a >= 0)
        h.aclose(a);
    if (st >= 0)
        h.tclose(st);
    if (as >= 0)
        h.sclose(as);
    if (!ok) {
        snprintf(err, errlen, "cannot write '%s': HDF5 cannot write the column names", shown);
        h5_close(t, NULL, 0);
        return NULL;
    }
    return t;
}

int h5_rows(H5Table *t, const double *rows, size_t nrows, char *err, size_t errlen)
{
    if (nrows == 0)
        return 0;
    hsize_t size[2] = {t->rows + nrows, (hsize_t)t->ncols}, start[2] = {t->rows, 0},
            count[2] = {nrows, (hsize_t)t->ncols};
    int ok = h.dset_extent(t->dset, size) >= 0;
    hid_t fs = ok ? h.dget_space(t->dset) : -1, ms = h.screate_simple(2, count, NULL);
    ok = fs >= 0 && ms >= 0 && h.sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
         h.dwrite(t->dset, *h.native_double, ms, fs, H5P_DEFAULT, rows) >= 0;
    if (fs >= 0)
        h.sclose(fs);
    if (ms >= 0)
        h.sclose(ms);
    if (!ok) {
        snprintf(err, errlen, "cannot write '%s': HDF5 cannot write rows (a full disk?)", t->shown);
        return -1;
    }
    t->rows += nrows;
    return 0;
}

static int attr(H5Table *t, const char *key, hid_t type, const void *value, char *err, size_t errlen)
{
    hid_t s = h.screate(H5S_SCALAR);
    hid_t a = s >= 0 ? h.acreate(t->dset, key, type, s, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = a >= 0 && h.awrite(a, type, value) >= 0;
    if (a >= 0)
        h.aclose(a);
    if (s >= 0)
        h.sclose(s);
    if (!ok)
        snprintf(err, errlen, "cannot write '%s': HDF5 cannot write the attribute '%s'", t->shown, key);
    return ok ? 0 : -1;
}

int h5_attr_text(H5Table *t, const char *key, const char *value, char *err, size_t errlen)
{
    hid_t st = h.tcopy(*h.c_s1);
    if (st < 0 || h.tset_size(st, H5T_VARIABLE) < 0 || h.tset_cset(st, H5T_CSET_UTF8) < 0) {
        snprintf(err, errlen, "cannot write '%s': HDF5 cannot make a string type", t->shown);
        return -1;
    }
    int rc = attr(t, key, st, &value, err, errlen);
    h.tclose(st);
    return rc;
}

int h5_attr_num(H5Table *t, const char *key, double value, char *err, size_t errlen)
{
    return attr(t, key, *h.native_double, &value, err, errlen);
}

int h5_close(H5Table *t, char *err, size_t errlen)
{
    if (!t)
        return 0;
    int ok = h.dclose(t->dset) >= 0;
    ok = h.fclose(t->file) >= 0 && ok;
    if (!ok && err)
        snprintf(err, errlen, "cannot write '%s': HDF5 cannot close the file (a full disk?)", t->shown);
    mem_free(t->shown);
    mem_free(t);
    return ok ? 0 : -1;
}

#else /* built without HDF5 */

H5Table *h5_open(const char *file, const char *shown, const char *name, const char *const *columns, int ncols,
                 char *err, size_t errlen)
{
    (void)file;
    (void)name;
    (void)columns;
    (void)ncols;
    snprintf(err, errlen, "cannot write '%s': this lag was built without HDF5 (install the Debian package "
             "libhdf5-dev and run configure again)", shown);
    return NULL;
}

int h5_rows(H5Table *t, const double *rows, size_t nrows, char *err, size_t errlen)
{
    (void)t, (void)rows, (void)nrows, (void)err, (void)errlen;
    return -1;
}

int h5_attr_text(H5Table *t, const char *key, const char *value, char *err, size_t errlen)
{
    (void)t, (void)key, (void)value, (void)err, (void)errlen;
    return -1;
}

int h5_attr_num(H5Table *t, const char *key, double value, char *err, size_t errlen)
{
    (void)t, (void)key, (void)value, (void)err, (void)errlen;
    return -1;
}

int h5_close(H5Table *t, char *err, size_t errlen)
{
    (void)t, (void)err, (void)errlen;
    return 0;
}
#endif

int h5_is_path(const char *path)
{
    size_t n = strlen(path);
    return (n > 3 && strcmp(path + n - 3, ".h5") == 0) || (n > 5 && strcmp(path + n - 5, ".hdf5") == 0);
}
