"""Dataset generation: many sequences of many frames written in one layout, deterministic for a
seed, in parallel worker processes, resumable (finished frames are skipped), and refusing to mix
with a different dataset already in the output folder (``lidarsim.json`` records the parameters and a
fingerprint of the simulator's code, so frames made by an older simulator are never mixed with, or
passed off as, frames of the current one)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing as mp
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from simulation.dropout import DropoutMap, check_dropout_map, resolve_dropout
from simulation.layouts import LAYOUTS
from simulation.sequence import SequenceSimulator
from simulation.writers import STATE_DIR, make_writer
from squeezeseg.atomic import atomic_write_text
from squeezeseg.errors import InputError
from squeezeseg.sensors import SensorConfig, load_sensor

log = logging.getLogger(__name__)
MANIFEST = "lidarsim.json"
FORMAT_VERSION = 1


def simulator_fingerprint(sensor: SensorConfig) -> str:
    """``sha1:`` + 12 hex digits over the source and data files of the imported ``simulation`` package
    and the sensor's configuration: what decides the frames besides the arguments. Pinned copies of
    the package (``train_default_model.py --simulator-commit``) hash as their own files."""
    h = hashlib.sha1(repr(sensor).encode())
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".json", ".yaml", ".npz") and "__pycache__" not in f.parts:
            h.update(f.relative_to(pkg).as_posix().encode() + b"\0" + f.read_bytes())
    return "sha1:" + h.hexdigest()[:12]


def _params(sensor, frames, sequences, seed, layout, camera, dropout, intensity, density, simulator) -> dict:
    return {
        "format": FORMAT_VERSION,
        "simulator": simulator,
        "sensor": sensor,
        "frames": frames,
        "sequences": sequences,
        "seed": seed,
        "layout": layout,
        "camera": camera,
        "dropout": dropout,
        "intensity": intensity,
        "density": density,
    }


MAX_DENSITY = 10.0


def check_arguments(frames, sequences, seed, layout: str, workers, density) -> None:
    """Refuse a bad argument before anything is written (InputError naming it)."""
    for name, v in (("frames", frames), ("sequences", sequences), ("workers", workers)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v <= 0:
            raise InputError(f"--{name} must be a positive integer, got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63:
        raise InputError(f"--seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout '{layout}' (choose from {', '.join(LAYOUTS)})")
    try:
        ok = math.isfinite(density) and 0 < density <= MAX_DENSITY
    except TypeError:
        ok = False
    if not ok:
        raise InputError(f"--density must be a number in (0, {MAX_DENSITY:g}], got {density!r}")


def _check_out(out: Path, params: dict) -> None:
    """Create ``out`` or check that it holds the same dataset (so a resume cannot mix two)."""
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", out)
    if manifest.is_file():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict):
            raise InputError("corrupt lidarsim.json: remove the folder or pick another --out", manifest)
        diff = [f"{k}: {old.get(k)!r} there, {v!r} asked" for k, v in params.items() if old.get(k) != v]
        if diff:
            raise InputError("holds a different dataset (" + "; ".join(diff) + "); pick another --out", out)
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise InputError("cannot write the output folder: permission denied", out)
    if manifest.is_file():
        return
    if out.is_dir() and any(out.iterdir()):
        raise InputError(
            "is not empty and holds no lidarsim.json: not a simulator dataset, pick another --out", out
        )
    try:
        atomic_write_text(manifest, json.dumps(params, indent=1, allow_nan=False) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write the output folder: {exc.strerror or exc}", out) from None


def _remove_stale_temporaries(out: Path) -> None:
    """Delete the temporary files an interrupted run left behind (atomic writes never finished)."""
    for tmp in out.rglob(".*.tmp*"):
        if tmp.is_file():
            log.debug("removing leftover %s", tmp)
            tmp.unlink(missing_ok=True)


_LAST_SIMULATOR: dict[str, SequenceSimulator] = {}


def _simulator(params: dict, sensor: SensorConfig, seq: int, dropout: DropoutMap | None) -> SequenceSimulator:
    """The simulator of sequence ``seq``, kept for the next chunk of the same sequence: a sequence's
    frames come in chunks of up to 10, and making its scene (and the static mesh's BVH on the first
    cast) anew for each chunk cost about as much as simulating the chunk's frames. Deterministic: the
    scene depends on (seed, sequence) only, and frames do not depend on each other."""
    key = json.dumps([params, sensor.name, seq], sort_keys=True)
    sim = _LAST_SIMULATOR.get(key)
    if sim is None:
        _LAST_SIMULATOR.clear()  # one sequence at a time: chunks of a sequence are consecutive
        sim = SequenceSimulator(
            sensor,
            params["frames"],
            params["seed"],
            seq,
            camera=params["camera"],
            intensity=params["intensity"],
            dropout=dropout if params["layout"] != "squeezeseg" else None,
            density=params["density"],
        )
        _LAST_SIMULATOR[key] = sim
    return sim


def _frames(
    params: dict, sensor: SensorConfig, out: str, seq: int, frames: list[int], dropout: DropoutMap | None
) -> Iterator[int]:
    """Simulate and write ``frames`` of sequence ``seq``, yielding each frame number when written."""
    layout = params["layout"]
    writer = make_writer(layout, Path(out), params["frames"], params["sequences"], params["camera"], sensor)
    sim = _simulator(params, sensor, seq, dropout)
    for k in frames:
        frame = sim.frame(k)
        rng = np.random.default_rng([params["seed"], seq, k, 3])
        writer.write(frame, dropout_rng=rng, dropout=dropout if layout == "squeezeseg" else None)
        yield k


def _run(
    params: dict,
    sensor: SensorConfig,
    out: str,
    seq: int,
    frames: list[int],
    dropout: DropoutMap | None,
    package: str,
) -> list[int]:
    """Worker process: all of :func:`_frames`, by the same ``simulation`` package as the parent's (a
    worker that imported another copy, e.g. the working tree's instead of a pinned one, would write
    another simulator's frames under the parent's fingerprint)."""
    here = str(Path(__file__).resolve().parent)
    if here != package:
        raise RuntimeError(f"simulator worker imported simulation from {here}, the parent from {package}")
    return list(_frames(params, sensor, out, seq, frames, dropout))


def generate_dataset(
    out_dir: str | Path,
    sensor: str = "hdl64e",
    frames: int = 10,
    sequences: int = 1,
    seed: int = 0,
    layout: str = "kitti-raw",
    camera: bool = True,
    dropout: DropoutMap | str | float | None = None,
    intensity: bool = True,
    workers: int = 1,
    density: float = 1.0,
    progress: bool = True,
) -> Path:
    """Simulate ``sequences`` x ``frames`` labelled frames into ``out_dir`` in ``layout`` and return it.

    Runs again with the same arguments resume: finished frames are skipped. ``dropout`` is a saved
    map (path), a :class:`DropoutMap`, or a uniform rate in [0, 1); ``intensity=False`` writes zero
    intensity as in the papers' simulated data.
    """
    sensor_cfg = load_sensor(sensor)
    check_arguments(frames, sequences, seed, layout, workers, density)
    if layout == "squeezeseg" and sensor_cfg.beams != 64:
        log.info(
            "squeezeseg layout with a %d-beam sensor: images are %d x 512", sensor_cfg.beams, sensor_cfg.beams
        )
    if layout == "squeezeseg":
        camera = False  # range images only: rendering would be wasted
    dmap = resolve_dropout(dropout, sensor_cfg)
    if dmap is not None:
        check_dropout_map(dmap, sensor_cfg, layout)
    dropout_id = None if dmap is None else "sha1:" + hashlib.sha1(dmap.prob.tobytes()).hexdigest()[:12]
    if layout == "squeezeseg" and dmap is not None and dmap.prob.shape[1] == 1:
        dmap = DropoutMap(np.repeat(dmap.prob, 512, axis=1), 90.0, 0, dmap.source)
    out = Path(out_dir)
    params = _params(
        sensor_cfg.name,
        int(frames),
        int(sequences),
        int(seed),
        layout,
        bool(camera),
        dropout_id,
        bool(intensity),
        float(density),
        simulator_fingerprint(sensor_cfg),
    )
    _check_out(out, params)
    writer = make_writer(layout, out, int(frames), int(sequences), bool(camera), sensor_cfg)
    _remove_stale_temporaries(out)
    todo = {s: [k for k in range(frames) if not writer.done(s, k)] for s in range(sequences)}
    n_todo = sum(len(v) for v in todo.values())
    if n_todo < frames * sequences:
        log.info("resuming: %d of %d frames already done", frames * sequences - n_todo, frames * sequences)
    chunk = max(1, min(10, -(-n_todo // max(1, workers * 2))))
    tasks = [(s, ks[i : i + chunk]) for s, ks in todo.items() for i in range(0, len(ks), chunk)]
    from tqdm import tqdm

    bar = tqdm(
        total=frames * sequences,
        initial=frames * sequences - n_todo,
        unit="frame",
        disable=not progress,
        desc="lidarsim",
    )
    try:
        if workers == 1 or len(tasks) <= 1:
            for s, ks in tasks:
                for _ in _frames(params, sensor_cfg, str(out), s, ks, dmap):
                    bar.update(1)
        else:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                package = str(Path(__file__).resolve().parent)
                futures = [
                    pool.submit(_run, params, sensor_cfg, str(out), s, ks, dmap, package) for s, ks in tasks
                ]
                for fut in as_completed(futures):
                    bar.update(len(fut.result()))
    finally:
        bar.close()
        _LAST_SIMULATOR.clear()  # free the scene and its ray-casting structures
    calib = SequenceSimulator.default_calib()
    for s in range(sequences):
        writer.finish_sequence(s, calib)
    writer.finish(calib)
    atomic_write_text(out / STATE_DIR / "complete", "ok\n")
    return out
