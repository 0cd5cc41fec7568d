/*
 * tests/fuzz/fuzz_parser.c — libFuzzer entry point for the front end.
 *
 * Feeds each input to the front end as if it were a file and, when it is
 * valid, derives the equations of its systems (lag el --lag, and with
 * --hamiltonian).  The buffer
 * is libFuzzer's own, exactly `size` bytes and not NUL-terminated, so
 * AddressSanitizer catches any read past the end.  Diagnostics are
 * discarded; the only failures are crashes, sanitizer reports, leaks,
 * timeouts and running out of memory.  Build and run with `make fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lang/el.h"
#include "lang/front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    /* Check; when the program is valid, also derive and print the
     * equations of every system (the symbolic core on arbitrary models). */
    Front F;
    if (front_load_text(&F, "fuzz.lag", (const char *)data, size, NULL) == 0 && sink) {
        el_run(&F, NULL, EL_LAG, sink);
        /* and the Hamiltonian view: the Legendre transform, symbolic inverses */
        el_run_view(&F, NULL, EL_LAG, NULL, 0, EL_VIEW_HAMILTONIAN, sink);
    }
    front_fini(&F);
    return 0;
}
