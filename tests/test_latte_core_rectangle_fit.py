"""Rectangle fitting: heading search (three criteria), PCA, size priors on partial views."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.rectangle_fit import (
    body_centre,
    body_heading,
    face_extents,
    fit_box,
    grow_to_prior,
    mirror_completed,
    search_heading,
    stride_length,
)
from squeezeseg.boxes import Box3D


def l_shape(yaw: float, length=4.0, width=1.6, center=(10.0, 5.0), n=60, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = np.r_[np.linspace(-length / 2, length / 2, n), np.full(n // 3, -length / 2)]
    v = np.r_[np.full(n, -width / 2), np.linspace(-width / 2, width / 2, n // 3)]
    c, s = np.cos(yaw), np.sin(yaw)
    xy = np.c_[u * c - v * s, u * s + v * c] + center + rng.normal(0, 0.01, (len(u), 2))
    return np.c_[xy, rng.uniform(-1.7, -0.2, len(u))]


def _angle_err(a: float, b: float) -> float:
    return float(np.degrees(abs(np.angle(np.exp(2j * (a - b)))) / 2))


@pytest.mark.parametrize("criterion", ["variance", "closeness"])
@pytest.mark.parametrize("yaw", [0.05, 0.4, 1.1, -0.7])
def test_search_fit_recovers_heading_and_size(criterion, yaw):
    box = fit_box(l_shape(yaw), criterion=criterion)
    assert _angle_err(box.yaw, yaw) < 2.0
    assert box.size[0] == pytest.approx(4.0, abs=0.1)
    assert box.size[1] == pytest.approx(1.6, abs=0.1)
    assert box.bev_iou(Box3D((10.0, 5.0, 0.0), (4.0, 1.6, 1.5), yaw)) > 0.9


def test_heading_search_step():
    assert _angle_err(search_heading(l_shape(0.3)[:, :2], step_deg=0.5), 0.3) < 1.0


@pytest.mark.parametrize("criterion", ["variance", "closeness"])
@pytest.mark.parametrize("yaw_deg", [17.5, 44.45, 89.6, -30.3])
def test_refined_heading_search_finds_headings_between_grid_steps(criterion, yaw_deg):
    # A 1 degree grid is up to half a degree off (5 cm at the end of a 12 m truck); refining
    # around its best at 0.1 degree finds the heading to the refinement step, modulo 90 degrees.
    xy = l_shape(np.radians(yaw_deg), length=8.0, width=2.5, n=400, seed=2)[:, :2]
    coarse = search_heading(xy, criterion, step_deg=1.0)
    fine = search_heading(xy, criterion, step_deg=1.0, refine_deg=0.1)
    assert 0.0 <= fine < np.pi / 2
    assert _heading_err(fine, np.radians(yaw_deg)) <= 0.1
    assert _heading_err(coarse, np.radians(yaw_deg)) > 0.25
    # The refinement finds what a fine grid over all headings finds, for 21 more headings.
    assert _heading_err(fine, search_heading(xy, criterion, step_deg=0.1)) <= 0.05


@pytest.mark.parametrize("criterion", ["variance", "closeness", "area"])
@pytest.mark.parametrize("yaw", [0.0, 1e-4, -1e-4, np.pi / 2])
def test_refined_heading_stays_in_its_range_at_the_grid_ends(criterion, yaw):
    # Refining around 0 looks at small negative headings; the result is still in [0, pi/2)
    # (np.mod maps -1e-17 to pi/2 itself).
    h = search_heading(l_shape(yaw)[:, :2], criterion, refine_deg=0.1)
    assert 0.0 <= h < np.pi / 2
    if criterion != "area":
        assert _heading_err(h, yaw) <= 0.3


def test_refined_heading_of_a_dense_cluster_uses_the_sample_and_hull():
    # Above max_points the refinement scores the sample against the hull's edges, as the grid does.
    pts = l_shape(np.radians(23.45), length=5.0, width=1.9, n=18000, seed=3)[:, :2]
    fine = search_heading(pts, "closeness", refine_deg=0.1)
    coarse = search_heading(pts, "closeness")
    assert _heading_err(fine, np.radians(23.45)) <= 0.25 < _heading_err(coarse, np.radians(23.45))
    assert _heading_err(fine, search_heading(pts, "closeness", max_points=10**9, refine_deg=0.1)) <= 0.25


def outline(yaw: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = rng.uniform(0, 1, 400)
    side = rng.integers(0, 4, 400)
    u = np.where(side < 2, (t - 0.5) * 4.0, np.where(side == 2, -2.0, 2.0))
    v = np.where(side < 2, np.where(side == 0, -0.8, 0.8), (t - 0.5) * 1.6)
    xy = np.c_[u * np.cos(yaw) - v * np.sin(yaw), u * np.sin(yaw) + v * np.cos(yaw)]
    return np.c_[xy, np.zeros(400)]


def test_area_criterion_fails_on_l_shapes_but_fits_full_outlines():
    # The hull of an L is a triangle whose smallest rectangle follows the hypotenuse (a known
    # weakness of the area criterion, why variance is the default).
    assert _angle_err(fit_box(outline(0.6), criterion="area").yaw, 0.6) < 2.0
    assert _angle_err(fit_box(l_shape(0.05), criterion="area").yaw, 0.05) > 5.0


def test_pca_fitter_on_a_full_rectangle_outline():
    assert _angle_err(fit_box(outline(0.6), method="pca").yaw, 0.6) < 3.0


def test_height_uses_ground_and_top():
    pts = l_shape(0.2)
    box = fit_box(pts, ground_z=-1.73)
    assert box.center[2] - box.size[2] / 2 == pytest.approx(-1.73)
    assert box.center[2] + box.size[2] / 2 == pytest.approx(pts[:, 2].max())


def test_tiny_clusters_still_give_a_box():
    assert fit_box(np.array([[20.0, 1.0, -1.0]])).size[0] > 0
    assert fit_box(np.array([[20.0, 1.0, -1.0], [20.2, 1.1, -0.5]])).center[0] == pytest.approx(20.1)
    with pytest.raises(ValueError):
        fit_box(np.zeros((0, 3)))


def test_prior_grows_away_from_the_sensor():
    # Only the rear face of a car 30 m ahead is seen: the box must extend forwards, not towards us.
    rear = Box3D((30.0, 0.0, -1.0), (1.7, 0.2, 1.4), np.pi / 2, "Car")
    grown = grow_to_prior(rear, (3.9, 1.6))
    assert grown.size[0] == pytest.approx(3.9) and grown.size[1] >= 1.6
    assert _angle_err(grown.yaw, 0.0) < 1e-6  # the visible side was the width
    assert grown.center[0] > 30.0
    big = Box3D((30.0, 0.0, -1.0), (4.5, 1.8, 1.4), 0.0)
    assert grow_to_prior(big, (3.9, 1.6)) == big


def test_ambiguous_l_takes_the_head_on_face_as_fully_seen():
    # An L of 1.75 m x 1.5 m fits a car either way round; the face seen head-on (the 1.75 m one,
    # spanning across the ray) is taken as complete, so it is the width and the box turns.
    box = Box3D((30.0, 2.0, -1.0), (1.75, 1.5, 1.4), np.pi / 2, "Car")
    grown = grow_to_prior(box, (3.9, 1.6))
    assert _angle_err(grown.yaw, 0.0) < 1e-6
    assert grown.size[0] == pytest.approx(3.9) and grown.center[0] > 30.0
    # The same L with the 1.75 m face along the ray (seen at a grazing angle) stays the length.
    kept = grow_to_prior(box.replace(yaw=0.0), (3.9, 1.6))
    assert _angle_err(kept.yaw, 0.0) < 1e-6


def test_face_extents_ignore_sloped_upper_surfaces():
    # Rear face (low, 1.6 m across) and rear-window rows spread 1.5 m along the ray up high.
    rng = np.random.default_rng(0)
    rear = np.c_[np.full(40, 30.0), rng.uniform(-0.8, 0.8, 40), rng.uniform(-1.6, -1.0, 40)]
    window = np.c_[rng.uniform(30.2, 31.7, 20), rng.uniform(-0.6, 0.6, 20), rng.uniform(-0.6, -0.4, 20)]
    fl, fw = face_extents(np.r_[rear, window], 0.0)
    assert fl < 0.3 and fw == pytest.approx(1.6, abs=0.1)


@pytest.mark.parametrize("criterion", ["variance", "closeness", "area"])
def test_dense_cluster_heading_from_a_sample_matches_all_points(criterion):
    # 24,000 points (a van a few metres away): the criterion is averaged over 2,000 of them, the
    # edges still come from all (convex hull), so the heading is that of the full search.
    pts = l_shape(0.4, length=5.0, width=1.9, n=18000, seed=3)[:, :2]
    full = search_heading(pts, criterion, max_points=10**9)
    assert _angle_err(search_heading(pts, criterion), full) <= 1.0
    assert _angle_err(full, 0.4) < 2.0 or criterion == "area"
    # Trimmed edges (one-click's default) come from the sample itself.
    trimmed = search_heading(pts, criterion, max_points=10**9, edge_trim=0.01)
    assert _angle_err(search_heading(pts, criterion, edge_trim=0.01), trimmed) <= 1.0
    # Collinear points (a lone face) have no hull: the full search is used.
    line = np.c_[np.linspace(0, 4, 5000), np.linspace(0, 4, 5000) * 0.5]
    assert _angle_err(search_heading(line, criterion), np.arctan(0.5)) < 1.0 or criterion == "area"


def trailer_with_strays(yaw: float, seed: int = 0) -> np.ndarray:
    """A 2.4 x 1.5 m trailer seen from 9 m (as in KITTI frame 000002): a dense head-on face (1,000
    returns) and a sparser side (250), plus 33 stray returns beyond them: two drawbar clumps 25 cm
    ahead of the face and a row 10 cm outside the side (a wheel, a kerb, mixed-pixel returns)."""
    rng = np.random.default_rng(seed)
    u = np.r_[np.full(1000, -1.2), np.linspace(-1.2, 1.0, 250), np.full(4, -1.45), np.full(4, -1.42)]
    v = np.r_[np.linspace(-0.75, 0.75, 1000), np.full(250, 0.75), np.full(4, -0.55), np.full(4, 0.6)]
    u, v = np.r_[u, np.linspace(-0.5, 0.3, 25)], np.r_[v, np.full(25, 0.85)]
    c, s = np.cos(yaw), np.sin(yaw)
    return np.c_[u * c - v * s, u * s + v * c] + (8.8, -3.2) + rng.normal(0, 0.015, (len(u), 2))


def _heading_err(a: float, b: float) -> float:
    """Degrees between two rectangle headings (known modulo 90 degrees)."""
    return float(np.degrees(abs(np.angle(np.exp(4j * (a - b)))) / 4))


@pytest.mark.parametrize("yaw", [-0.1, 0.2, 0.6, 1.0, -0.5])
def test_stray_points_beyond_a_face_do_not_tilt_the_heading(yaw):
    # With the edges at the extreme points the strays hold them 10-25 cm off both faces, the
    # faces' 1,250 points score as interior points, and closeness tilts 5-9 degrees (the KITTI
    # trailer: 10.8). Edges placed past the 1 % outermost points per side sit on the faces.
    xy = trailer_with_strays(yaw)
    assert _heading_err(search_heading(xy, "closeness", edge_trim=0.0), yaw) > 4.0
    assert _heading_err(search_heading(xy, "closeness", edge_trim=0.01), yaw) < 1.5
    assert _heading_err(search_heading(xy, "variance", edge_trim=0.01), yaw) < 1.5
    # The trimmed edges only steer the heading: the box still encloses every point.
    box = fit_box(np.c_[xy, np.zeros(len(xy))], "Misc", criterion="closeness", edge_trim=0.01)
    assert Box3D(box.center, (box.size[0] + 1e-6, box.size[1] + 1e-6, 1.0), box.yaw).contains(
        np.c_[xy, np.full(len(xy), box.center[2])]
    ).all()


def test_edge_trim_leaves_small_clusters_alone():
    # Fewer than 1 / edge_trim points: nothing is trimmed, the published search is unchanged.
    xy = l_shape(0.4, n=60)[:, :2]
    assert search_heading(xy, "closeness", edge_trim=0.01) == search_heading(xy, "closeness")


def test_edge_trim_too_small_for_the_sample_is_the_untrimmed_search():
    # 0.0001 of a 2,000-point sample drops no point: the edges are the extremes of all the
    # points (hull), exactly as without trimming, not the extremes of the sample.
    pts = l_shape(0.4, length=5.0, width=1.9, n=18000, seed=3)[:, :2]
    for criterion in ("variance", "closeness", "area"):
        assert search_heading(pts, criterion, edge_trim=1e-4) == search_heading(pts, criterion)


@pytest.mark.parametrize("trim", [-0.01, 0.5, float("nan")])
def test_edge_trim_outside_its_range_is_refused(trim):
    with pytest.raises(ValueError, match="edge_trim"):
        search_heading(l_shape(0.4, n=60)[:, :2], edge_trim=trim)


def _scanned_trunk(centre, a=0.19, b=0.12, yaw=0.7, step=0.0015) -> np.ndarray:
    """Returns of a sensor at the origin on an upright elliptic column (semi-axes ``a`` across
    the shoulders, ``b`` front to back, ``a`` along ``yaw`` + 90 degrees): one ray every ``step``
    radians of azimuth, the nearest hit, at five heights 0.9-1.5 m above the ground (z = -1.73)."""
    c, s = np.cos(yaw), np.sin(yaw)
    centre = np.asarray(centre, dtype=np.float64)
    phi0 = np.arctan2(centre[1], centre[0])
    rows = []
    for phi in np.arange(phi0 - 0.05, phi0 + 0.05, step):
        d = np.array([np.cos(phi), np.sin(phi)])
        # the ray t * d in the ellipse's frame (u along yaw: depth b, v across: a)
        p0 = -centre
        pu, pv = p0 @ (c, s), p0 @ (-s, c)
        du, dv = d @ (c, s), d @ (-s, c)
        qa = (du / b) ** 2 + (dv / a) ** 2
        qb = 2 * (pu * du / b**2 + pv * dv / a**2)
        qc = (pu / b) ** 2 + (pv / a) ** 2 - 1
        disc = qb * qb - 4 * qa * qc
        if disc < 0:
            continue
        t = (-qb - np.sqrt(disc)) / (2 * qa)
        rows += [[*(t * d), z] for z in (-0.83, -0.68, -0.53, -0.38, -0.23)]
    return np.array(rows)


@pytest.mark.parametrize("yaw", [0.0, 0.7, 1.57, 2.5])
@pytest.mark.parametrize("rng", [8.0, 20.0])
def test_body_centre_of_a_scanned_trunk_is_its_centre(yaw, rng):
    # The near side of a trunk (0.38 m across, 0.24 m deep), one return per azimuth step: the
    # median across the ray and the median range plus 0.1 m put the centre on the body, within
    # 0.02 m seen from the front or back; seen from the side the near side is 0.16 m short of
    # the centre, and the centre stays up to 0.06 m near. The box of the seen points stands
    # further off.
    centre = rng * np.array([np.cos(0.4), np.sin(0.4)])
    pts = _scanned_trunk(centre, yaw=yaw)
    error = np.hypot(*(body_centre(pts, -1.73) - centre))
    assert error < 0.07, (yaw, rng, error)
    seen = np.hypot(*((pts[:, :2].min(axis=0) + pts[:, :2].max(axis=0)) / 2 - centre))
    assert seen > error


def test_body_centre_ignores_the_low_part_and_a_forearm_held_out():
    # Points below half the height (a bag, a hand at the hip) do not count; a forearm held out
    # at chest height moves the medians by its share of the points (the midpoint of the
    # outermost points moved half its reach), whatever the order of the points.
    centre = np.array([10.0, 5.0])
    trunk = _scanned_trunk(centre, yaw=0.3)
    side = np.array([-5.0, 10.0]) / np.hypot(5.0, 10.0)
    arm = np.array([[*(centre + side * r), z] for r in (0.22, 0.28, 0.34) for z in (-0.38, -0.53)])
    bag = np.array([[*(centre - side * 0.4), z] for z in (-1.4, -1.3, -1.2)])
    base = body_centre(trunk, -1.73)
    cloud = np.r_[trunk, arm, bag]
    got = body_centre(cloud, -1.73)
    assert np.hypot(*(got - base)) < 0.02
    shuffled = cloud[np.random.default_rng(1).permutation(len(cloud))]
    assert body_centre(shuffled, -1.73) == pytest.approx(got)


@pytest.mark.parametrize("yaw", [0.0, 0.4, 0.7, 1.2, 1.57, 2.5, -1.0])
def test_body_heading_is_across_the_shoulders(yaw):
    # A walker's trunk (shoulders 0.48 m across with the upper arms, 0.24 m deep) and legs
    # striding 0.8 m along the walking direction below the chest band, mirrored through the
    # body's centre as one-click does: the heading (modulo 180 degrees) is across the shoulder
    # line, within 15 degrees (an outline sampled evenly across the ray weighs the across-ray
    # direction more); the stride, the longest extent, would say the same only when walking.
    centre = np.array([12.0, 4.0])
    trunk = _scanned_trunk(centre, a=0.24, yaw=yaw)
    c, s = np.cos(yaw), np.sin(yaw)
    legs = np.array([[*(centre + k * np.array([c, s])), z] for k in (-0.4, 0.4) for z in (-1.6, -1.4, -1.2)])
    seen = np.r_[trunk, legs, [[*centre, 0.05]]]  # and the top of the head
    pts = mirror_completed(seen, body_centre(seen, -1.73))
    error = np.degrees(abs(np.angle(np.exp(2j * (body_heading(pts, -1.73) - yaw)))) / 2)
    assert error < 15.0, (yaw, error)


@pytest.mark.parametrize("yaw", [0.0, 0.9, 2.5])
def test_stride_length_spans_the_shins_plus_a_foot(yaw):
    # A 1.73 m walker's shins 0.8 m apart along the walking direction: heel to toe is that plus
    # one foot (0.152 x the stature); standing, the shins side by side say a short stride, below
    # any mean box length; measured across the facing direction, neither counts.
    centre = np.array([12.0, 4.0])
    c, s = np.cos(yaw), np.sin(yaw)
    trunk = _scanned_trunk(centre, a=0.24, yaw=yaw)

    def person(offsets):
        legs = [[*(centre + k), z] for k in offsets for z in (-1.7, -1.6, -1.4)]
        return np.r_[trunk, legs, [[*centre, 0.0]]]

    walking = person([k * np.array([c, s]) for k in (-0.4, 0.4)])
    assert stride_length(walking, yaw, -1.73) == pytest.approx(0.8 + 0.152 * 1.73, abs=0.01)
    assert stride_length(walking, yaw + np.pi / 2, -1.73) < 0.35
    standing = person([k * np.array([-s, c]) for k in (-0.1, 0.1)])
    assert stride_length(standing, yaw, -1.73) < 0.84
    assert stride_length(trunk, yaw, -1.73) == 0.0  # no legs seen


def test_mirror_completed_reflects_through_the_centre_and_keeps_heights():
    pts = np.array([[10.0, 5.0, -1.0], [10.2, 4.9, 0.3]])
    out = mirror_completed(pts, np.array([10.1, 5.1]))
    assert out.shape == (4, 3)
    np.testing.assert_allclose(out[:2], pts)
    np.testing.assert_allclose(out[2:], [[10.2, 5.2, -1.0], [10.0, 5.3, 0.3]])
