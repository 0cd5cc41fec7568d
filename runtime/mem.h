/*
 * runtime/mem.h — the one allocation hook of lag.
 *
 * Every allocation of the project goes through these functions, so a test
 * can make the Nth allocation fail (fault injection) and check that the
 * failure is reported, never a crash.  Out-of-memory is reported through a
 * NULL return; callers that cannot recover use mem_xalloc, which prints a
 * message and exits with status 4 (the documented I/O-and-resources code).
 */
#ifndef LAG_MEM_H
#define LAG_MEM_H

#include <stddef.h>

void *mem_alloc(size_t size);            /* malloc, or NULL */
void *mem_realloc(void *p, size_t size); /* realloc, or NULL (p untouched) */
void mem_free(void *p);                  /* free; mem_free(NULL) is a no-op */

/* Like mem_alloc/mem_realloc but never return NULL: print and exit(4). */
void *mem_xalloc(size_t size);
void *mem_xrealloc(void *p, size_t size);

/* The out-of-memory exit for allocations made outside these functions
 * (GSL, jansson): prints "out of memory" and exits with status 4.  size 0:
 * not known. */
_Noreturn void mem_out_of_memory(size_t size);
/* Run fn (once) when the out-of-memory exit is taken: it ends the process
 * with _exit, not exit, because it may be taken in one thread of a
 * parallel region while another is inside OpenBLAS, whose exit-time
 * destructor would free the buffers that thread is using.  The hooks
 * (up to 4, run in the order given) are the cleanup that must still
 * happen (io.c: removing temporaries; par.c: a rank's messages shown). */
void mem_on_out_of_memory(void (*fn)(void));

/* For allocations made outside these functions: 1 when fault injection
 * says this allocation fails (the caller then takes the out-of-memory
 * path as if it had), else 0.  Counts as one allocation. */
int mem_fault(void);

/* Fault injection for tests: the nth allocation from now (1-based) and every
 * one after it fails.  n = 0 switches injection off. */
void mem_fail_after(long n);

#endif
