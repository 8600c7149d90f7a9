"""The bad-input catalogue (issue 22): every command touched there, run through its ``main(argv)`` on
each bad case, must exit 2 with one line naming the file or the argument, print no traceback, write
nothing outside its output folder (nothing at all when the case is refused before any work), and
lose nothing that was there before. Kills during writes are tested where the writer lives
(``test_latte_core_session.py``: kill -9 during autosave; ``test_train_segmentation.py``: a damaged
training checkpoint)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from latte.core.synthetic import scan_scene
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib, format_kitti_calib
from squeezeseg.io import write_kitti_labels, write_points

CALIB = KittiCalib(
    P2=np.array([[721.5, 0, 609.6, 44.9], [0, 721.5, 172.9, 0.2], [0, 0, 1, 0.003]]),
    R0_rect=np.eye(3),
    Tr_velo_to_cam=np.array([[0.0, -1, 0, 0], [0, 0, -1, -0.08], [1, 0, 0, -0.27]]),
    image_size=(1242, 375),
)


@dataclass
class Case:
    """``argv(tmp)`` runs ``cli``; the error line must contain ``names(tmp)``; ``setup(tmp)``
    prepares files (all of them must survive unchanged)."""

    id: str
    cli: str
    argv: Callable[[Path], list[str]]
    names: Callable[[Path], str]
    setup: Callable[[Path], None] = lambda tmp: None


def _seq(tmp: Path) -> Path:
    """A 2-frame KITTI object layout with a car and its 2D boxes as detections."""
    root = tmp / "seq" / "training"
    car = Box3D((12.0, 1.0, -0.98), (4.2, 1.8, 1.5), 0.6, "Car")
    for k in range(2):
        write_points(
            root / "velodyne" / f"{k:06d}.bin", scan_scene([car], beams=32, azimuth_steps=1024, seed=k)
        )
        (root / "calib").mkdir(exist_ok=True)
        (root / "calib" / f"{k:06d}.txt").write_text(format_kitti_calib(CALIB))
        write_kitti_labels(root / "label_2" / f"{k:06d}.txt", [car], CALIB)
    return root


def _bad_detections(tmp: Path) -> None:
    root = _seq(tmp)
    shutil.copytree(root / "label_2", tmp / "det")
    (tmp / "det" / "000001.txt").write_text("Car 0 0 0 10 20 oops 40\n")


def _hand_made_session(tmp: Path) -> None:
    from latte.core.sequence import open_sequence
    from latte.core.session import AnnotationSession

    root = _seq(tmp)
    s = AnnotationSession(open_sequence(root), tmp / "out")
    s.add_box(0, Box3D((12.0, 1.0, -0.98), (4.0, 1.8, 1.5), 0.5, "Van"))
    s.close()


def _locked(tmp: Path) -> None:
    _seq(tmp)
    (tmp / "out").mkdir()
    lock = {"pid": os.getppid(), "host": socket.gethostname(), "started": "now", "token": "t"}
    (tmp / "out" / "session.lock").write_text(json.dumps(lock))


def _seq_only(tmp: Path) -> None:
    _seq(tmp)


def _out_is_a_file(tmp: Path) -> None:
    _seq(tmp)
    (tmp / "out").write_text("x")


def _write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())

    return setup


def _wrong_rows_map(tmp: Path) -> None:
    np.savez(tmp / "rows.npz", prob=np.zeros((32, 512), np.float32), fov_deg=90.0, frames=3)


GEN = ["generate", "--frames", "1", "--layout", "kitti-object", "--no-progress"]


def _gen(*extra: str, out: str = "out") -> Callable[[Path], list[str]]:
    return lambda tmp: [*GEN, "--out", str(tmp / out), *extra]


def _prelabel(*extra: str, det: str = "seq/training/label_2") -> Callable[[Path], list[str]]:
    return lambda tmp: [
        "prelabel",
        str(tmp / "seq" / "training"),
        "--detections",
        str(tmp / det),
        "--out",
        str(tmp / "out"),
        *extra,
    ]


CASES = [
    # lidarsim generate: every argument checked before anything is written
    Case(
        "gen-corrupt-npz",
        "lidarsim",
        _gen("--dropout", "{tmp}/bad.npz"),
        lambda t: str(t / "bad.npz"),
        _write("bad.npz", b"PK\x03\x04 not really a zip"),
    ),
    Case(
        "gen-text-npz",
        "lidarsim",
        _gen("--dropout", "{tmp}/text.npz"),
        lambda t: str(t / "text.npz"),
        _write("text.npz", "hello\n"),
    ),
    Case(
        "gen-map-rows", "lidarsim", _gen("--dropout", "{tmp}/rows.npz"), lambda t: "32 rows", _wrong_rows_map
    ),
    Case("gen-dropout-nan", "lidarsim", _gen("--dropout", "nan"), lambda t: "dropout rate"),
    Case("gen-density-nan", "lidarsim", _gen("--density", "nan"), lambda t: "--density"),
    Case("gen-density-0", "lidarsim", _gen("--density", "0"), lambda t: "--density"),
    Case("gen-density-inf", "lidarsim", _gen("--density", "inf"), lambda t: "--density"),
    Case("gen-seed-negative", "lidarsim", _gen("--seed", "-1"), lambda t: "--seed"),
    Case("gen-frames-0", "lidarsim", _gen("--frames", "0"), lambda t: "--frames"),
    Case(
        "gen-out-is-a-file", "lidarsim", _gen(out="afile"), lambda t: str(t / "afile"), _write("afile", "x")
    ),
    Case(
        "gen-out-below-a-file",
        "lidarsim",
        _gen(out="afile/sub"),
        lambda t: str(t / "afile" / "sub"),
        _write("afile", "x"),
    ),
    Case(
        "gen-out-foreign-folder",
        "lidarsim",
        _gen(),
        lambda t: str(t / "out"),
        _write("out/notes.txt", "mine"),
    ),
    Case(
        "gen-out-other-dataset",
        "lidarsim",
        _gen("--seed", "5"),
        lambda t: "different dataset",
        _write("out/lidarsim.json", json.dumps({"format": 1, "seed": 4})),
    ),
    Case(
        "gen-corrupt-manifest",
        "lidarsim",
        _gen(),
        lambda t: "lidarsim.json",
        _write("out/lidarsim.json", "{"),
    ),
    # lidarsim dropout-model
    Case(
        "dropout-width-0",
        "lidarsim",
        lambda t: ["dropout-model", "--from", str(t), "--width", "0", "--out", str(t / "out" / "m.npz")],
        lambda t: "--width",
    ),
    Case(
        "dropout-out-folder",
        "lidarsim",
        lambda t: ["dropout-model", "--from", str(t), "--out", str(t / "out")],
        lambda t: str(t / "out"),
        _write("out/keep.txt", "mine"),
    ),
    # latte prelabel
    Case(
        "prelabel-bad-detection-line",
        "latte",
        _prelabel(det="det"),
        lambda t: f"{t / 'det' / '000001.txt'}: line 1",
        _bad_detections,
    ),
    Case(
        "prelabel-tracking-path",
        "latte",
        _prelabel("--tracking-sequence", "../../../x", "--format", "tracking"),
        lambda t: "--tracking-sequence",
        _seq_only,
    ),
    Case(
        "prelabel-hand-made-session",
        "latte",
        _prelabel(),
        lambda t: str(t / "out" / "session.json"),
        _hand_made_session,
    ),
    Case("prelabel-locked-folder", "latte", _prelabel(), lambda t: str(t / "out" / "session.lock"), _locked),
    Case("prelabel-out-is-a-file", "latte", _prelabel(), lambda t: str(t / "out"), _out_is_a_file),
    Case(
        "prelabel-max-frames-0", "latte", _prelabel("--max-frames", "0"), lambda t: "--max-frames", _seq_only
    ),
    # squeezeseg train: the config's ranges, before TensorFlow is asked for anything
    Case(
        "train-batch-size-0",
        "squeezeseg",
        lambda t: ["train", str(t / "c.yaml"), "--out", str(t / "out")],
        lambda t: f"{t / 'c.yaml'}: key 'train.batch_size'",
        _write("c.yaml", "train: {batch_size: 0}\n"),
    ),
    Case(
        "train-lr-nan",
        "squeezeseg",
        lambda t: ["train", str(t / "c.yaml"), "--out", str(t / "out")],
        lambda t: "key 'train.learning_rate'",
        _write("c.yaml", "train: {learning_rate: .nan}\n"),
    ),
    Case(
        "train-batch-size-flag",
        "squeezeseg",
        lambda t: ["train", "squeezesegv2", "--batch-size", "-2", "--out", str(t / "out")],
        lambda t: "train.batch_size",
    ),
]


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _main(cli: str) -> Callable[[list[str]], int]:
    if cli == "lidarsim":
        from simulation.cli import main
    elif cli == "latte":
        from latte.cli import main
    else:
        from squeezeseg.cli import main
    return main


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, capsys):
    case.setup(tmp_path)
    before = _snapshot(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in case.argv(tmp_path)]
    capsys.readouterr()
    rc = _main(case.cli)(argv)
    cap = capsys.readouterr()
    assert rc == 2, (rc, cap.err)
    assert "Traceback" not in cap.err + cap.out
    noise = ("WARNING", "I0000", "E0000")  # TensorFlow's start-up chatter on stderr
    lines = [ln for ln in cap.err.splitlines() if ln.strip() and not ln.startswith(noise)]
    assert len(lines) == 1, cap.err
    assert lines[0].startswith(f"{case.cli}: error: ") and case.names(tmp_path) in lines[0], lines[0]
    after = _snapshot(tmp_path)
    assert after == before, "refused before any work: nothing written, nothing changed or lost"
