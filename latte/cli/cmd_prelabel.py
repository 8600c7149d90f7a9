"""`latte prelabel SEQUENCE --detector file|squeezedet|squeezeseg --out DIR`: automatic pre-labels
(detections -> fusion proposals -> one-click boxes -> tracking) written as label files."""

from __future__ import annotations

import argparse
import logging

from squeezeseg.errors import InputError

log = logging.getLogger("latte.prelabel")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prelabel",
        help="pre-label a sequence (detector -> fusion -> one-click -> tracking)",
        description="Pre-label every frame of SEQUENCE and write the labels into OUT: session.json "
        "(open it in the app to review), plus the chosen export format.",
    )
    p.add_argument("sequence", help="sequence folder (KITTI raw/object/tracking layout or a folder of scans)")
    p.add_argument("--detector", choices=("file", "squeezedet", "squeezeseg"), default="file")
    p.add_argument("--detections", help="folder of KITTI-style 2D label files (for --detector file)")
    p.add_argument("--model", help="model file for squeezedet/squeezeseg (default: the shipped one)")
    p.add_argument("--tracking-sequence", help="sequence id in a KITTI tracking root (e.g. 0000)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--format",
        choices=("kitti", "tracking", "semantickitti", "json"),
        default="json",
        help="export format besides session.json (default json -> OUT/labels.json)",
    )
    p.add_argument("--config", help="LATTE config YAML (default configs/latte.yaml)")
    p.add_argument("--max-frames", type=int, help="only the first N frames")
    p.add_argument(
        "--no-tracking",
        action="store_true",
        help="frames are unrelated (e.g. the KITTI object layout): no track links between them",
    )
    p.set_defaults(func=run)


def _detector_source(args: argparse.Namespace, seq, cfg):
    from pathlib import Path

    from latte.core import prelabel

    if args.model and not Path(args.model).exists():  # fail before importing TensorFlow
        raise InputError("model file not found", args.model)

    if args.detector == "file":
        from latte.core.detector import FileDetector

        if not args.detections:
            raise InputError("--detector file needs --detections DIR (KITTI-style 2D label files)")
        return prelabel.detector_source(FileDetector(args.detections, strict=False))
    if args.detector == "squeezedet":
        try:
            from latte.core import squeezedet_detector as sd
        except ImportError as exc:
            raise InputError(f"the SqueezeDet detector is not available ({exc})") from None
        factory = getattr(sd, "load_detector", None) or getattr(sd, "SqueezeDetDetector", None)
        if factory is None:
            raise InputError("latte.core.squeezedet_detector has no load_detector/SqueezeDetDetector")
        try:
            det = factory(args.model) if args.model else factory()
        except (OSError, FileNotFoundError, ValueError) as exc:
            raise InputError(f"cannot load the SqueezeDet model: {exc}", args.model) from None
        return prelabel.detector_source(det)
    try:
        from squeezeseg import load_model

        model = load_model(args.model)
    except ImportError as exc:
        raise InputError(f"the SqueezeSeg segmenter is not available ({exc})") from None
    except (OSError, FileNotFoundError, ValueError) as exc:
        raise InputError(f"cannot load the SqueezeSeg model: {exc}", args.model) from None
    return prelabel.segmentation_source(model, cfg.class_names)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from latte.core.config import load_latte_config
    from latte.core.prelabel import prelabel_sequence
    from latte.core.sequence import open_sequence
    from latte.core.session import AnnotationSession

    cfg = load_latte_config(args.config)
    seq = open_sequence(args.sequence, args.tracking_sequence)
    if args.max_frames:
        seq.frames = seq.frames[: args.max_frames]
    source = _detector_source(args, seq, cfg)
    frames = prelabel_sequence(seq, source, cfg, progress=True, track=not args.no_tracking)
    out = Path(args.out)
    session = AnnotationSession(seq, out, cfg, resume=False)
    for f, boxes in frames.items():
        if boxes:
            session.add_boxes(f, boxes, op="prelabel")
    target = {
        "json": out / "labels.json",
        "tracking": out / f"{seq.name}.txt",
        "kitti": out / "label_2",
        "semantickitti": out / "labels",
    }[args.format]
    session.export(args.format, target)
    session.close()
    n = sum(len(b) for b in frames.values())
    tracks = len({b.track_id for bs in frames.values() for b in bs})
    print(f"{n} boxes in {len(frames)} frames, {tracks} tracks -> {target} (and {session.session_path})")
    return 0
