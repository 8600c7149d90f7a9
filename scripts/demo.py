"""`make demo`: simulate a short LiDAR + camera sequence, segment it with the shipped SqueezeSegV2,
and write per-point labels and PNGs; segment one real KITTI scan too (from ../shared/data when
present) and print the per-class point counts of both next to their labels, so the model is seen on
real data at once; then say how to open the result in the LATTE annotator."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from squeezeseg.errors import InputError

log = logging.getLogger("demo")

# A labelled real scan (SemanticKITTI sequence 00, frame 0) under ../shared/data.
REAL_SCAN = Path("semantickitti/sequences/00/velodyne/000000.bin")


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
        rows = {f"simulated ({len(scans)} scans)": class_counts(segmenter, labels,
                                          [sc.parents[2] / "labels" / f"{sc.stem}.label" for sc in scans])}
        real = real_scan()
        if real is not None:
            real_labels = infer_scans(segmenter, [real], out / "real", progress=False)
            truth = real.parents[1] / "labels" / f"{real.stem}.label"
            rows[f"real SemanticKITTI 00/{real.stem}"] = class_counts(segmenter, real_labels, [truth])
    except InputError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(counts_table(segmenter.classes, rows))
    if real is None:
        print(f"(no real scan: {REAL_SCAN} not found under ../shared/data)")
    else:
        print(f"Real scan segmented into {out / 'real'} (.label and .png)")
    print()
    print(f"Simulated sequence (KITTI raw layout, with camera): {seq_dir}")
    seg_dir = out / "segmentation"
    print(f"SqueezeSegV2 predictions ({len(labels)} SemanticKITTI .label files and PNGs): {seg_dir}")
    print(f"  e.g. {labels[0].with_suffix('.png')}")
    print("Open the sequence in the annotator:")
    print(f"  .venv/bin/latte {seq_dir}")
    return 0


def real_scan() -> Path | None:
    """The labelled real KITTI scan of the shared data, or None when it is absent."""
    from squeezeseg.resources import shared_data_dir

    path = shared_data_dir() / REAL_SCAN
    return path if path.is_file() else None


def class_counts(segmenter, predicted: list[Path], truth: list[Path]) -> dict[str, tuple[int, int | None]]:
    """Class name -> (predicted points, labelled points or None) summed over ``.label`` file pairs."""
    import numpy as np

    from squeezeseg.classes import semantickitti_lookup
    from squeezeseg.evaluate import VALIDATION_LABEL_MAP
    from squeezeseg.io import read_semantickitti_labels

    names = segmenter.classes
    table = semantickitti_lookup(names, VALIDATION_LABEL_MAP)
    pred = np.zeros(len(names), np.int64)
    true = np.zeros(len(names), np.int64)
    have_truth = all(t.is_file() for t in truth)
    for p, t in zip(predicted, truth):
        ids, _ = read_semantickitti_labels(p)
        pred += np.bincount(table[ids], minlength=len(names))
        if have_truth:
            gt, _ = read_semantickitti_labels(t)
            true += np.bincount(table[gt[gt > 1]], minlength=len(names))  # 0/1: unlabeled, outlier
    return {n: (int(pred[i]), int(true[i]) if have_truth else None) for i, n in enumerate(names)}


def counts_table(classes: list[str], rows: dict[str, dict[str, tuple[int, int | None]]]) -> str:
    """Per-class points, predicted and labelled, one column pair per data set."""
    head = f"{'points per class':<18}" + "".join(f"{name[:30]:>34}" for name in rows)
    sub = f"{'':<18}" + f"{'predicted':>17}{'labelled':>17}" * len(rows)
    lines = [head, sub]
    for c in classes:
        cells = ""
        for counts in rows.values():
            p, t = counts[c]
            cells += f"{p:>17,}{'-' if t is None else f'{t:,}':>17}"
        lines.append(f"{'other' if c == 'unknown' else c:<18}{cells}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
