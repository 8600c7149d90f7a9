"""Camera realism report: simulated camera images against the real KITTI images of ../shared/data.

    .venv/bin/python scripts/camera_vs_real.py [--sim runs/squeezedet_sim] [--count 60] [--json out.json]
        [--render 60 [--render-seed 7] [--save-render DIR] [--baseline COMMIT]]

Sets: the real left-camera images (KITTI raw drive, KITTI object training and testing: 43 images), the
simulator's renders (``--sim``, a `lidarsim generate --camera --layout kitti-object` folder; skipped
when it has no images), the same renders after the training-time camera-response randomisation
(`squeezeseg.detection.data.photometric`), and with ``--render N`` images rendered now by the current
camera (also with that randomisation on top; with ``--baseline COMMIT`` also by that commit's camera, to
separate the camera's changes from the scenes'): frame 0 of sequences 0..N-1 of seed ``--render-seed``
(4-frame sequences, so with seed 7 and N = 60 these are the very scenes of every 4th image of `lidarsim
generate --frames 4 --sequences 60 --seed 7 --layout kitti-object --camera`, the default ``--sim``
folder, as long as the scene generator has not changed since that folder was made). Rows: Jensen-Shannon
divergence (base 2, 0 = same, 1 = disjoint; simulation.stats) of the histograms of luminance, each
colour channel, saturation and gradient magnitude (Sobel), and the edge density (share of pixels with
gradient magnitude above 40 grey levels per pixel). As a floor, the same divergences between two real
sets (the KITTI raw drive against the KITTI object images).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BINS = np.linspace(0, 256, 33)
GRAD_BINS = np.r_[np.linspace(0, 200, 41), 2000.0]
EDGE = 40.0


def gradient(gray: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of a float grey image (interior pixels)."""
    g = gray
    gx = (g[:-2, 2:] + 2 * g[1:-1, 2:] + g[2:, 2:]) - (g[:-2, :-2] + 2 * g[1:-1, :-2] + g[2:, :-2])
    gy = (g[2:, :-2] + 2 * g[2:, 1:-1] + g[2:, 2:]) - (g[:-2, :-2] + 2 * g[:-2, 1:-1] + g[:-2, 2:])
    return np.hypot(gx, gy) / 4.0


class ImageStats:
    """Histograms accumulated over a set of (H, W, 3) uint8 images."""

    def __init__(self) -> None:
        self.h = {k: np.zeros(len(BINS) - 1) for k in ("luminance", "red", "green", "blue", "saturation")}
        self.h["gradient"] = np.zeros(len(GRAD_BINS) - 1)
        self.edges, self.pixels, self.images = 0, 0, 0

    def add(self, image: np.ndarray) -> None:
        x = image.astype(np.float64)
        lum = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
        sat = x.max(axis=2) - x.min(axis=2)
        for key, v in (("luminance", lum), ("red", x[..., 0]), ("green", x[..., 1]), ("blue", x[..., 2]),
                       ("saturation", sat)):
            self.h[key] += np.histogram(v, BINS)[0]
        grad = gradient(lum)
        self.h["gradient"] += np.histogram(np.minimum(grad, 1999.0), GRAD_BINS)[0]
        self.edges += int((grad > EDGE).sum())
        self.pixels += grad.size
        self.images += 1

    @property
    def edge_density(self) -> float:
        return self.edges / max(self.pixels, 1)


def compare(a: ImageStats, b: ImageStats) -> dict:
    """JS divergence of every histogram of ``a`` and ``b``, and both edge densities."""
    from simulation.stats import js_divergence

    out = {k: round(js_divergence(a.h[k], b.h[k]), 4) for k in a.h}
    out["edge_density"] = [round(a.edge_density, 4), round(b.edge_density, 4)]
    return out


def real_images(data: Path) -> dict[str, list[Path]]:
    """Real camera images by source."""
    raw = sorted((data / "kitti_raw").rglob("image_02/data/*.png"))
    obj = [p for sub in ("kitti_object/training", "kitti_object/testing", "kitti_object_more/training")
           for p in sorted((data / sub / "image_2").glob("*.png"))]
    return {"kitti_raw": raw, "kitti_object": obj}


