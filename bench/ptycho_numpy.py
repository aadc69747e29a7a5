#!/usr/bin/env python3
"""NumPy reference of lvit ptycho reconstruct's update (src/ptycho/engine_tmpl.h), for speed.

One iteration, full batch, as lvit does it: exit waves psi_j = P * O[window j], unitary FFT,
cost sum (sqrt(|Psi|^2 + eps) - sqrt(I + eps))^2, psi - psi' = F^-1[Psi (1 - m / a)],
gradients dC/dconj(O) = sum_j conj(P)(psi - psi'), dC/dconj(P) = sum_j conj(O_j)(psi - psi'),
steps O -= alpha gO / (illum + 0.01 max illum), P -= beta gP / (opow + 0.01 max opow).
Double precision (complex128), NumPy's FFT (pocketfft, one thread).

No netCDF reader is needed: the scan is generated here with the sizes of lvit's cases (the
simulated case: 192x192 object, 64x64 probe, 160 positions; the Siemens star: 516 frames 128x128
on a 492x489 object), since only the time per iteration is compared.

usage: bench/ptycho_numpy.py [--case sim|star] [--iters N]
prints: numpy CASE: N iterations, X iterations/s (double, 1 thread), cost first -> last
"""
import argparse
import time

import numpy as np


def make_case(case, rng):
    if case == "sim":
        H = W = 192
        n, N = 64, 160
    else:
        H, W = 492, 489
        n, N = 128, 516
    pos = np.stack([rng.integers(0, H - n + 1, N), rng.integers(0, W - n + 1, N)], axis=1)
    obj = (0.8 + 0.2 * rng.random((H, W))) * np.exp(0.5j * rng.random((H, W)))
    yy, xx = np.mgrid[:n, :n] - n / 2
    probe = np.exp(-(yy ** 2 + xx ** 2) / (2 * (n / 8) ** 2)) * np.exp(0.01j * (yy ** 2 + xx ** 2))
    frames = np.stack([np.abs(np.fft.fft2(probe * obj[r:r + n, c:c + n], norm="ortho")) ** 2 for r, c in pos])
    return H, W, n, pos, frames, probe


def iterate(O, P, target, pos, n, eps, alpha=1.0, beta=1.0):
    Ow = np.stack([O[r:r + n, c:c + n] for r, c in pos])
    F = np.fft.fft2(P * Ow, norm="ortho")
    a = np.sqrt(F.real ** 2 + F.imag ** 2 + eps)
    r = a - target
    cost = float(np.sum(r * r))
    D = np.fft.ifft2(F * (r / a), norm="ortho")
    gO = np.zeros_like(O)
    illum = np.zeros(O.shape)
    gP = np.sum(np.conj(Ow) * D, axis=0)
    opow = np.sum(np.abs(Ow) ** 2, axis=0)
    cPD = np.conj(P) * D
    P2 = np.abs(P) ** 2
    for j, (rr, cc) in enumerate(pos):
        gO[rr:rr + n, cc:cc + n] += cPD[j]
        illum[rr:rr + n, cc:cc + n] += P2
    O -= alpha * gO / (illum + 0.01 * illum.max())
    P -= beta * gP / (opow + 0.01 * opow.max())
    return cost


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=["sim", "star"], default="sim")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--eps", type=float, default=1e-2)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    H, W, n, pos, frames, probe = make_case(a.case, rng)
    target = np.sqrt(frames + a.eps)
    O = np.ones((H, W), complex)
    P = probe * 1.1
    costs = []
    iterate(O, P, target, pos, n, a.eps)  # warm-up (allocations, FFT plan caches)
    t0 = time.perf_counter()
    for _ in range(a.iters):
        costs.append(iterate(O, P, target, pos, n, a.eps))
    dt = time.perf_counter() - t0
    print(f"numpy {a.case}: {a.iters} iterations, {a.iters / dt:.2f} iterations/s (double, 1 thread), "
          f"cost {costs[0]:.4e} -> {costs[-1]:.4e}")


if __name__ == "__main__":
    main()
