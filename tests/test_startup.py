"""Start-up: building the command-line parsers imports neither TensorFlow nor Keras, and TensorFlow's
own start-up logging stays quiet unless --verbose."""

from __future__ import annotations

import subprocess
import sys

import pytest

CLIS = {
    "squeezeseg": "squeezeseg.cli",
    "squeezedet": "squeezeseg.detection.cli",
    "lidarsim": "simulation.cli",
}
HEAVY = ("tensorflow", "keras")


def _fresh(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_parser_builds_without_tensorflow(prog):
    code = (
        "import importlib, sys\n"
        "from squeezeseg.cli.common import build_parser\n"
        f"pkg = importlib.import_module({CLIS[prog]!r})\n"
        f"parser = build_parser({prog!r}, 'x', pkg)\n"
        "parser.format_help()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = _fresh(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_help_runs_without_tensorflow(prog):
    code = (
        "import importlib, sys\n"
        f"main = importlib.import_module({CLIS[prog]!r}).main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = _fresh(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "[]" and "usage:" in proc.stdout


def test_deferred_export_arguments_appear_when_export_is_chosen():
    """`export` takes its arguments from the exporter (which imports TensorFlow) only when chosen."""
    import squeezeseg.cli as pkg
    from squeezeseg.cli.common import build_parser

    parser = build_parser("squeezeseg", "x", pkg)
    args = parser.parse_args(["export", "--out", "m.tflite"])
    assert args.format == "int8" and str(args.out) == "m.tflite" and args.command == "export"
    with pytest.raises(SystemExit) as exc:
        build_parser("squeezeseg", "x", pkg).parse_args(["export"])  # --out required
    assert exc.value.code == 2


def test_tensorflow_start_up_is_quiet_unless_verbose(tmp_path):
    """A command that loads TensorFlow prints no absl/oneDNN/cpu-feature lines on stderr."""
    code = (
        "import sys\n"
        "from squeezeseg.cli import main\n"
        "sys.exit(main(['profile', 'squeezeseg']))\n"
    )
    proc = _fresh(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fire9" in proc.stdout
    for noise in ("absl::InitializeLog", "cpu_feature_guard", "oneDNN custom operations"):
        assert noise not in proc.stderr