def rendered(count: int, seed: int, save: str | None, camera_module=None):
    """Frame 0 of sequences 0..count-1 of ``seed`` rendered by the current camera (no LiDAR scan),
    or by ``camera_module``'s ``CameraSimulator`` (another version's), each also written to ``save``
    as PNG when given."""
    from simulation.raycast import FrameGeometry
    from simulation.sequence import SequenceSimulator

    for sequence in range(count):
        sim = SequenceSimulator("hdl64e", frames=4, seed=seed, sequence=sequence, camera=True)
        pos, yaw = sim.sensor_pose(0.0)
        camera = sim.camera if camera_module is None else camera_module.CameraSimulator(sim.calib)
        image = camera.render(FrameGeometry(sim.scene, 0.0), pos, yaw)
        if save:
            from PIL import Image

            Path(save).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(Path(save) / f"{seed}_{sequence:04d}.png")
        yield image


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sim", default=str(REPO / "runs" / "squeezedet_sim"))
    p.add_argument("--count", type=int, default=60, help="simulated images used (every k-th)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.add_argument("--render", type=int, default=0, help="scenes rendered now by the current camera")
    p.add_argument("--render-seed", type=int, default=7)
    p.add_argument("--save-render", default=None, help="folder for the rendered images (PNG)")
    p.add_argument("--baseline", default=None, help="also render those scenes with this commit's camera")
    args = p.parse_args()
    if args.count < 1 or args.render < 0:
        print("--count must be positive and --render not negative", file=sys.stderr)
        return 2

    from squeezeseg.detection.data import load_image, photometric
    from squeezeseg.resources import shared_data_dir

    reals = real_images(shared_data_dir())
    if not any(reals.values()):
        print(f"no real images under {shared_data_dir()}: nothing to compare", file=sys.stderr)
        return 2
    sets = ("real", "kitti_raw", "kitti_object", "sim", "sim_photometric", "render", "render_photometric")
    sets += ("base",)
    stats = {k: ImageStats() for k in sets}
    for key, paths in reals.items():
        for path in paths:
            im = load_image(path)
            stats[key].add(im)
            stats["real"].add(im)
    sims = sorted((Path(args.sim) / "training" / "image_2").glob("*.png"))
    sims = sims[:: max(1, len(sims) // args.count)][: args.count]
    rng = np.random.default_rng(args.seed)
    for path in sims:
        im = load_image(path)
        stats["sim"].add(im)
        stats["sim_photometric"].add(photometric(im, rng))
    for image in rendered(args.render, args.render_seed, args.save_render):
        stats["render"].add(image)
        stats["render_photometric"].add(photometric(image, rng))
    if args.baseline and args.render:
        from bench_camera import baseline_camera

        for image in rendered(args.render, args.render_seed, None, baseline_camera(args.baseline)):
            stats["base"].add(image)
    real = stats["real"]
    floor = compare(stats["kitti_raw"], stats["kitti_object"])
    rows = {"real raw drive vs real object images (floor)": floor}
    if stats["sim"].images:
        rows["simulated (--sim folder) vs real"] = compare(stats["sim"], real)
        rows["simulated (--sim folder) + photometric vs real"] = compare(stats["sim_photometric"], real)
    if stats["render"].images:
        rows["rendered by the current camera vs real"] = compare(stats["render"], real)
        both = compare(stats["render_photometric"], real)
        rows["rendered by the current camera + photometric vs real"] = both
    if stats["base"].images:
        rows[f"the same scenes by the camera of {args.baseline} vs real"] = compare(stats["base"], real)
    keys = list(next(iter(rows.values())))
    print(f"{'':<56}" + "".join(f"{k:>12}" for k in keys[:-1]) + "  edge density (a, b)")
    for name, r in rows.items():
        print(f"{name:<56}" + "".join(f"{r[k]:>12.3f}" for k in keys[:-1]) + f"  {r['edge_density']}")
    counts = ", ".join(f"{k} {stats[k].images}" for k in ("real", "sim", "render"))
    print(f"images: {counts} (sim = the --sim folder)")
    if args.json:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
