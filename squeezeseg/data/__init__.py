"""Training data: frame sources on disk and ``tf.data`` pipelines (import :mod:`.pipeline` for TF)."""

from squeezeseg.data.sources import frames_and_loader, load_semantickitti, load_squeezeseg
from squeezeseg.datasets.network_input import with_mask

__all__ = ["frames_and_loader", "load_semantickitti", "load_squeezeseg", "with_mask", "make_dataset"]


def make_dataset(*args, **kwargs):
    """See :func:`squeezeseg.data.pipeline.make_dataset` (imported lazily: it needs TensorFlow)."""
    from squeezeseg.data.pipeline import make_dataset as _make

    return _make(*args, **kwargs)
