"""The recurrent CRF of :mod:`squeezeseg.nn.crf` as one compiled loop (numba), for exported models.

Why: exported as graph ops, the CRF's mean field is 221 small elementwise ops (77 strided slices,
58 multiplies, 39 adds, 19 convolutions, 10 exponentials ...) that LiteRT's XNNPACK runs as separate
passes over a 64x512x4 tensor: 13-31 ms on this CPU, more than the whole INT8 backbone, and its
softmax cannot be quantized (an int8 divisor reaches its zero point). Here the same arithmetic runs
pixel by pixel: the bilateral weights of every neighbour once per input (half of them, the kernel is
symmetric; one exponential per distinct ``theta_r``), then each iteration a softmax and both message
sums over the ``size`` window in one pass. A model exported without its CRF carries the CRF's
parameters in its description (:func:`crf_description`); the LiteRT and ONNX runners apply
:class:`CRFKernel` to the network's logits, so labels match the Keras model within float tolerance.

The equations are :func:`squeezeseg.nn.crf.mean_field` (whose window offsets and Gaussian weights
this module reuses): ``x <- unary - (A q) @ ang_compat - (B q) @ bi_compat`` with ``q = softmax(x)``,
``A`` the angular and ``B`` the bilateral messages over the neighbours of each pixel (zeros outside
the image, bilateral weights times both pixels' masks).

The machine code is cached on disk like the projection kernels' (``squeezeseg.projection_kernels``);
importing numba and loading it costs about a second once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from squeezeseg.errors import InputError

#: Key of the CRF parameters in an exported model's description (squeezeseg.export.meta).
META_CRF = "crf_kernel"
_JIT = {"nogil": True, "error_model": "numpy", "fastmath": {"contract"}}  # contract: fused multiply-adds


def _kernel(fn):
    """``numba.njit`` with the on-disk cache, or compiled in memory where no cache is writable."""
    try:
        return numba.njit(cache=True, **_JIT)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(cache=False, **_JIT)(fn)


def window_offsets(size) -> list[tuple[int, int]]:
    """(drow, dcol) of every neighbour of a ``size`` window, centre excluded (as the Keras layer)."""
    kh, kw = size
    return [(dy, dx) for dy in range(-(kh // 2), kh // 2 + 1) for dx in range(-(kw // 2), kw // 2 + 1)
            if (dy, dx) != (0, 0)]


def angular_weights(size, theta) -> np.ndarray:
    """(K, C) Gaussian weight of each neighbour offset per class (the Keras layer's function)."""
    offs = np.array(window_offsets(size), dtype=np.float64)
    d2 = (offs**2).sum(1)[:, None]
    return np.exp(-d2 / np.asarray(theta, dtype=np.float64)[None, :] ** 2).astype(np.float32)


def crf_description(crf_config: dict[str, Any], ang_compat: np.ndarray, bi_compat: np.ndarray,
                    mean: list[float], std: list[float]) -> dict[str, Any]:
    """What an exported model without its CRF stores to have the CRF applied after it: the CRF config
    (``ModelConfig.crf`` as a dict), the trained compatibility matrices and the input statistics the
    CRF's points are normalised with."""
    return {
        "config": dict(crf_config),
        "angular_compatibility": np.asarray(ang_compat, np.float32).tolist(),
        "bilateral_compatibility": np.asarray(bi_compat, np.float32).tolist(),
        "mean": [float(v) for v in mean[:3]],
        "std": [float(v) for v in std[:3]],
    }


@dataclass
class CRFKernel:
    """The mean field of a trained CRF: call with (B, H, W, C) logits and the (B, H, W, 6) raw network
    input (x, y, z, intensity, range, mask) it came from; returns the refined (B, H, W, C) logits.

    ``threads`` windows or column strips run at once (the loops release the GIL). A strip is computed
    with ``iterations`` times the window's half width of neighbouring columns on each side, the
    farthest a pixel's result reaches back, so strips give exactly the values of the whole window.
    """

    iterations: int
    size: tuple[int, int]
    ang: np.ndarray  # (K, C) angular kernel
    bi_ang: np.ndarray  # (K, C) angular part of the bilateral kernel
    inv_2r2: np.ndarray  # (C,) 1 / (2 theta_r^2)
    ang_compat: np.ndarray  # (C, C)
    bi_compat: np.ndarray  # (C, C)
    mean: np.ndarray  # (3,) x, y, z statistics of the input normalisation
    inv_std: np.ndarray  # (3,)
    threads: int = 1

    def __post_init__(self) -> None:
        self._offsets = np.array(window_offsets(self.size), np.int64).reshape(-1, 2)
        uniq, which = np.unique(self.inv_2r2, return_inverse=True)
        self._uniq, self._which = uniq.astype(np.float32), which.astype(np.int64).ravel()
        self._pool = None

    @classmethod
    def from_description(cls, desc: dict[str, Any], source=None, threads: int = 1) -> CRFKernel:
        """The kernel of a :func:`crf_description`; InputError naming ``source`` when it is damaged."""
        try:
            cfg = desc["config"]
            size = tuple(int(s) for s in cfg["size"])
            ang_compat = np.asarray(desc["angular_compatibility"], np.float32)
            bi_compat = np.asarray(desc["bilateral_compatibility"], np.float32)
            c = ang_compat.shape[0]
            kernel = cls(
                iterations=int(cfg["iterations"]),
                size=size,
                ang=angular_weights(size, cfg["angular_theta_a"]),
                bi_ang=angular_weights(size, cfg["bilateral_theta_a"]),
                inv_2r2=(0.5 / np.asarray(cfg["bilateral_theta_r"], np.float64) ** 2).astype(np.float32),
                ang_compat=ang_compat,
                bi_compat=bi_compat,
                mean=np.asarray(desc["mean"], np.float32),
                inv_std=(1.0 / np.asarray(desc["std"], np.float32)).astype(np.float32),
                threads=max(1, int(threads)),
            )
        except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError) as exc:
            raise InputError(f"damaged CRF description in the exported model ({exc!r})", source) from None
        shapes = (kernel.ang.shape[1], kernel.bi_ang.shape[1], len(kernel.inv_2r2), *bi_compat.shape,
                  ang_compat.shape[1])
        if len(size) != 2 or min(size) < 1 or any(n != c for n in shapes) or kernel.mean.shape != (3,):
            raise InputError("damaged CRF description in the exported model (shapes disagree)", source)
        return kernel

    def planes(self, raw: np.ndarray) -> np.ndarray:
        """(B, 4, H, W) x, y, z as normalised by the network (zero where empty) and the mask, from a
        (B, H, W, 6) raw input: what the Keras model's ``crf_points`` layer feeds its CRF."""
        raw = np.asarray(raw, np.float32)
        mask = raw[..., 5]
        out = np.empty((raw.shape[0], 4, *raw.shape[1:3]), np.float32)
        for k in range(3):
            np.multiply((raw[..., k] - self.mean[k]) * self.inv_std[k], mask, out=out[:, k])
        out[:, 3] = mask
        return out

    def __call__(self, logits: np.ndarray, raw: np.ndarray) -> np.ndarray:
        logits = np.asarray(logits, np.float32)
        if logits.ndim != 4 or logits.shape[-1] != self.ang.shape[1] or logits.shape[:3] != raw.shape[:3]:
            raise ValueError(f"CRF: logits {logits.shape} do not fit the input {raw.shape}")
        unary = np.ascontiguousarray(np.moveaxis(logits, -1, 1))  # (B, C, H, W): rows of one class
        planes = self.planes(raw)
        out = np.empty_like(unary)
        tasks = self._strips(*unary.shape[::3])
        if len(tasks) == 1 or self.threads == 1:
            for task in tasks:
                self._strip(unary, planes, out, *task)
        else:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="crf")
            pending = [self._pool.submit(self._strip, unary, planes, out, *t) for t in tasks[1:]]
            self._strip(unary, planes, out, *tasks[0])  # this thread takes a share too
            for f in pending:
                f.result()
        return np.moveaxis(out, 1, -1)

    def _strips(self, batch: int, width: int) -> list[tuple[int, int, int]]:
        """(window, first column, end column) of the pieces to compute: whole windows, or each window
        cut into column strips when there are fewer windows than threads."""
        per = -(-self.threads // batch) if batch < self.threads else 1
        per = max(1, min(per, width // max(1, 4 * self.halo)))  # strips much wider than their halo
        cuts = np.linspace(0, width, per + 1).round().astype(int)
        return [(b, int(lo), int(hi)) for b in range(batch) for lo, hi in zip(cuts[:-1], cuts[1:])]

    @property
    def halo(self) -> int:
        """Columns a pixel's refined logits depend on, each side: the window's half width per iteration."""
        return self.iterations * (self.size[1] // 2)

    def _strip(self, unary: np.ndarray, planes: np.ndarray, out: np.ndarray, b: int, lo: int,
               hi: int) -> None:
        """Refined logits of columns ``lo:hi`` of window ``b`` into ``out``."""
        width = unary.shape[3]
        a, z = max(0, lo - self.halo), min(width, hi + self.halo)
        u = np.ascontiguousarray(unary[b, :, :, a:z])
        res = np.empty_like(u)
        _crf_window(u, np.ascontiguousarray(planes[b, :, :, a:z]), self._offsets, self.ang, self.bi_ang,
                    self._uniq, self._which, self.ang_compat, self.bi_compat, int(self.iterations),
                    self.size[0] // 2, self.size[1] // 2, res)
        out[b, :, :, lo:hi] = res[:, :, lo - a: hi - a]


_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)


@_kernel
def _exp(x, bits):
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
                _exp(row, bits[:n])
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
        _exp(z, bits)
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
def _crf_window(unary, planes, offsets, ang, bi_ang, inv_uniq, which, ang_compat, bi_compat,
                iterations, ph, pw, out):
    """``iterations`` mean-field updates of one window's ``unary`` logits (C, H, W) given its points
    (``planes``: x, y, z, mask; (4, H, W)); the result goes to ``out`` (C, H, W)."""
    C, H, W = unary.shape
    K = offsets.shape[0]
    K2 = K // 2
    half = np.zeros((K2, inv_uniq.shape[0], H + 2 * ph, W + 2 * pw), np.float32)
    _bilateral_half(planes, offsets, inv_uniq, ph, pw, half)
    q = np.zeros((C, H + 2 * ph, W + 2 * pw), np.float32)
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
