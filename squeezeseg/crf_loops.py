"""The compiled loops of :mod:`squeezeseg.crf_kernel` (numba): the recurrent CRF's mean field over one
window, class-major ((C, H, W) logits, (4, H, W) x, y, z, mask planes), every inner loop along a
contiguous row so that LLVM vectorises it.

Imported only when a CRF runs after an exported network (numba's import and the cache load take
about a second). The machine code is cached on disk next to this file, or compiled in memory where
no cache directory is writable. ``fastmath`` is limited to ``contract`` (fused multiply-adds);
``nogil`` lets windows run on several threads.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"nogil": True, "error_model": "numpy", "fastmath": {"contract"}}


def _kernel(fn):
    """``numba.njit`` with the on-disk cache, or compiled in memory where no cache is writable."""
    try:
        return numba.njit(cache=True, **_JIT)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(cache=False, **_JIT)(fn)


_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)


@_kernel
def exp_inplace(x, bits):
    """``x = exp(x)`` in place for a 1-D float32 array (``bits``: int32 scratch of the same length),
    written so that LLVM vectorises it (numba's ``np.exp`` is a scalar libm call per element):
    Cephes' single-precision range reduction and polynomial (about 1 ulp), 2^n from its exponent
    bits. Arguments below -87 give 0, as float32 underflows there; above 88 they saturate."""
    n_el = x.shape[0]
    for i in range(n_el):
        v = min(max(x[i], np.float32(-87.0)), np.float32(88.0))
        n = np.floor(v * _LOG2E + np.float32(0.5))
        r = v - n * _LN2_HI - n * _LN2_LO
        p = np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        p = p * r * r + r + np.float32(1.0)
        bits[i] = (np.int32(n) + np.int32(127)) << np.int32(23)
        x[i] = p if x[i] >= np.float32(-87.0) else np.float32(0.0)
    scale = bits.view(np.float32)
    for i in range(n_el):
        x[i] *= scale[i]


@_kernel
def _bilateral_half(planes, offsets, inv_uniq, ph, pw, out):
    """``out[k', u, ph + i, pw + j]``: ``exp(-|xyz_q - xyz_p|^2 inv_uniq[u]) * mask_p * mask_q`` for
    pixel p = (i, j) and its neighbour q at the k'-th offset after the centre, zero outside the image
    (``out`` comes zeroed, padded by the window). Times ``bi_ang[k, c]`` it is the bilateral weight of
    the classes c whose ``inv_2r2`` is ``inv_uniq[u]``; the offsets before the centre are the same
    values read at the neighbour (the kernel is symmetric)."""
    H, W = planes.shape[1], planes.shape[2]
    K2 = offsets.shape[0] // 2
    U = inv_uniq.shape[0]
    d = np.empty(W, np.float32)
    m = np.empty(W, np.float32)
    bits = np.empty(W, np.int32)
    for kk in range(K2):
        dy, dx = offsets[K2 + kk, 0], offsets[K2 + kk, 1]
        j0, j1 = max(0, -dx), min(W, W - dx)
        n = j1 - j0
        for i in range(max(0, -dy), min(H, H - dy)):
            i2 = i + dy
            for t in range(n):
                j = j0 + t
                a = planes[0, i2, j + dx] - planes[0, i, j]
                b = planes[1, i2, j + dx] - planes[1, i, j]
                c = planes[2, i2, j + dx] - planes[2, i, j]
                d[t] = a * a + b * b + c * c
                m[t] = planes[3, i, j] * planes[3, i2, j + dx]
            for u in range(U):
                row = out[kk, u, ph + i, pw + j0: pw + j1]
                for t in range(n):
                    row[t] = -d[t] * inv_uniq[u]
                exp_inplace(row, bits[:n])
                for t in range(n):
                    row[t] *= m[t]


@_kernel
def _softmax(x, ph, pw, q, z, bits):
    """Softmax over the classes of every pixel of ``x`` (C, H, W) into the padded ``q``."""
    C, H, W = x.shape
    top = np.empty(W, np.float32)
    total = np.empty(W, np.float32)
    for i in range(H):
        top[:] = x[0, i]
        for c in range(1, C):
            row = x[c, i]
            for j in range(W):
                top[j] = max(top[j], row[j])
        for c in range(C):
            row = x[c, i]
            for j in range(W):
                z[c * W + j] = row[j] - top[j]
        exp_inplace(z, bits)
        total[:] = z[:W]
        for c in range(1, C):
            for j in range(W):
                total[j] += z[c * W + j]
        for j in range(W):
            total[j] = np.float32(1.0) / total[j]
        for c in range(C):
            dst = q[c, ph + i]
            for j in range(W):
                dst[pw + j] = z[c * W + j] * total[j]


@_kernel
def crf_window(unary, planes, offsets, ang, bi_ang, inv_uniq, which, ang_compat, bi_compat,
                iterations, ph, pw, out, half, q):
    """``iterations`` mean-field updates of one window's ``unary`` logits (C, H, W) given its points
    (``planes``: x, y, z, mask; (4, H, W)); the result goes to ``out`` (C, H, W).

    ``half`` ((K/2, U, H + 2 ph, W + 2 pw)) and ``q`` ((C, H + 2 ph, W + 2 pw)) are scratch buffers,
    zero where a window of this size never writes (their padding): zeroed once, they can be reused by
    every call of the same size without the cost of fresh pages.
    """
    C, H, W = unary.shape
    _bilateral_half(planes, offsets, inv_uniq, ph, pw, half)
    z = np.empty(C * W, np.float32)
    bits = np.empty(C * W, np.int32)
    a = np.empty((C, W), np.float32)
    b = np.empty((C, W), np.float32)
    out[:] = unary
    for _ in range(iterations):
        _softmax(out, ph, pw, q, z, bits)
        for i in range(H):
            _messages(q, half, offsets, ang, bi_ang, which, i, ph, pw, a, b)
            for c in range(C):
                row = out[c, i]
                row[:] = unary[c, i]
                for e in range(C):
                    ca, cb = ang_compat[e, c], bi_compat[e, c]
                    ae, be = a[e], b[e]
                    for j in range(W):
                        row[j] -= ae[j] * ca + be[j] * cb


@_kernel
def _messages(q, half, offsets, ang, bi_ang, which, i, ph, pw, a, b):
    """Angular (``a``) and bilateral (``b``) messages (C, W) to the pixels of row ``i`` from the
    softmax ``q`` of their neighbours (``half``: :func:`_bilateral_half`)."""
    C, W = a.shape
    K = offsets.shape[0]
    K2 = K // 2
    a[:] = 0.0
    b[:] = 0.0
    for k in range(K):
        dy, dx = offsets[k, 0], offsets[k, 1]
        for c in range(C):
            src = q[c, ph + i + dy, pw + dx: pw + dx + W]
            u = which[c]
            if k >= K2:
                wrow = half[k - K2, u, ph + i, pw: pw + W]
            else:
                wrow = half[K - 1 - k - K2, u, ph + i + dy, pw + dx: pw + dx + W]
            coef, bcoef = ang[k, c], bi_ang[k, c]
            ac, bc = a[c], b[c]
            for j in range(W):
                ac[j] += src[j] * coef
                bc[j] += src[j] * bcoef * wrow[j]


@_kernel
def window_inputs(logits, raw, mean, inv_std, a, z, unary, planes):
    """Columns ``a:z`` of one window in the loops' layout: ``unary`` (C, H, z - a) from the network's
    (H, W, C) ``logits``, ``planes`` (4, H, z - a) x, y, z normalised as the network does (zero where
    empty) and the mask from the (H, W, 6) raw input (what the Keras model's ``crf_points`` feeds its
    CRF)."""
    H = logits.shape[0]
    C = logits.shape[2]
    for i in range(H):
        for j in range(a, z):
            m = raw[i, j, 5]
            for k in range(3):
                planes[k, i, j - a] = (raw[i, j, k] - mean[k]) * inv_std[k] * m
            planes[3, i, j - a] = m
            for c in range(C):
                unary[c, i, j - a] = logits[i, j, c]


@_kernel
def window_output(res, offset, lo, hi, out):
    """Columns ``lo:hi`` of a window's refined logits, read from ``res`` (C, H, w) whose first column
    is ``offset``, into ``out`` (H, W, C)."""
    C, H = res.shape[0], res.shape[1]
    for i in range(H):
        for j in range(lo, hi):
            for c in range(C):
                out[i, j, c] = res[c, i, j - offset]
