"""scripts/label_free_proxies.py: car shares of a model on unlabelled scans, before and after the shape
check, and the share of car pixels that survive a lower car score, measured with the shipped model on
one real scan."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from squeezeseg.resources import shared_data_dir

REPO = Path(__file__).resolve().parent.parent
SCAN = shared_data_dir() / "kitti_object" / "testing" / "velodyne" / "000007.bin"


@pytest.mark.skipif(not SCAN.is_file(), reason=f"{SCAN} not present (../shared/data)")
def test_label_free_shares_of_the_shipped_model_on_a_real_scan():
    sys.path.insert(0, str(REPO / "scripts"))
    from label_free_proxies import label_free

    from squeezeseg.runtime import load_model

    seg = load_model()
    shares = label_free(seg, [SCAN])
    assert seg.shape_check  # restored
    assert 0.0 < shares["car_share"] <= shares["raw_car_share"] < 0.5
    kept = shares["car_share"] / shares["raw_car_share"]
    assert shares["rejected_share"] == pytest.approx(1 - kept, abs=1e-6)
    # with the check on, the segmenter's own prediction holds exactly the kept car pixels
    from squeezeseg.io import read_points

    pred = seg.predict_scan(read_points(SCAN), full_circle=True)
    ok = pred.image[..., 4] > 0
    own = ((pred.image_labels == seg.classes.index("car")) & ok).sum() / ok.sum()
    assert own == pytest.approx(shares["car_share"], rel=1e-6)
    # the margin figure: a lower car score removes some of those car pixels and keeps some
    from label_free_proxies import margin

    kept = margin(seg, [SCAN], shares["raw_car_share"])
    assert 0.0 < kept < 1.0
    assert math.isnan(margin(seg, [SCAN], 0.0))  # no car pixels to keep

