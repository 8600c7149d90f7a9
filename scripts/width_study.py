"""Which width of SqueezeSegV2 to ship: latency, INT8 and training cost per width multiplier, in one run.

For the shipped config (``configs/models/squeezesegv2_small_aug.yaml``) with only ``width_multiplier``
changed (default 0.25, 0.375, 0.5, 0.75, 1.0), each built fresh with seed 0, its batch norm and
context-gate biases set from 8 calibration frames (:func:`init_from_data`: as built, XNNPACK refuses its
INT8 file), this measures:

* parameters and the ``.keras`` file size (the weights limit of issue #19 is 5 MB);
* on one real 64x512 window, timed in turn in every round (median of ``--repeat`` interleaved rounds,
  ``bench_int8.interleaved_ms``, the timing ``scripts/bench_infer.py`` and
  ``scripts/profile_int8_parts.py`` use): the float Keras model as ``squeezeseg.load_model`` runs it
  (folded batch norm, XLA-fused CRF), its LiteRT float32 and INT8 exports as ``squeezeseg export``
  writes them by default (the CRF after the network as the compiled kernel; INT8 calibrated on
  ``--count`` frames, half simulated training scans of ``runs/sim2_kr200``, half unlabelled real KITTI
  object scans, as bench_infer does), and a plain SqueezeSeg (full width, no CRF) as the reference of
  the 1.25x limit;
* a full scan as ``squeezeseg infer`` handles it with its default engine (the float32 LiteRT copy):
  reading the scan, projecting it, its 4 windows in one batch through the network and the CRF,
  unprojection, instance grouping and the ``.label`` file, one after another (``infer`` overlaps the
  reading and writing with the network, so its marginal per scan is at most this);
* training: a few steps of ``squeezeseg.train.train`` (batch 8, 128-column crops, the config's
  augmentation and data pipeline on ``runs/sim2_kr200``), median time per step after the first, and
  what 4,000 steps would take at that rate;
* the shipped trained model too (unless ``--no-shipped``), to show that fresh weights time like
  trained ones.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python scripts/width_study.py [--widths 0.25 0.5 1.0]
        [--repeat 15] [--count 16] [--train-steps 8] [--threads N] [--no-shipped] [--json runs/width/F.json]

Thread settings are bench_infer's: LiteRT on ``squeezeseg.runtime.default_threads()`` threads (every
core unless ``$SQUEEZESEG_THREADS``), the CRF kernel on one, TensorFlow on its defaults; ``--threads N``
puts LiteRT and TensorFlow on N (with 1, the CPU time per call, also recorded, is the work itself
whatever else runs on the machine). Besides the medians, the minimum of the rounds is recorded.
``uptime`` is recorded before and after. Writes a JSON under ``runs/width/`` and prints markdown tables
(medians, minima, CPU time); docs/models.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

CONFIG = "squeezesegv2_small_aug"
WIDTHS = (0.25, 0.375, 0.5, 0.75, 1.0)
PLAIN = "plain_squeezeseg"
SHIPPED = "shipped"
#: Issue #19 item 5 and issue #21 items 2 and 4, as limits on this study's columns.
TARGETS = {"int8_ratio": 0.45, "crf_vs_plain": 1.25, "scan_ms": 150.0, "keras_mb": 5.0}
TRAIN_STEPS_PLANNED = 4000
WARMUP = 3  # untimed calls of each callable before the rounds (bench_int8.interleaved_ms)
INIT_FRAMES = 8  # calibration frames that set a fresh model's batch norm and gates (init_from_data)


def tag(width: float) -> str:
    """The key of one width in the timing and result dicts, e.g. ``w0.375``."""
    return f"w{width:g}"


# ------------------------------------------------------------------------------------ the summary
def width_rows(lat: dict[str, float], facts: dict[str, dict], widths: Sequence[float]) -> list[dict]:
    """One row per width from the interleaved medians ``lat`` (keys ``<tag>/keras``, ``/litert_f32``,
    ``/litert_int8``, ``/scan``, and ``plain_squeezeseg/keras``) and the per-width ``facts`` (params,
    sizes, training step): the ratios the limits are stated in (INT8 over float Keras of the same
    model; the model with its CRF over the plain SqueezeSeg) and the minutes 4,000 steps would take."""
    plain = lat[f"{PLAIN}/keras"]
    rows = []
    for w in widths:
        t, f = tag(w), facts[tag(w)]
        keras_ms = lat[f"{t}/keras"]
        step = f.get("train_step_ms")
        rows.append({
            "width": w, "params": f["params"], "keras_mb": f["keras_mb"], "keras_ms": keras_ms,
            "litert_f32_ms": lat[f"{t}/litert_f32"], "litert_int8_ms": lat[f"{t}/litert_int8"],
            "int8_ratio": lat[f"{t}/litert_int8"] / keras_ms,
            "f32_ratio": lat[f"{t}/litert_f32"] / keras_ms,
            "crf_vs_plain": keras_ms / plain, "scan_ms": lat[f"{t}/scan"],
            "train_step_ms": step,
            "train_4000_min": None if step is None else step * TRAIN_STEPS_PLANNED / 60_000,
        })
    return rows


def narrowest(rows: Sequence[dict], key: str, limit: float) -> dict | None:
    """The row of the narrowest width whose ``key`` is at most ``limit``, or None."""
    ok = [r for r in rows if r[key] is not None and r[key] <= limit]
    return min(ok, key=lambda r: r["width"]) if ok else None


def verdict(rows: Sequence[dict]) -> dict:
    """The narrowest width at which INT8 meets its limit, and which of the other limits hold there."""
    best = narrowest(rows, "int8_ratio", TARGETS["int8_ratio"])
    if best is None:
        return {"int8_width": None, "holds": {}}
    return {"int8_width": best["width"],
            "holds": {k: best[k] <= v for k, v in TARGETS.items() if k != "int8_ratio"}}


def markdown_table(rows: Sequence[dict], lat: dict[str, float]) -> str:
    """The study's table: one line per width, then the plain SqueezeSeg reference (and the shipped
    trained model when it was timed). Limits in the header."""
    def cell(v, fmt):
        return "-" if v is None else format(v, fmt)

    lines = [
        "| width | params | .keras MB (<= 5) | Keras ms | LiteRT f32 ms | LiteRT INT8 ms "
        "| INT8 / Keras (<= 0.45) | Keras+CRF / plain SqueezeSeg (<= 1.25) "
        "| full scan ms, LiteRT f32 (<= 150) | train step ms | 4,000 steps, min |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['width']:g} | {r['params']:,} | {r['keras_mb']:.2f} | {r['keras_ms']:.1f} | "
            f"{r['litert_f32_ms']:.1f} | {r['litert_int8_ms']:.1f} | {r['int8_ratio']:.2f}x | "
            f"{r['crf_vs_plain']:.2f}x | {r['scan_ms']:.0f} | {cell(r['train_step_ms'], '.0f')} | "
            f"{cell(r['train_4000_min'], '.0f')} |")
    plain = lat[f"{PLAIN}/keras"]
    lines.append(f"| plain SqueezeSeg, width 1, no CRF | | | {plain:.1f} | | | | 1.00x | | | |")
    if f"{SHIPPED}/keras" in lat:
        k, f32, i8 = (lat[f"{SHIPPED}/{e}"] for e in ("keras", "litert_f32", "litert_int8"))
        lines.append(f"| shipped trained model (0.25) | | | {k:.1f} | {f32:.1f} | {i8:.1f} | {i8 / k:.2f}x | "
                     f"{k / plain:.2f}x | {lat[f'{SHIPPED}/scan']:.0f} | | |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ measuring
class Samples:
    """A timed callable that keeps the wall time and the process CPU time (ms) of every call, so that
    the rounds run by ``bench_int8.interleaved_ms`` also give the minimum beside its median, and the
    CPU time: on a machine shared with other jobs the minimum is the wall figure least touched by
    them, and with ``--threads 1`` the CPU time is the work itself, whatever the load."""

    def __init__(self, fn: Callable):
        self.fn, self.ms, self.cpu_ms = fn, [], []

    def __call__(self, x):
        t, c = time.perf_counter(), time.process_time()
        out = self.fn(x)
        self.ms.append(1000 * (time.perf_counter() - t))
        self.cpu_ms.append(1000 * (time.process_time() - c))
        return out

    def minimum(self) -> float:
        """The fastest timed call (the warm-up calls left out)."""
        return min(self.ms[WARMUP:])

    def cpu_median(self) -> float:
        """The median CPU time of the timed calls (all threads of this process)."""
        return statistics.median(self.cpu_ms[WARMUP:])


def width_config(width: float | None, name: str = CONFIG, crf: bool = True):
    """The model config ``name`` with only its width multiplier (when given) and CRF switch changed."""
    from squeezeseg.models import load_model_config

    cfg = load_model_config(name)
    if width is not None:
        cfg.width_multiplier = width
    cfg.crf.enabled = crf
    return cfg


def context_gates_from_data(model, x) -> int:
    """Shift the bias of every context-aggregation squeeze of ``model`` so that each hidden unit is
    active (before its ReLU) on half of the pixels of ``x``, in network order; returns how many."""
    import keras
    import numpy as np
    from keras import ops

    from squeezeseg.nn.context_aggregation import ContextAggregation

    cams = [layer for layer in model.layers if isinstance(layer, ContextAggregation)]
    for cam in cams:
        features = keras.Model(model.inputs, cam.input)(x, training=False)
        pooled = cam.pool_h(cam.pool_w(features))
        pre = ops.convert_to_numpy(ops.conv(pooled, cam.squeeze.kernel) + cam.squeeze.bias)
        median = np.median(pre.reshape(-1, pre.shape[-1]), axis=0)
        cam.squeeze.bias.assign(ops.convert_to_numpy(cam.squeeze.bias) - median)
    return len(cams)


def init_from_data(model, x) -> None:
    """Give a freshly built model the activation scales of a trained one on the inputs ``x``: batch
    norm statistics from the data, context-aggregation squeezes alive on half the pixels, then batch
    norm again (the gates changed what follows them).

    Why: as built, batch norm keeps mean 0 and variance 1, so the activations shrink layer after layer
    to a few millionths, and the one-unit squeeze of the first context aggregation (widths below 0.5)
    is negative on over 99 % of the pixels. TFLite's calibrated int8 scales then fall outside what
    XNNPACK accepts (output scale below input times weight scale / 256) and LiteRT runs the INT8
    model on its builtin kernels, 10x slower, which a trained model never does."""
    from domain_adapt.calibration import calibrate

    calibrate(model, x, progress=False)  # every batch norm's statistics measured on x, in network order
    context_gates_from_data(model, x)
    calibrate(model, x, progress=False)


def save_fresh(cfg, path: Path, x=None) -> int:
    """Build ``cfg`` with seed 0, initialised from the inputs ``x`` when given
    (:func:`init_from_data`), and save it to ``path``; returns its parameter count."""
    import keras

    from squeezeseg.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model(cfg)
    if x is not None:
        init_from_data(model, x)
    model.save(path)
    return int(model.count_params())


def engines(model: Path, tmp: Path, cal: list[str], count: int, scan: Path) -> dict[str, Callable]:
    """Timed callables of one ``.keras`` model: float Keras, LiteRT float32 and INT8 (the export
    defaults), and a full scan through the float32 copy as ``infer`` runs it."""
    import squeezeseg
    from squeezeseg.export.exporter import export_model

    stem = model.stem
    f32 = export_model(model, "float32", tmp / f"{stem}.f32.tflite")
    int8 = export_model(model, "int8", tmp / f"{stem}.int8.tflite", cal, count)
    segs = {"keras": squeezeseg.load_model(model, engine="keras"),
            "litert_f32": squeezeseg.load_model(f32, engine="tflite"),
            "litert_int8": squeezeseg.load_model(int8, engine="tflite")}
    fns: dict[str, Callable] = {k: s.logits for k, s in segs.items()}
    fns["scan"] = scan_fn(segs["litert_f32"], scan, tmp / f"{stem}.label")
    return fns


def scan_fn(seg, scan: Path, label: Path) -> Callable:
    """One full scan through ``seg`` the way ``squeezeseg infer`` handles it (its reader's and its
    writer's steps, here one after the other): read, project the 4 windows, one network batch, classes
    and instances of every point, the ``.label`` file."""
    from squeezeseg.classes import semantickitti_ids
    from squeezeseg.infer import _finish_and_write  # infer's writer step (private: see the docstring)
    from squeezeseg.io import read_points

    ids = semantickitti_ids(seg.classes)

    def run(_x) -> None:
        prep = seg.prepare(read_points(scan), True, scan)
        _finish_and_write(seg, prep, seg.run_batch([prep])[0], ids, label, None)

    return run


def train_step_ms(width: float, steps: int, out: Path) -> dict:
    """A few steps of ``squeezeseg.train.train`` on the config's data at ``width``: seconds to the first
    step (tracing) and the median wall time of the steps after it (data pipeline included).
    Normalisation and class weights are fixed to the config's (counting them on the data would add
    minutes and change no step)."""
    import keras

    from squeezeseg.train import train

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    cfg = width_config(width)
    cfg.train.normalization, cfg.train.class_balance = "config", 0.0
    clock = Clock()
    train(cfg, out, steps=steps, progress=False, extra_callbacks=[clock], command="scripts/width_study.py")
    gaps = [b - a for a, b in zip(clock.ends[1:], clock.ends[2:])]
    return {"first_step_s": clock.ends[1] - clock.ends[0], "train_step_ms": 1000 * statistics.median(gaps),
            "steps": steps, "batch": cfg.train.batch_size, "crop_width": cfg.train.crop_width,
            "load_average": os.getloadavg()}


def data_batch_ms(batches: int) -> float:
    """Median wall time of one training batch of the config's ``tf.data`` pipeline alone (reading,
    projection, rotation, augmentation, crop; batch 8), after the first: what a training step waits
    for when the network is faster than its input."""
    from squeezeseg.data.pipeline import make_dataset

    it = iter(make_dataset(width_config(None), training=True))
    ends = []
    for _ in range(batches + 1):
        next(it)
        ends.append(time.perf_counter())
    return 1000 * statistics.median(b - a for a, b in zip(ends, ends[1:]))


def measure(args: argparse.Namespace, tmp: Path) -> dict:
    """Everything of one run; latency first (all models interleaved), then training width by width."""
    import numpy as np
    from bench_int8 import calibration_sources, interleaved_ms

    from squeezeseg.export.calibration import mixed_inputs
    from squeezeseg.resources import default_model_path
    from squeezeseg.runtime import default_threads

    if args.threads:  # before anything builds a model: TensorFlow fixes its pools at the first op
        import tensorflow as tf

        os.environ["SQUEEZESEG_THREADS"] = str(args.threads)
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    cal = calibration_sources()
    scan = first_scan(args.scans)
    res: dict = {"config": CONFIG, "widths": list(args.widths), "calibration": cal, "count": args.count,
                 "repeat": args.repeat, "scan": str(scan), "litert_threads": default_threads(),
                 "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "threads": args.threads,
                 "facts": {}}
    meta = {"kind": "squeezeseg", "config": width_config(None).to_dict()}  # same input at every width
    frames = np.stack(mixed_inputs(cal, meta, INIT_FRAMES))
    fns: dict[str, Callable] = {}
    for w in args.widths:
        path = tmp / f"{tag(w)}.keras"
        params = save_fresh(width_config(w), path, frames)
        res["facts"][tag(w)] = {"params": params, "keras_mb": path.stat().st_size / 1e6}
        fns.update({f"{tag(w)}/{k}": f for k, f in engines(path, tmp, cal, args.count, scan).items()})
        print(f"width {w:g}: {params:,} parameters, exported", flush=True)
    plain = tmp / f"{PLAIN}.keras"
    res["facts"][PLAIN] = {"params": save_fresh(width_config(None, "squeezeseg", crf=False), plain)}
    import squeezeseg

    fns[f"{PLAIN}/keras"] = squeezeseg.load_model(plain, engine="keras").logits
    if args.shipped:
        fns.update({f"{SHIPPED}/{k}": f for k, f in
                    engines(default_model_path(), tmp, cal, args.count, scan).items()})
    x = mixed_inputs(cal[-1], meta, 1)[0][None]  # a real scan where there is one, as bench_infer
    res["load_average_timing_start"] = os.getloadavg()
    timed = {k: Samples(f) for k, f in fns.items()}
    res["latency_ms"] = interleaved_ms(timed, x, args.repeat, warmup=WARMUP)
    res["latency_min_ms"] = {k: s.minimum() for k, s in timed.items()}
    res["cpu_ms"] = {k: s.cpu_median() for k, s in timed.items()}
    res["load_average_timing_end"] = os.getloadavg()
    if args.train_steps:
        res["data_batch_ms"] = data_batch_ms(args.train_steps)
        for w in args.widths:
            res["facts"][tag(w)].update(train_step_ms(w, args.train_steps, tmp / f"train_{tag(w)}"))
            print(f"width {w:g}: training step {res['facts'][tag(w)]['train_step_ms']:.0f} ms", flush=True)
    return res


def first_scan(folder: Path) -> Path | None:
    """The first point-cloud file of ``folder`` (by name), or None."""
    from squeezeseg.io.points import is_scan

    return next((p for p in sorted(folder.iterdir()) if p.is_file() and is_scan(p)), None)


def main(argv: Sequence[str] | None = None) -> int:
    from bench_infer import DATA

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--widths", type=float, nargs="+", default=list(WIDTHS))
    ap.add_argument("--repeat", type=int, default=15, help="interleaved timing rounds (median)")
    ap.add_argument("--count", type=int, default=16, help="INT8 calibration frames")
    ap.add_argument("--train-steps", type=int, default=8, help="training steps per width (0: skip)")
    ap.add_argument("--threads", type=int, default=None,
                    help="LiteRT and TensorFlow threads (default: bench_infer's, every core)")
    ap.add_argument("--no-shipped", dest="shipped", action="store_false",
                    help="do not time the shipped trained model beside the fresh ones")
    ap.add_argument("--scans", type=Path, default=DATA / "kitti_pcd" / "data_2",
                    help="folder of full scans; its first is the full-scan case")
    ap.add_argument("--json", type=Path, default=None, help="default runs/width/width_study-<UTC time>.json")
    args = ap.parse_args(argv)
    if not args.scans.is_dir():
        print(f"{args.scans}: no such folder of scans (real data lives in ../shared/data)", file=sys.stderr)
        return 2
    if min(args.widths) <= 0 or args.repeat < 1 or args.count < 2:
        print("--widths must be positive, --repeat at least 1, --count at least 2 (two calibration sources)",
              file=sys.stderr)
        return 2
    if args.train_steps < 0 or args.train_steps == 1:
        print("--train-steps: 0 (skip) or at least 2 (the first step traces the model and is not timed)",
              file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print(f"--threads must be at least 1, got {args.threads}", file=sys.stderr)
        return 2
    if first_scan(args.scans) is None:
        print(f"{args.scans}: no point-cloud scan in it", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.json or ROOT / "runs" / "width" / f"width_study-{stamp}.json"
    from bench_int8 import uptime

    start, t0 = uptime(), time.time()
    with tempfile.TemporaryDirectory() as d:
        res = measure(args, Path(d))
    res.update({"uptime_start": start, "uptime_end": uptime(), "seconds": round(time.time() - t0, 1),
                "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime(t0))})
    rows = width_rows(res["latency_ms"], res["facts"], args.widths)
    rows_min = width_rows(res["latency_min_ms"], res["facts"], args.widths)
    rows_cpu = width_rows(res["cpu_ms"], res["facts"], args.widths)
    res.update({"rows": rows, "verdict": verdict(rows), "rows_min": rows_min,
                "verdict_min": verdict(rows_min), "rows_cpu": rows_cpu, "verdict_cpu": verdict(rows_cpu)})
    from squeezeseg.atomic import atomic_write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(res, indent=1) + "\n")
    print(f"Medians of {args.repeat} interleaved rounds:\n")
    print(markdown_table(rows, res["latency_ms"]))
    print("\nThe same from the fastest call of each:\n")
    print(markdown_table(rows_min, res["latency_min_ms"]))
    print("\nThe same in process CPU time (median):\n")
    print(markdown_table(rows_cpu, res["cpu_ms"]))
    print(f"\nverdict (medians): {res['verdict']}\nverdict (minima): {res['verdict_min']}\n"
          f"verdict (CPU time): {res['verdict_cpu']}")
    print(f"uptime before: {start}\nuptime after:  {res['uptime_end']}\n"
          f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
