"""`latte simulate-annotator`: replay ground-truth objects as clicks and count the operations a
person would still need per feature set (baseline, fusion, oneclick, tracking, all)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from squeezeseg.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate-annotator",
        help="count the operations a person would need per feature set",
        description="Replay ground-truth boxes as an annotator's clicks. Either SEQUENCE with labels "
        "(KITTI object/tracking layout, SemanticKITTI instance labels, or any sequence with "
        "--labels; the image detector is read from --detections, default the ground-truth 2D "
        "boxes) or --tracking-labels with --calib (labels only: tracking and drawing). Tracking "
        "replays the app's next frame: ego-motion, Kalman filter, re-centring on the points.",
    )
    p.add_argument("sequence", nargs="?", help="sequence folder with labels")
    p.add_argument("--tracking-sequence", help="sequence id in a KITTI tracking root (e.g. 0000)")
    p.add_argument("--detections", help="folder of KITTI-style 2D detections (default: the labels)")
    p.add_argument("--labels", help="ground truth to replay for SEQUENCE (LATTE JSON, KITTI label_2 folder, "
                   "tracking label_02 file, SemanticKITTI labels folder); default: the layout's own")
    p.add_argument("--tracking-labels", help="a KITTI tracking label_02 file (labels-only mode)")
    p.add_argument("--calib", help="calibration file for --tracking-labels")
    p.add_argument("--min-points", type=int, default=1, help="skip objects with fewer points")
    p.add_argument("--config", help="LATTE config YAML")
    p.add_argument("--json", dest="json_out", help="also write the table as JSON")
    p.set_defaults(func=run)


def _ground_truth(seq, args, cfg) -> dict[int, list]:
    """{frame: boxes} to replay: ``--labels`` (any label file or folder the session imports), else the
    layout's labels (KITTI label_2 / label_02), else boxes fitted to SemanticKITTI instance labels."""
    from latte.core.label_io import LABEL_FORMATS, guess_format, read_for_session

    class _Shim:  # read_for_session needs only .sequence and .config
        pass

    shim = _Shim()
    shim.sequence, shim.config = seq, cfg
    errors: list = []
    if args.labels:
        path = Path(args.labels)
        gt, errors = read_for_session(shim, guess_format(path), path, None)
    elif seq.labels_path is not None:
        gt, errors = read_for_session(shim, seq.labels_format, seq.labels_path, None)
    else:
        per_point = [f.labels for f in seq.frames if f.labels is not None and f.labels.suffix == ".label"]
        if not per_point:
            raise InputError("the sequence has no labels to replay (give --labels FILE)", args.sequence)
        gt = LABEL_FORMATS["semantickitti"].read(shim, per_point[0].parent, None, errors)
    for e in errors:
        print(f"warning: {e}")
    return gt


def _frames_from_sequence(args, cfg):
    from latte.core.detector import FileDetector
    from latte.core.fusion import frustum_proposals
    from latte.core.oneclick import OneClickAnnotator
    from latte.core.sequence import frame_time, link_problem, open_sequence

    seq = open_sequence(args.sequence, args.tracking_sequence, axes=cfg.sensor.axes)
    gt = _ground_truth(seq, args, cfg)
    det_dir = args.detections or (seq.labels_path if seq.labels_format == "kitti" else None)
    detector = FileDetector(det_dir, strict=False) if det_dir else None
    ann = OneClickAnnotator(cfg)
    frames = []
    for i in range(len(seq)):
        pts = seq.points(i)
        props = []
        if detector is not None and seq.calib(i) is not None:
            ann.set_frame(pts)
            props = frustum_proposals(ann, seq.calib(i), detector.detect(None, seq.frame_id(i)))
        boxes = gt.get(i, [])
        if not seq.sequential:  # unrelated frames (KITTI object): no tracks
            boxes = [b.replace(track_id=None) for b in boxes]
        frames.append((pts, boxes, props))
    t = cfg.tracking
    times = [frame_time(seq, i, t.dt) for i in range(len(seq))]
    return frames, times, lambda a, b: link_problem(seq, a, b, t.max_gap_s, t.dt) is None


def _frames_from_labels(args):
    from squeezeseg.calib import read_kitti_calib
    from squeezeseg.io import read_tracking_labels

    if not args.calib:
        raise InputError("--tracking-labels needs --calib")
    by_frame = read_tracking_labels(args.tracking_labels, read_kitti_calib(args.calib))
    last = max(by_frame) if by_frame else -1
    return [(None, by_frame.get(f, []), []) for f in range(last + 1)]


def run(args: argparse.Namespace) -> int:
    from latte.core.config import load_latte_config
    from latte.core.simulate_annotator import format_table, simulate
    from squeezeseg.atomic import atomic_write_text

    cfg = load_latte_config(args.config)
    times = linked = None
    if args.tracking_labels:
        frames = _frames_from_labels(args)
    elif args.sequence:
        frames, times, linked = _frames_from_sequence(args, cfg)
    else:
        raise InputError("give a SEQUENCE or --tracking-labels FILE --calib FILE")
    results = simulate(frames, cfg, min_points=args.min_points, times=times, linked=linked)
    print(format_table(results))
    if args.json_out:
        doc = {
            k: {"objects": r.objects, "operations": dict(r.operations), "accepted": r.accepted,
                "tool_seconds": r.seconds}
            for k, r in results.items()
        }
        atomic_write_text(args.json_out, json.dumps(doc, indent=1))
    return 0
