"""Label formats: one class each behind one registry, recognised from the path."""

from __future__ import annotations

import pytest

from latte.core.label_io import LABEL_FORMATS, guess_format, label_format
from squeezeseg.errors import InputError


def test_registry_holds_every_format_the_session_offers():
    import argparse

    from latte.cli import cmd_prelabel

    assert set(LABEL_FORMATS) == {"kitti", "tracking", "semantickitti", "json"}
    sub = argparse.ArgumentParser().add_subparsers()
    cmd_prelabel.register(sub)
    fmt_action = next(a for a in sub.choices["prelabel"]._actions if a.dest == "format")
    assert tuple(fmt_action.choices) == tuple(LABEL_FORMATS)  # the CLI offers what the registry holds
    for name, fmt in LABEL_FORMATS.items():
        assert fmt.name == name and fmt.suffix.startswith(".")


def test_formats_are_guessed_from_the_path(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "0000.txt").write_text("0 1 Car 0 0 0 0 0 10 10 1.5 1.6 3.9 0 1.7 12 0\n")
    (tmp_path / "000000.txt").write_text("Car 0 0 0 0 0 10 10 1.5 1.6 3.9 0 1.7 12 0\n")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "000000.label").write_bytes(b"")
    (tmp_path / "label_2").mkdir()
    assert guess_format(tmp_path / "a.json") == "json"
    assert guess_format(tmp_path / "0000.txt") == "tracking"
    assert guess_format(tmp_path / "000000.txt") == "kitti"
    assert guess_format(tmp_path / "labels") == "semantickitti"
    assert guess_format(tmp_path / "label_2") == "kitti"
    with pytest.raises(InputError, match="cannot tell the label format"):
        guess_format(tmp_path / "boxes.csv")
    with pytest.raises(InputError, match="unknown label format 'csv'"):
        label_format("csv")


def test_prelabel_outputs_are_named_by_the_format(tmp_path):
    assert label_format("tracking").default_output(tmp_path, "0003") == tmp_path / "0003.txt"
    assert label_format("kitti").default_output(tmp_path, "x") == tmp_path / "label_2"
    assert label_format("json").default_output(tmp_path, "x") == tmp_path / "labels.json"
