/*
 * runtime/mem.c — the allocation hook (see mem.h).
 *
 * The fault-injection counter is the one piece of process-wide state in the
 * library; it exists only for tests and is off unless a test switches it on.
 */
#include "runtime/mem.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static long fail_countdown; /* 0: off; k > 0: the kth next allocation fails */

static int should_fail(void)
{
    if (fail_countdown == 0)
        return 0;
    if (fail_countdown > 1) {
        fail_countdown--;
        return 0;
    }
    return 1; /* stays at 1: every later allocation fails too */
}

void mem_fail_after(long n)
{
    fail_countdown = n < 0 ? 0 : n;
}

void *mem_alloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *mem_realloc(void *p, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(p, size ? size : 1);
}

void mem_free(void *p)
{
    free(p);
}

int mem_fault(void)
{
    return should_fail();
}

enum { OOM_HOOKS = 4 };
static void (*oom_hook[OOM_HOOKS])(void);

void mem_on_out_of_memory(void (*fn)(void))
{
    for (int i = 0; i < OOM_HOOKS; i++)
        if (!oom_hook[i] || oom_hook[i] == fn) {
            oom_hook[i] = fn;
            return;
        }
}

void mem_out_of_memory(size_t size)
{
    /* one thread ends the process; another that gets here meanwhile waits for it */
    static atomic_flag taken = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&taken))
        for (;;)
            pause();
    if (size)
        fprintf(stderr, "lag: error: out of memory (allocating %zu bytes)\n", size);
    else
        fprintf(stderr, "lag: error: out of memory\n");
    fflush(NULL);
    for (int i = 0; i < OOM_HOOKS && oom_hook[i]; i++)
        oom_hook[i]();
    _exit(4);
}

static void out_of_memory(size_t size)
{
    mem_out_of_memory(size);
}

void *mem_xalloc(size_t size)
{
    void *p = mem_alloc(size);
    if (!p)
        out_of_memory(size);
    return p;
}

void *mem_xrealloc(void *p, size_t size)
{
    void *q = mem_realloc(p, size);
    if (!q)
        out_of_memory(size);
    return q;
}
