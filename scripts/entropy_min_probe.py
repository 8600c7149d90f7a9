#!/usr/bin/env python3
"""Probe (issue #19): test-time entropy minimisation on the unlabelled real scans (as Tent, Wang et al.
2021), training only the batch-norm scale and shift of a segmentation model, with a class-mix term that
either spreads the mean prediction (``--mix uniform``: information maximisation as in SHOT, Liang et al.
2020) or holds it at the model's own mean on those scans (``--mix initial``: KL to it). Writes the
adapted ``.keras``; score it with ``scripts/eval_real.py``. A measurement of whether this kind of
adaptation widens the thin real car margins (docs/domain-adaptation.md, ninth round), not a product step.

    .venv/bin/python scripts/entropy_min_probe.py --steps 60 --lr 1e-3 --mix initial --out runs/tent_b.keras
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


def mean_probabilities(model, images: np.ndarray) -> np.ndarray:
    """Mean class probabilities of ``model`` over the valid pixels of ``images``."""
    from squeezeseg.detection.postprocess import softmax

    p = softmax(np.asarray(model.predict(images, batch_size=4, verbose=0), np.float64))
    return p[images[..., 5] > 0].mean(0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None, help=".keras model (default: the shipped one)")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--mix", choices=("uniform", "initial"), default="initial")
    ap.add_argument("--mix-weight", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    import tensorflow as tf
    from train_default_model import CALIBRATION_SOURCES

    from domain_adapt.calibration import batch_norm_layers
    from domain_adapt.frames import load_unlabelled_files
    from squeezeseg.atomic import atomic_path
    from squeezeseg.models import load_keras_model
    from squeezeseg.resources import default_model_path, shared_data_dir

    model, cfg = load_keras_model(args.model or default_model_path())
    images = load_unlabelled_files(cfg, [shared_data_dir() / s for s in CALIBRATION_SOURCES], views=4)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        layer.trainable = False
    params = []
    for bn in batch_norm_layers(model):
        bn.trainable = True
        params += [bn.gamma, bn.beta]
    rng = np.random.default_rng(args.seed)
    probe = images[rng.choice(len(images), min(24, len(images)), replace=False)]
    prior = tf.constant(mean_probabilities(model, probe), tf.float32)
    print(f"{len(images)} real windows; mean class probabilities before: {np.round(prior.numpy(), 3)}")
    opt = tf.keras.optimizers.Adam(args.lr)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            p = tf.nn.softmax(model(x, training=False), -1)  # running statistics stay as they are
            m = tf.cast(x[..., 5:6] > 0, tf.float32)
            n = tf.reduce_sum(m) + 1e-6
            ent = -tf.reduce_sum(m * p * tf.math.log(p + 1e-8)) / n
            pm = tf.reduce_sum(m * p, [0, 1, 2]) / n
            if args.mix == "uniform":  # maximise the entropy of the mean prediction
                mix = tf.reduce_sum(pm * tf.math.log(pm + 1e-8))
            else:  # KL(mean prediction || the model's own mean before adaptation)
                mix = tf.reduce_sum(pm * (tf.math.log(pm + 1e-8) - tf.math.log(prior + 1e-8)))
            loss = ent + args.mix_weight * mix
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return ent, pm

    t0 = time.time()
    for i in range(args.steps):
        ent, pm = step(tf.constant(images[rng.choice(len(images), 4, replace=False)]))
        if i % 10 == 0 or i == args.steps - 1:
            print(f"step {i}: pixel entropy {float(ent):.4f}, mean class probabilities "
                  f"{np.round(pm.numpy(), 3)}, {time.time() - t0:.0f} s", flush=True)
    with atomic_path(args.out) as tmp:
        model.save(tmp)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
