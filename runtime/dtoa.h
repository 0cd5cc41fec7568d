/*
 * runtime/dtoa.h — doubles as the shortest decimal text that reads back
 * as the same double.
 *
 * For a double v the digits are the fewest that land in v's rounding
 * interval (the reals that round to v under round-half-even, its ends
 * included when v's significand is even, as strtod reads them), and among
 * those the nearest to v: the output of Steele and White's "free-format"
 * printing, and of Ryu (Adams, PLDI 2018).  Exact integer arithmetic on
 * 128 bits does it for |v| in about [5e-10, 9e15], where the interval,
 * scaled by a power of ten, has exact 128-bit ends; other values take the
 * shortest of printf's correctly rounded 15, 16 and 17 digits that strtod
 * reads back as v (the same digits, more slowly).
 *
 * The text is printf's %g-like form: plain digits when the decimal
 * exponent is in [-4, 17), else d.ddde±XX; "-0", "inf", "-inf", "nan".
 */
#ifndef LAG_DTOA_H
#define LAG_DTOA_H

enum { DTOA_MAX = 32 };

/* Write v into buf (DTOA_MAX bytes at least, NUL-terminated); returns the
 * length. */
int dtoa_short(double v, char *buf);

#endif
