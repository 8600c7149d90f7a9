"""`make demo`: simulate a short LiDAR + camera sequence, segment it with the shipped SqueezeSegV2,
and write per-point labels and PNGs, then say how to open the result in the LATTE annotator."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from squeezeseg.errors import InputError

log = logging.getLogger("demo")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--frames", type=int, default=5, help="frames to simulate (default: 5)")
    p.add_argument("--seed", type=int, default=7, help="scene seed (default: 7)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    try:
        import simulation
        import squeezeseg

        t0 = time.perf_counter()
        seq_root = simulation.generate_dataset(
            out / "sequence", sensor="hdl64e", frames=args.frames, sequences=1, seed=args.seed,
            layout="kitti-raw", camera=True,
        )
        log.info("simulated %d frames in %.1f s -> %s", args.frames, time.perf_counter() - t0, seq_root)
        scans = sorted(Path(seq_root).rglob("velodyne_points/data/*.bin"))
        if not scans:
            raise InputError("the simulator wrote no scans", seq_root)
        seq_dir = scans[0].parents[2]
        segmenter = squeezeseg.load_model()
        from squeezeseg.infer import infer_scans

        labels = infer_scans(segmenter, scans, out / "segmentation")
    except InputError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(f"Simulated sequence (KITTI raw layout, with camera): {seq_dir}")
    seg_dir = out / "segmentation"
    print(f"SqueezeSegV2 predictions ({len(labels)} SemanticKITTI .label files and PNGs): {seg_dir}")
    print(f"  e.g. {labels[0].with_suffix('.png')}")
    print("Open the sequence in the annotator:")
    print(f"  .venv/bin/latte {seq_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
