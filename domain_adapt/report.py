"""The ablation table of a pipeline run (the paper's Table 3 layout: one row per added component,
class IoU per object class), as Markdown and JSON written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from squeezeseg.atomic import atomic_write_text

REPORT_CLASSES = ("car", "pedestrian")


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def ablation_markdown(report: dict, classes: tuple[str, ...] = REPORT_CLASSES) -> str:
    """Markdown table: stage, IoU (and P/R) of each reported class, pixels evaluated, seconds."""
    head = " | ".join(f"{c} IoU | {c} P | {c} R" for c in classes)
    lines = ["# Domain adaptation ablation", "",
             f"Source: `{report.get('source')}` ({report.get('source_frames')} frames); target: "
             f"`{report.get('target')}` ({report.get('target_images')} unlabelled images); evaluation: "
             f"{', '.join(f'`{e}`' for e in report.get('eval', []))} "
             f"({len(report.get('eval_frames', []))} frames).", "",
             f"| stage | {head} | seconds |",
             "| --- | " + " | ".join("---: | ---: | ---:" for _ in classes) + " | ---: |"]
    for stage, r in report["stages"].items():
        cells = []
        for c in classes:
            s = r["class"].get(c, {})
            cells.append(f"{pct(s.get('iou'))} | {pct(s.get('precision'))} | {pct(s.get('recall'))}")
        lines.append(f"| {stage} | {' | '.join(cells)} | {r.get('seconds', '-')} |")
    lines += ["", "IoU, precision and recall in % over the valid pixels of the evaluation frames "
              "('-': the class is absent from both ground truth and prediction).",
              f"Total time: {report.get('seconds', '-')} s.", ""]
    return "\n".join(lines)


def write_ablation(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """``OUT/ablation.json`` and ``OUT/ablation.md``."""
    out = Path(out_dir)
    j, m = out / "ablation.json", out / "ablation.md"
    atomic_write_text(j, json.dumps(report, indent=1, default=str) + "\n")
    atomic_write_text(m, ablation_markdown(report))
    return j, m
