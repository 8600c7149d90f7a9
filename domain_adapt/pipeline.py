"""The sim-to-real ablation (SqueezeSegV2, Table 3) on the user's own data, all in one run:

1. ``sim-only``: SqueezeSegV2 trunk without context aggregation, trained on the synthetic scans as given;
2. ``+intensity rendering``: the same, trained on the synthetic scans with intensity rendered by a
   network trained on the unlabelled real scans;
3. ``+correlation alignment``: 2 plus the geodesic loss between synthetic and real output covariances;
4. ``+domain calibration``: the model of 3 after progressive batch-norm calibration on the real scans;
5. ``+context aggregation``: 4 retrained with the context aggregation modules (then calibrated);
6. ``+self-training`` (beyond the paper): the real target images pseudo-labelled by 5 (confident,
   physically plausible car segments, the most confident background; see
   :mod:`domain_adapt.self_training`), 5 fine-tuned on the source plus them, then calibrated.

Every stage saves ``OUT/<stage>/model.keras`` and ``result.json``; a rerun skips finished stages.
``budget`` scales all step counts so a run fits the machine.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_path, atomic_write_text
from squeezeseg.errors import InputError

log = logging.getLogger(__name__)
STAGES = ("sim-only", "+intensity rendering", "+correlation alignment", "+domain calibration",
          "+context aggregation", "+self-training")


@dataclass
class PipelineOptions:
    """Settings of one ablation run; step counts are multiplied by ``budget``."""

    model_config: str = "squeezesegv2_small"
    budget: float = 1.0
    steps: int = 400
    renderer_steps: int = 300
    batch_size: int = 4
    crop_width: int = 128
    gca_weight: float = 10.0
    target_views: int = 4
    seed: int = 0

    def scaled(self, n: int) -> int:
        return max(1, int(round(n * self.budget)))


def slug(stage: str) -> str:
    return stage.strip("+").replace(" ", "_").replace("-", "_")


def run_pipeline(source: str | Path, target: str | Path, evals: list[str | Path], out: str | Path,
                 opts: PipelineOptions | None = None, progress: bool = True) -> dict:
    """Run all stages; returns ``{"stages": {stage: result}, ...}`` and writes OUT/ablation.{json,md}."""
    from domain_adapt import frames
    from domain_adapt.report import write_ablation
    from squeezeseg.models import load_model_config

    opts = opts or PipelineOptions()
    if opts.budget <= 0:
        raise InputError(f"--budget must be positive, got {opts.budget}")
    out = Path(out)
    cfg = load_model_config(opts.model_config)
    cfg.crf.enabled = False
    t0 = time.time()
    src_images, src_labels = frames.load_source(cfg, source)
    tgt = frames.load_unlabelled(cfg, target, views=opts.target_views)
    frames.check_same_domain_shape(src_images, tgt, source, target)
    evals_data = [f for e in evals for f in frames.load_labelled(cfg, e)]
    if not evals_data:
        raise InputError("no labelled evaluation frames", evals[0] if evals else "--eval")
    ev_img = np.stack([f[1] for f in evals_data])
    ev_lab = np.stack([f[2] for f in evals_data])
    frames.check_same_domain_shape(src_images, ev_img, source, evals[0])
    log.info("source %d frames, target %d images, evaluation %d frames", len(src_images), len(tgt),
             len(ev_img))

    rendered = render_source(src_images, tgt, out, opts, progress)
    results: dict[str, dict] = {}
    ctx = StageContext(cfg, out, opts, tgt, ev_img, ev_lab, progress)
    results["sim-only"] = ctx.stage("sim-only", (src_images, src_labels), 0.0, False)
    results["+intensity rendering"] = ctx.stage("+intensity rendering", (rendered, src_labels), 0.0, False)
    results["+correlation alignment"] = ctx.stage("+correlation alignment", (rendered, src_labels),
                                                  opts.gca_weight, False)
    results["+domain calibration"] = ctx.stage("+domain calibration", (rendered, src_labels), opts.gca_weight,
                                               False, calibrate_from="+correlation alignment")
    results["+context aggregation"] = ctx.stage("+context aggregation", (rendered, src_labels),
                                                opts.gca_weight, True, calibrate=True)
    results["+self-training"] = ctx.stage("+self-training", (rendered, src_labels), opts.gca_weight, True,
                                          calibrate=True, self_train_from="+context aggregation")
    report = {
        "stages": results,
        "source": str(source), "target": str(target), "eval": [str(e) for e in evals],
        "eval_frames": [f[0] for f in evals_data],
        "source_frames": int(len(src_images)), "target_images": int(len(tgt)),
        "options": opts.__dict__, "classes": cfg.classes,
        "seconds": round(time.time() - t0, 1),
    }
    write_ablation(report, out)
    return report


def render_source(src_images: np.ndarray, tgt: np.ndarray, out: Path, opts: PipelineOptions,
                  progress: bool) -> np.ndarray:
    """Train (or reload) the intensity renderer on the target scans and paint the source intensity."""
    from domain_adapt.intensity_rendering import load_renderer, render, train_renderer

    path = out / "renderer" / "model.keras"
    if path.is_file():
        model = load_renderer(path)
    else:
        model = train_renderer(tgt, "hybrid", opts.scaled(opts.renderer_steps), opts.batch_size,
                               opts.crop_width, seed=opts.seed, progress=progress)
        with atomic_path(path) as tmp:
            model.save(tmp)
    rendered = src_images.copy()
    rendered[..., 3] = render(model, src_images)
    return rendered


@dataclass
class StageContext:
    """What all stages share: config, output folder, options, target and evaluation data."""

    cfg: object
    out: Path
    opts: PipelineOptions
    target: np.ndarray
    eval_images: np.ndarray
    eval_labels: np.ndarray
    progress: bool

    def stage(self, name: str, source: tuple[np.ndarray, np.ndarray], gca_weight: float, cam: bool,
              calibrate: bool = False, calibrate_from: str | None = None,
              self_train_from: str | None = None) -> dict:
        """Train (or load the model of ``calibrate_from`` and calibrate it; or fine-tune the model of
        ``self_train_from`` on ``source`` plus the target pseudo-labelled by it), evaluate, save."""
        import copy

        import keras

        import squeezeseg.nn  # noqa: F401
        from domain_adapt.calibration import calibrate as progressive_calibration
        from domain_adapt.train import AdaptOptions, evaluate, train_adapted
        from squeezeseg.normalization import compute_statistics

        folder = self.out / slug(name)
        done = folder / "result.json"
        if done.is_file():
            log.info("%s: done before, reading %s", name, done)
            return json.loads(done.read_text(encoding="utf-8"))
        t0 = time.time()
        logs: dict = {}
        if calibrate_from is not None:
            model = keras.saving.load_model(self.out / slug(calibrate_from) / "model.keras", compile=False)
        else:
            cfg = copy.deepcopy(self.cfg)
            stats = compute_statistics(source[0])
            cfg.mean, cfg.std = [float(v) for v in stats.mean], [max(float(v), 1e-3) for v in stats.std]
            cfg.name = f"squeezesegv2_da_{slug(name)}"
            steps = self.opts.scaled(self.opts.steps)
            init = None
            if self_train_from is not None:
                init = keras.saving.load_model(self.out / slug(self_train_from) / "model.keras",
                                               compile=False)
                source, logs["pseudo_labels"] = self.with_pseudo_labels(init, source)
                steps = max(1, steps // 2)
            opts = AdaptOptions(steps, self.opts.batch_size, self.opts.crop_width, gca_weight, cam,
                                self.opts.seed)
            model, losses = train_adapted(cfg, source, self.target, opts, self.progress, init=init)
            logs.update(losses)
        if calibrate or calibrate_from is not None:
            progressive_calibration(model, self.target, progress=self.progress)
        result = evaluate(model, self.eval_images, self.eval_labels, self.cfg.classes)
        result.update({"stage": name, "seconds": round(time.time() - t0, 1), "final_losses": logs})
        with atomic_path(folder / "model.keras") as tmp:
            model.save(tmp)
        atomic_write_text(done, json.dumps(result, indent=1) + "\n")
        return result

    def with_pseudo_labels(self, model, source: tuple[np.ndarray, np.ndarray]
                           ) -> tuple[tuple[np.ndarray, np.ndarray], dict]:
        """``source`` plus the target images with pseudo-labels from ``model``; and their summary."""
        from domain_adapt.self_training import pseudo_label_images, softmax

        probs = softmax(np.concatenate([model(self.target[i:i + 4], training=False).numpy()
                                        for i in range(0, len(self.target), 4)]))
        labels, summary = pseudo_label_images(self.target, probs, list(self.cfg.classes).index("car"))
        log.info("pseudo-labels of %d target images: %s", len(labels), summary)
        return (np.concatenate([source[0], self.target]), np.concatenate([source[1], labels])), summary
