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

The equations are :func:`squeezeseg.nn.crf.mean_field` (the Keras layer takes its window offsets
and Gaussian weights from here): ``x <- unary - (A q) @ ang_compat - (B q) @ bi_compat`` with
``q = softmax(x)``, ``A`` the angular and ``B`` the bilateral messages over the neighbours of each
pixel (zeros outside the image, bilateral weights times both pixels' masks).

The compiled loops are :mod:`squeezeseg.crf_loops`; their machine code is cached on disk like the
projection kernels'. Importing numba and loading it costs about a second once per process, so this
module does not import them: :meth:`CRFKernel.warm_up` loads them in a thread of their own (the
runners start it when they open a model, and the first scan is read and projected meanwhile), and
the first call waits for it.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from squeezeseg.errors import InputError

#: Key of the CRF parameters in an exported model's description (squeezeseg.export.meta).
META_CRF = "crf_kernel"


def window_offsets(size) -> list[tuple[int, int]]:
    """(drow, dcol) of every neighbour of a ``size`` window, centre excluded, row-major."""
    kh, kw = size
    return [(dy, dx) for dy in range(-(kh // 2), kh // 2 + 1) for dx in range(-(kw // 2), kw // 2 + 1)
            if (dy, dx) != (0, 0)]


def angular_weights(size, theta) -> np.ndarray:
    """(K, C) angular Gaussian weight of each neighbour offset for each class."""
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
        self._local = threading.local()
        self._loops = None
        self._warming: threading.Thread | None = None

    def warm_up(self) -> None:
        """Import the compiled loops and load their machine code in a background thread (once)."""
        if self._loops is None and self._warming is None:
            self._warming = threading.Thread(target=self._try_loading, name="crf-warm-up", daemon=True)
            self._warming.start()

    def _try_loading(self) -> None:
        with contextlib.suppress(Exception):  # the first call loads them again and raises it there
            self._load_loops()

    def _load_loops(self) -> None:
        """Import :mod:`squeezeseg.crf_loops` and run it once on a tiny window (loads the machine code)."""
        from squeezeseg import crf_loops

        c, (kh, kw) = self.ang.shape[1], self.size
        h, w = kh + 1, kw + 1
        loaded, self._loops = self._loops, crf_loops
        try:
            self._strip(np.zeros((1, h, w, c), np.float32), np.zeros((1, h, w, 6), np.float32),
                        np.empty((1, h, w, c), np.float32), 0, 0, w)
        except BaseException:
            self._loops = loaded
            raise

    def _compiled(self):
        """The compiled loops, waiting for :meth:`warm_up` if it runs (or loading them now). The
        warm-up sets ``_loops`` before its trial window, so a running one is always joined (at once
        when it has ended) rather than trusted from ``_loops``."""
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join()
        if self._loops is None:  # no warm-up, or it failed: load here (its error is raised here)
            self._load_loops()
        return self._loops

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
        if len(size) != 2 or min(size) < 1 or any(n != c for n in shapes) or kernel.mean.shape != (3,) \
                or kernel.inv_std.shape != (3,):
            raise InputError("damaged CRF description in the exported model (shapes disagree)", source)
        numbers = (kernel.inv_std, kernel.inv_2r2, kernel.mean, ang_compat, bi_compat)
        if kernel.iterations < 0 or size[0] % 2 == 0 or size[1] % 2 == 0 \
                or not all(np.isfinite(v).all() for v in numbers):
            raise InputError("damaged CRF description in the exported model (iterations, window size, or a "
                             "zero or non-finite std, theta_r or weight)", source)
        return kernel

    def __call__(self, logits: np.ndarray, raw: np.ndarray) -> np.ndarray:
        logits = np.ascontiguousarray(logits, np.float32)
        raw = np.ascontiguousarray(raw, np.float32)
        if logits.ndim != 4 or logits.shape[-1] != self.ang.shape[1] or logits.shape[:3] != raw.shape[:3]:
            raise ValueError(f"CRF: logits {logits.shape} do not fit the input {raw.shape}")
        out = np.empty_like(logits)
        if logits.shape[0] == 0:
            return out
        self._compiled()
        tasks = self._strips(logits.shape[0], logits.shape[2])
        if len(tasks) == 1 or self.threads == 1:
            for task in tasks:
                self._strip(logits, raw, out, *task)
        else:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="crf")
            pending = [self._pool.submit(self._strip, logits, raw, out, *t) for t in tasks[1:]]
            self._strip(logits, raw, out, *tasks[0])  # this thread takes a share too
            for f in pending:
                f.result()
        return out

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

    def _strip(self, logits: np.ndarray, raw: np.ndarray, out: np.ndarray, b: int, lo: int,
               hi: int) -> None:
        """Refined logits of columns ``lo:hi`` of window ``b`` into ``out`` (B, H, W, C)."""
        loops, (h, width, c) = self._loops, logits.shape[1:]
        a, z = max(0, lo - self.halo), min(width, hi + self.halo)
        unary, planes = np.empty((c, h, z - a), np.float32), np.empty((4, h, z - a), np.float32)
        loops.window_inputs(logits[b], raw[b], self.mean, self.inv_std, a, z, unary, planes)
        res = np.empty_like(unary)
        loops.crf_window(unary, planes, self._offsets, self.ang, self.bi_ang, self._uniq, self._which,
                         self.ang_compat, self.bi_compat, int(self.iterations), self.size[0] // 2,
                         self.size[1] // 2, res, *self._scratch(c, h, z - a))
        loops.window_output(res, a, lo, hi, out[b])

    def _scratch(self, c: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """This thread's zeroed scratch buffers of :func:`squeezeseg.crf_loops.crf_window` for a
        (c, h, w) window, made once per size and thread (fresh pages cost more than the reuse)."""
        buffers = self._local.__dict__.setdefault("buffers", {})
        if (c, h, w) not in buffers:
            ph, pw = self.size[0] // 2, self.size[1] // 2
            buffers[c, h, w] = (np.zeros((len(self._offsets) // 2, len(self._uniq), h + 2 * ph, w + 2 * pw),
                                         np.float32), np.zeros((c, h + 2 * ph, w + 2 * pw), np.float32))
        return buffers[c, h, w]
