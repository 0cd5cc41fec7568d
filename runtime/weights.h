/*
 * runtime/weights.h — weights files (.lagw): a net's tensors, exactly.
 *
 * Layout (all integers little-endian; docs/runtime.md):
 *   8 bytes   magic "LAGW\r\n\032\n" (a text-mode transfer or a truncated
 *             copy shows at once)
 *   u32       version (1; 2 when the next field is there)
 *   u32       number of tensors
 *   u32       (version 2) the precision the weights were trained in: 32
 *             (train's `precision single`: each weight a float32 value,
 *             stored as the double it equals) or 64
 *   per tensor: u16 name length (1..WEIGHTS_MAX_NAME), the name, u32 rows,
 *             u32 cols, rows*cols IEEE-754 doubles, row-major
 *   u64       FNV-1a 64 of every byte before it
 * A file is written under a temporary name and renamed into place.
 * The writer refuses what the reader would refuse (a name of 0 or more than
 * WEIGHTS_MAX_NAME bytes, a dimension of 0 or over WEIGHTS_MAX_DIM), so a
 * file lag writes is always one it reads back.
 */
#ifndef LAG_WEIGHTS_H
#define LAG_WEIGHTS_H

#include <stddef.h>

/* The longest tensor name: room for every name lag makes from a net name
 * the language accepts (255 bytes, lang/front.h) -- "NAME.W12" in a saved
 * file, "adam.m.NAME.W12" in a checkpoint -- with a wide margin. */
#define WEIGHTS_MAX_NAME 1024
#define WEIGHTS_MAX_DIM (1 << 20) /* rows and columns of a tensor */

typedef struct WeightsTensor {
    char *name;
    int rows, cols;
    double *data;
} WeightsTensor;

/* Write n tensors to path atomically.  0, or -1 with a message in err. */
int weights_write(const char *path, const WeightsTensor *t, int n, char *err, size_t errlen);
/* The same with the precision recorded: bits 64 writes version 1 (what
 * weights_write writes), 32 version 2. */
int weights_write_bits(const char *path, const WeightsTensor *t, int n, int bits, char *err, size_t errlen);

/* Read a file: *t (n tensors, weights_free them).  0, or -1 with a message
 * in err saying what is wrong (missing, not a weights file, newer version,
 * truncated, corrupted). */
int weights_read(const char *path, WeightsTensor **t, int *n, char *err, size_t errlen);
/* The same, and the precision recorded (*bits: 64 for version 1). */
int weights_read_bits(const char *path, WeightsTensor **t, int *n, int *bits, char *err, size_t errlen);
void weights_free(WeightsTensor *t, int n);

#endif
