/*
 * runtime/h5.h — tables written as HDF5 (`output "x.h5"`), for outputs too
 * big for text.
 *
 * One file, one two-dimensional dataset of doubles named after the table
 * (rows by columns, chunked and grown as rows come), its column names in
 * the attribute "columns" (UTF-8 strings) and the job's settings as more
 * attributes.  h5py reads it as `f[name][:]` and `f[name].attrs`; a pandas
 * frame is `pandas.DataFrame(f[name][:], columns=f[name].attrs["columns"])`.
 * libhdf5 is opened on first use (dlopen, as OpenBLAS and PLplot are):
 * runs that write no HDF5 never load it.  Built without HDF5's headers
 * (configure --without-hdf5, or libhdf5-dev missing), opening fails with
 * a message that says how to get it.
 */
#ifndef LAG_H5_H
#define LAG_H5_H

#include <stddef.h>

typedef struct H5Table H5Table;

/* Whether path names an HDF5 file (ends in .h5 or .hdf5). */
int h5_is_path(const char *path);
/* Create file (its temporary name) with the dataset `name`; NULL with a
 * message in err. */
H5Table *h5_open(const char *file, const char *shown, const char *name, const char *const *columns, int ncols,
                 char *err, size_t errlen);
/* Append nrows rows (row-major, ncols each); 0, or -1 with a message. */
int h5_rows(H5Table *t, const double *rows, size_t nrows, char *err, size_t errlen);
/* A string or number attribute of the dataset; 0, or -1 with a message. */
int h5_attr_text(H5Table *t, const char *key, const char *value, char *err, size_t errlen);
int h5_attr_num(H5Table *t, const char *key, double value, char *err, size_t errlen);
/* Close (the file is complete on disk); 0, or -1 with a message. */
int h5_close(H5Table *t, char *err, size_t errlen);

#endif
