/*
 * examples/extern_potential/potential.c — a potential written in C and
 * called from a .lag model through `extern`: the Hénon–Heiles potential
 * V(x, y) = (x^2 + y^2)/2 + x^2 y - y^3/3, with its gradient.
 *
 * Build: cc -O2 -shared -fPIC -o libpotential.so potential.c -lm
 * (make check builds it into the build tree).
 */
double V(double x, double y);
double dVdx(double x, double y);
double dVdy(double x, double y);
double W(double x, double y);

double V(double x, double y)
{
    return 0.5 * (x * x + y * y) + x * x * y - y * y * y / 3;
}

double dVdx(double x, double y)
{
    return x + 2 * x * y;
}

double dVdy(double x, double y)
{
    return y + x * x - y * y;
}

/* The same potential without a gradient: lag differentiates it by central
 * differences (and warns). */
double W(double x, double y)
{
    return V(x, y);
}
