#!/usr/bin/env python3
"""Fits the two polynomials of crates/ntk/src/relu.rs and prints them as Rust arrays.

    python3 -m pip install mpmath && python3 scripts/fit-moment-polynomials.py

Each is the interpolant at the n + 1 Chebyshev nodes of [0, 1/4], solved in 60-digit
arithmetic, its monomial coefficients rounded to f64; the script reports the largest relative
error over a grid of the interval, with the rounded coefficients, in units of 2^-53.
- ASIN_RATIO, degree 13: R(z) / z, R(z) = (asin(sqrt z) - sqrt z) / sqrt z;
- SQRT_ONE_MINUS_Z, degree 12: sqrt(1 - z).
"""
import mpmath as mp

mp.mp.dps = 60
A, B = mp.mpf(0), mp.mpf(1) / 4


def asin_ratio(z):
    if z == 0:
        return mp.mpf(1) / 6
    s = mp.sqrt(z)
    return (mp.asin(s) - s) / s / z


def sqrt_one_minus_z(z):
    return mp.sqrt(1 - z)


def fit(f, degree):
    nodes = [(A + B) / 2 + (B - A) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / (degree + 1))
             for k in range(degree + 1)]
    vandermonde = mp.matrix([[x ** j for j in range(degree + 1)] for x in nodes])
    coefficients = mp.lu_solve(vandermonde, mp.matrix([f(x) for x in nodes]))
    rounded = [float(coefficients[j]) for j in range(degree + 1)]
    worst = 0
    for i in range(2001):
        x = B * i / 2000
        p = mp.mpf(0)
        for c in reversed(rounded):
            p = p * x + mp.mpf(c)
        worst = max(worst, abs(p - f(x)) / f(x))
    return rounded, float(worst) / 2 ** -53


for name, f, degree in [("ASIN_RATIO", asin_ratio, 13), ("SQRT_ONE_MINUS_Z", sqrt_one_minus_z, 12)]:
    rounded, ulps = fit(f, degree)
    print(f"// {name}: largest relative error {ulps:.2f} x 2^-53")
    print(f"const {name}: [f64; {len(rounded)}] = [")
    for c in rounded:
        print(f"    {c!r},")
    print("];")
