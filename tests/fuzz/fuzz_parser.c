/*
 * tests/fuzz/fuzz_parser.c — libFuzzer entry point for the front end.
 *
 * Feeds each input to front_check_buffer as if it were a file.  The buffer
 * is libFuzzer's own, exactly `size` bytes and not NUL-terminated, so
 * AddressSanitizer catches any read past the end.  Diagnostics are
 * discarded; the only failures are crashes, sanitizer reports, leaks,
 * timeouts and running out of memory.  Build and run with `make fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lang/front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    front_check_buffer("fuzz.lag", (const char *)data, size, NULL);
    return 0;
}
