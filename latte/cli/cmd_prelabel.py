"""`latte prelabel SEQUENCE --detector file|squeezedet|squeezeseg --out DIR`: automatic pre-labels
(detections -> fusion proposals -> one-click boxes -> tracking) written as label files."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from latte.core.label_io import LABEL_FORMATS
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
        choices=tuple(LABEL_FORMATS),
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
    p.add_argument(
        "--merge",
        action="store_true",
        help="OUT already holds a session with boxes made by hand: keep them and pre-label only the "
        "frames without boxes (without --merge such a session is never replaced)",
    )
    p.add_argument(
        "--skip-bad-detections",
        action="store_true",
        help="go on without malformed lines of --detections files (each is reported); by default a "
        "malformed line stops the run before any work",
    )
    p.set_defaults(func=run)


def _safe_name(name: str, what: str) -> str:
    """``name`` as one file name inside OUT (never a path that leaves it)."""
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        raise InputError(f"{what} must be a plain name such as 0000, not a path: {name!r}")
    return name


def _detector_source(args: argparse.Namespace, seq, cfg):
    from latte.core import prelabel

    if args.model and not Path(args.model).exists():  # fail before importing TensorFlow
        raise InputError("model file not found", args.model)

    if args.detector == "file":
        from latte.core.detector import FileDetector

        if not args.detections:
            raise InputError("--detector file needs --detections DIR (KITTI-style 2D label files)")
        det = FileDetector(args.detections, strict=False)
        errors = det.check([seq.frame_id(i) for i in range(len(seq))])
        if errors and not args.skip_bad_detections:
            more = f" (and {len(errors) - 1} more malformed line(s))" if len(errors) > 1 else ""
            raise InputError(f"{errors[0]}{more}; fix them or pass --skip-bad-detections")
        for e in errors[:20]:
            print(f"latte: warning: skipped malformed detection: {e}", file=sys.stderr)
        if len(errors) > 20:
            print(f"latte: warning: ... and {len(errors) - 20} more malformed lines", file=sys.stderr)
        return prelabel.detector_source(det)
    if args.detector == "squeezedet":
        from latte.core.squeezedet_detector import squeezedet_detector

        try:
            det = squeezedet_detector(args.model)
        except (OSError, ValueError) as exc:
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


def _open_session(args: argparse.Namespace, seq, cfg, out: Path):
    """Open (and lock) the session in OUT; returns it and what happens to a session already there:
    "" (none), "replace" (pre-labels only: replaced) or "merge"; refuses to replace hand-made work."""
    from latte.core.session import AnnotationSession

    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", out)
    session = AnnotationSession(seq, out, cfg)
    try:
        if session.recovery_available:
            session.recover()
        if not session.all_boxes():
            return session, ""
        boxes, ops = session.hand_work()
        if args.merge:
            return session, "merge"
        if boxes or ops:
            raise InputError(
                f"holds an annotation session with {boxes} box(es) and {ops} operation(s) made by hand; "
                "not replaced: pass --merge to keep them and pre-label only the frames without boxes, "
                "or pick another --out",
                session.session_path,
            )
        return session, "replace"
    except BaseException:
        session.release_lock()
        raise


def run(args: argparse.Namespace) -> int:
    from latte.core.config import load_latte_config
    from latte.core.label_io import label_format
    from latte.core.prelabel import prelabel_sequence
    from latte.core.sequence import open_sequence

    if args.tracking_sequence is not None:
        _safe_name(args.tracking_sequence, "--tracking-sequence")
    if args.max_frames is not None and args.max_frames <= 0:
        raise InputError(f"--max-frames must be positive, got {args.max_frames}")
    cfg = load_latte_config(args.config)
    seq = open_sequence(args.sequence, args.tracking_sequence)
    if args.max_frames:
        seq.frames = seq.frames[: args.max_frames]
    out = Path(args.out)
    name = _safe_name(Path(seq.name).name, "the sequence name")
    target = label_format(args.format).default_output(out, name)
    if out.resolve() not in target.resolve().parents:
        raise InputError(f"the {args.format} output would leave --out: {target}", out)
    created = not out.exists()
    session, existing = _open_session(args, seq, cfg, out)
    try:
        try:
            source = _detector_source(args, seq, cfg)
        except BaseException:
            session.release_lock()
            if created:  # nothing was done: leave no empty session folder behind
                shutil.rmtree(out, ignore_errors=True)
            raise
        frames = prelabel_sequence(seq, source, cfg, progress=True, track=not args.no_tracking)
        if existing == "replace":
            session.reset()
            print(f"replaced the earlier pre-labels in {session.session_path} (none was edited by hand)")
        kept, written = 0, {}
        for f, boxes in frames.items():
            if existing == "merge" and session.boxes(f):
                kept += 1
                continue
            if boxes:
                session.add_boxes(f, boxes, op="prelabel")
                written[f] = boxes
        if existing == "merge":
            print(f"merged into {session.session_path}: {kept} frame(s) with boxes kept as they were")
        session.export(args.format, target)
        session.close()
    finally:
        session.release_lock()
    n = sum(len(b) for b in written.values())
    tracks = len({b.track_id for bs in written.values() for b in bs})
    print(f"{n} boxes in {len(frames)} frames, {tracks} tracks -> {target} (and {session.session_path})")
    return 0
