/*
 * runtime/io.h — CSV files in and out, output files written atomically.
 *
 * CSV input is read whole (csv_read).  A CSV file is written under a
 * temporary name in the same directory and renamed to its own name when
 * closed, so an interrupted run never leaves a half-written file; rows
 * written before a numerical failure are kept (the caller closes with
 * keep = 1).  Numbers are written as the shortest text that reads back as
 * the same double (runtime/dtoa.h).  A path ending in .h5 or .hdf5 is an
 * HDF5 table instead (runtime/h5.h), written and placed the same way.
 */
#ifndef LAG_IO_H
#define LAG_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct CsvWriter CsvWriter;

/* Open; NULL on failure with a message in err. */
CsvWriter *csv_open(const char *path, const char *const *columns, int ncols, char *err,
                    size_t errlen);
/* The same, naming the table (an HDF5 file's dataset; a CSV file has no
 * name for it). */
CsvWriter *csv_open_table(const char *path, const char *table, const char *const *columns, int ncols, char *err,
                          size_t errlen);
/* An attribute of the table (HDF5: of its dataset; CSV: none, 0). */
int csv_attr_text(CsvWriter *w, const char *key, const char *value, char *err, size_t errlen);
int csv_attr_num(CsvWriter *w, const char *key, double value, char *err, size_t errlen);
/* Write one row of ncols numbers; 0, or -1 with a message in err. */
int csv_row(CsvWriter *w, const double *values, char *err, size_t errlen);
/* Rows formatted where they are computed and written elsewhere (the ranks
 * of an MPI run format their blocks' rows; rank 0 writes the text):
 * csv_format appends one row of ncols numbers, as csv_row writes it, to
 * the growing buffer *buf (length *len, capacity *cap; mem_free it);
 * csv_text writes such rows to a text writer (0, or -1 with a message);
 * csv_is_text tells whether a path's rows are text (not HDF5). */
void csv_format(const double *values, int ncols, char **buf, size_t *len, size_t *cap);
int csv_text(CsvWriter *w, const char *text, size_t len, char *err, size_t errlen);
int csv_is_text(const char *path);
/* Close: keep = 1 renames the file into place, keep = 0 removes it.
 * Returns 0, or -1 with a message in err.  csv_close(NULL, ...) is a no-op. */
int csv_close(CsvWriter *w, int keep, char *err, size_t errlen);

/* A CSV file read whole (RFC 4180): a header line of names, then rows of
 * finite numbers.  Fields may be quoted ("1", "a,b", "say ""x"""), lines
 * may end in CRLF, a UTF-8 byte-order mark is skipped; blanks around
 * unquoted fields are ignored, and blank lines and lines starting with '#'
 * are skipped. */
typedef struct CsvTable {
    char **names;
    int ncols;
    long nrows;
    double *data; /* nrows x ncols */
} CsvTable;
/* Read path into t.  0, or -1 with a message in err naming the file and
 * line; *io_error tells a file that cannot be read from a malformed one. */
int csv_read(const char *path, CsvTable *t, int *io_error, char *err, size_t errlen);
/* The index of the column called name, or -1. */
int csv_column(const CsvTable *t, const char *name);
void csv_table_free(CsvTable *t);
/* mkdir -p: create dir and its missing parents with the given mode.
 * Returns 0, or -1 with errno set. */
int io_make_dirs(const char *dir, unsigned mode);

/* Whether a file can be written at path (its directory exists and takes
 * new files): a probe file is created beside it and removed.  0, or -1
 * with a message in err. */
int io_check_writable(const char *path, char *err, size_t errlen);
/* The temporary name an output is written under before its rename,
 * PATH.tmp.PID (mem_free it).  Stale temporaries of the same output are
 * removed first (io_remove_stale). */
char *io_tmp_path(const char *path);
/* Remove PATH.tmp.PID files beside path whose process is gone (kill(pid, 0)
 * fails with ESRCH): what a killed run left.  Temporaries of live processes
 * and of other outputs are never touched.  Returns how many were removed. */
int io_remove_stale(const char *path);

/* Join a directory and a path: path itself when it is absolute or dir is
 * NULL; the result is malloc'd (mem_free it). */
char *io_join(const char *dir, const char *path);

/* FNV-1a, 64 bits, of n bytes continuing from h (start with IO_FNV_INIT):
 * the checksum of weights files, the key of the native-code cache. */
#define IO_FNV_INIT 1469598103934665603u
uint64_t io_fnv1a(const void *p, size_t n, uint64_t h);

#endif
