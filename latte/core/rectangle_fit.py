"""Rectangle fitting of a clustered object into a Box3D.

The search-based fit of LATTE (Zhang et al., "Efficient L-shape fitting"): the heading is searched
over 0-90 degrees, the points are projected on two perpendicular edges and the heading scoring best
by the chosen criterion (variance, closeness or area) wins. All headings are scored at once as one
(points x angles) array. A PCA fitter sits behind the same interface.

The criteria measure every point against the rectangle's edges, which the published algorithm puts
at the extreme points. Real clusters carry a few stray returns beyond a face (mixed-pixel returns
trailing along the ray at a silhouette, a kerb, a drawbar or vegetation joined at the base): 20 cm
beyond a dense face they move the edge off it, the face's points then score as if they were inside
the object, and the search settles on whatever heading lines the strays up with some other points
(a trailer seen from 9 m: 10.8 degrees off with 41 strays among 1,363 points). With ``edge_trim``
the edges are placed at the extremes of all but that fraction of the points on each side, and
distances are measured to the edge lines on either side of them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from squeezeseg.boxes import Box3D, wrap_angle

Criterion = Literal["variance", "closeness", "area"]


#: Clusters with fewer points are never trimmed: a sparse far object resolves no protrusion (a
#: mirror, a drawbar), and its few extreme points are its faces.
MIN_TRIM_POINTS = 100


def _edges(c: np.ndarray, trim: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Low and high edge of every column of projections ``c`` ((points, angles)): the extremes,
    or with ``trim`` > 0 the k-th smallest and largest value, k = floor(trim x points), so that
    up to k stray points beyond a face do not move its edge (below ``MIN_TRIM_POINTS`` points or
    1 / trim points: the extremes)."""
    n = len(c)
    k = min(int(trim * n), (n - 1) // 2) if n >= MIN_TRIM_POINTS else 0
    if k == 0:
        return c.min(axis=0), c.max(axis=0)
    ordered = np.sort(c, axis=0)  # NumPy's vectorised sort: 3x faster here than np.partition
    return ordered[k], ordered[n - 1 - k]


def _edge_distances(c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance of every projection to the nearer of the two edge lines (per angle column); a
    point beyond a (trimmed) edge is as far from it as it is beyond. Computed as
    | half-width - |c - mid| | in place: these (points x angles) arrays are most of a click's time."""
    d = c - (lo + hi) / 2
    np.abs(d, out=d)
    np.subtract((hi - lo) / 2, d, out=d)
    return np.abs(d, out=d)


def _score(
    c1: np.ndarray,
    c2: np.ndarray,
    criterion: Criterion,
    edges: tuple[np.ndarray, ...] | None = None,
    trim: float = 0.0,
) -> np.ndarray:
    """Score of every heading (column); ``edges`` = (lo1, hi1, lo2, hi2) of all the points when
    ``c1``, ``c2`` are the projections of a sample of them, else the edges are those of ``c1``,
    ``c2`` trimmed by ``trim`` (see ``_edges``)."""
    if edges is None:
        edges = (*_edges(c1, trim), *_edges(c2, trim))
    lo1, hi1, lo2, hi2 = edges
    if criterion == "area":
        return -(hi1 - lo1) * (hi2 - lo2)
    d1, d2 = _edge_distances(c1, lo1, hi1), _edge_distances(c2, lo2, hi2)
    if criterion == "closeness":
        d = np.minimum(d1, d2, out=d1)
        np.maximum(d, 0.01, out=d)
        return np.reciprocal(d, out=d).sum(axis=0)
    # variance: points are assigned to the nearer edge; minimise the spread of their distances.
    on1 = d1 <= d2
    n1, n2 = on1.sum(axis=0), (~on1).sum(axis=0)
    v1 = _masked_var(d1, on1, n1)
    v2 = _masked_var(d2, ~on1, n2)
    return -(v1 + v2)


def _masked_var(d: np.ndarray, m: np.ndarray, n: np.ndarray) -> np.ndarray:
    safe = np.maximum(n, 1)
    s = np.where(m, d, 0.0)
    mean = s.sum(axis=0) / safe
    return np.where(n > 0, (np.where(m, d * d, 0.0).sum(axis=0) / safe - mean * mean), 0.0)


def search_heading(
    xy: np.ndarray,
    criterion: Criterion = "variance",
    step_deg: float = 1.0,
    max_points: int = 2000,
    edge_trim: float = 0.0,
    refine_deg: float = 0.0,
) -> float:
    """Heading in [0, pi/2) of the rectangle that best explains the 2D points.

    ``edge_trim``: fraction of the points on each side of the rectangle that may lie beyond its
    edges as strays (0: the edges are the extreme points, as published). ``refine_deg`` (below
    ``step_deg``; else ignored): the best heading of the ``step_deg`` grid is refined at this step
    within one coarse step on either side, which finds the criterion's optimum to ``refine_deg``
    for 2 x step / refine + 1 more headings (21 at 1 and 0.1 degree) instead of 10x as many.

    Every heading costs a pass over the points, so a dense near object (20,000 points of a van
    at 5 m) would take a fifth of a second: above ``max_points`` the criterion is averaged over an
    even sample of ``max_points`` points, while the edges still come from all of them (their
    extremes along every direction lie on the convex hull; trimmed edges come from the sample).
    """
    if not 0 <= edge_trim < 0.5:
        raise ValueError(f"edge_trim must be in [0, 0.5), got {edge_trim}")
    xy = np.asarray(xy, dtype=np.float64)
    xy = xy - xy.mean(axis=0)
    hull = None
    if len(xy) > max_points:
        sample = xy[:: -(-len(xy) // max_points)]
        # Untrimmed edges (also a trim too small to drop a point of the sample) are the extremes
        # of all the points, taken from their hull; trimmed ones come from the sample.
        trimmed = int(edge_trim * len(sample)) > 0
        hull = None if trimmed else convex_hull_xy(xy)
        if hull is not None or trimmed:
            xy = sample
    best = _best_heading(xy, hull, np.radians(np.arange(0.0, 90.0, step_deg)), criterion, edge_trim)
    if 0 < refine_deg < step_deg:
        n = int(np.floor(step_deg / refine_deg + 1e-9))
        offsets = np.radians(np.arange(-n, n + 1) * refine_deg)  # integer multiples: 0 is exactly 0
        best = _best_heading(xy, hull, best + offsets, criterion, edge_trim)
    heading = float(np.mod(best, np.pi / 2))  # a rectangle's heading is known modulo 90 degrees
    return 0.0 if heading >= np.pi / 2 else heading  # np.mod rounds -1e-17 up to pi / 2


def _best_heading(
    xy: np.ndarray, hull: np.ndarray | None, angles: np.ndarray, criterion: Criterion, trim: float
) -> float:
    """The one of ``angles`` whose rectangle scores best; edges from ``hull`` when given."""
    cos, sin = np.cos(angles), np.sin(angles)
    edges = None
    if hull is not None:
        h1 = hull[:, :1] * cos + hull[:, 1:2] * sin
        h2 = -hull[:, :1] * sin + hull[:, 1:2] * cos
        edges = (h1.min(axis=0), h1.max(axis=0), h2.min(axis=0), h2.max(axis=0))
    # Projections on both edge directions of every heading, as two matrix products (BLAS: 10x
    # faster than the broadcast products).
    c1, c2 = xy @ np.stack([cos, sin]), xy @ np.stack([-sin, cos])
    return float(angles[int(np.argmax(_score(c1, c2, criterion, edges, trim)))])


def convex_hull_xy(xy: np.ndarray) -> np.ndarray | None:
    """Vertices of the 2D convex hull of ``xy`` ((N, 2)), or None for degenerate (collinear)
    points. The extent of the points along any direction is the extent of these vertices."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return xy[ConvexHull(xy).vertices]
    except QhullError:
        return None


def pca_heading(xy: np.ndarray) -> float:
    """Heading of the principal axis of the 2D points."""
    xy = np.asarray(xy, dtype=np.float64)
    xy = xy - xy.mean(axis=0)
    _, vecs = np.linalg.eigh(xy.T @ xy)
    v = vecs[:, -1]
    return float(np.arctan2(v[1], v[0]))


def rectangle_at(xy: np.ndarray, heading: float) -> tuple[np.ndarray, float, float, float]:
    """Bounding rectangle of the points at ``heading``: (centre (2,), length, width, yaw); the
    longer side is the length."""
    c, s = np.cos(heading), np.sin(heading)
    u = xy[:, 0] * c + xy[:, 1] * s
    v = -xy[:, 0] * s + xy[:, 1] * c
    u0, u1, v0, v1 = u.min(), u.max(), v.min(), v.max()
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    center = np.array([cu * c - cv * s, cu * s + cv * c])
    length, width = u1 - u0, v1 - v0
    if width > length:
        length, width, heading = width, length, heading + np.pi / 2
    return center, float(length), float(width), float(np.arctan2(np.sin(heading), np.cos(heading)))


def fit_box(
    points: np.ndarray,
    label: str = "Car",
    method: Literal["search", "pca"] = "search",
    criterion: Criterion = "variance",
    step_deg: float = 1.0,
    ground_z: float | None = None,
    min_size: float = 0.1,
    edge_trim: float = 0.0,
    refine_deg: float = 0.0,
) -> Box3D:
    """Box3D around a cluster ((N, >=3) points, N >= 1): heading by ``method`` (``edge_trim``,
    ``refine_deg``: see ``search_heading``), extents from all the points, bottom at ``ground_z``
    when given (else the lowest point), top at the highest point."""
    p = np.asarray(points, dtype=np.float64)[:, :3]
    if len(p) == 0:
        raise ValueError("fit_box needs at least one point")
    xy = p[:, :2]
    if len(p) < 3:
        heading = float(np.arctan2(xy[:, 1].mean(), xy[:, 0].mean()))
    elif method == "pca":
        heading = pca_heading(xy)
    else:
        heading = search_heading(xy, criterion, step_deg, edge_trim=edge_trim, refine_deg=refine_deg)
    center, length, width, yaw = rectangle_at(xy, heading)
    z0 = float(p[:, 2].min()) if ground_z is None else min(float(ground_z), float(p[:, 2].min()))
    z1 = float(p[:, 2].max())
    size = (max(length, min_size), max(width, min_size), max(z1 - z0, min_size))
    return Box3D(center=(center[0], center[1], (z0 + z1) / 2), size=size, yaw=yaw, label=label)


def grow_to_prior(
    box: Box3D,
    prior_lw: tuple[float, float],
    sensor_xy: tuple[float, float] = (0.0, 0.0),
    face_lw: tuple[float, float] | None = None,
) -> Box3D:
    """Grow a box fitted to a partial view to at least the class's typical length and width.

    The visible faces are the ones nearest the sensor, so each too-short side is extended away
    from the sensor, keeping its near edge fixed. ``face_lw`` (default: the box's length and
    width) are the extents of the visible vertical faces along the box's axes, which decide
    whether the long fitted side is the object's length or its width.
    """
    l, w, h = box.size
    pl, pw = prior_lw
    if l >= pl and w >= pw:
        return box
    fl, fw = (l, w) if face_lw is None else face_lw
    view = np.asarray(box.center[:2]) - np.asarray(sensor_xy)
    along = abs(np.cos(box.yaw) * view[0] + np.sin(box.yaw) * view[1]) / max(np.hypot(*view), 1e-9)
    if _visible_side_is_width(fl, fw, pl, pw, head_on_is_end=along >= np.sqrt(0.5)):
        # Only the front or back face is visible (a car seen from behind): the long fitted side
        # is the object's width, so the heading is perpendicular to it.
        box = box.replace(size=(w, l, h), yaw=float(np.arctan2(np.cos(box.yaw), -np.sin(box.yaw))))
        l, w = w, l
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    ex, ey = np.array([c, s]), np.array([-s, c])
    center = np.asarray(box.center[:2])
    away = center - np.asarray(sensor_xy)
    if l < pl:
        center = center + ex * np.sign(away @ ex or 1.0) * (pl - l) / 2
        l = pl
    if w < pw:
        center = center + ey * np.sign(away @ ey or 1.0) * (pw - w) / 2
        w = pw
    return box.replace(center=(center[0], center[1], box.center[2]), size=(l, w, h))


def prior_boxes(box: Box3D, prior_lw: tuple[float, float]) -> list[Box3D]:
    """Every box of at least the class's typical length and width that keeps ``box`` (fitted to a
    partial view) flush with one end of each grown side: both ways of taking the fitted sides as
    length and width, and both ends to grow each too-short side from.

    Which is right the fitted points alone often cannot tell (a lone face 1.5 m long is a car's
    rear or part of its side; the side's unseen part may lie on either end when the growth did
    not reach it); ``OneClickAnnotator`` lets the points around the object decide."""
    out = []
    l, w, h = box.size
    for swap in (False, True):
        yaw = float(np.arctan2(np.cos(box.yaw), -np.sin(box.yaw))) if swap else box.yaw
        sl, sw = (w, l) if swap else (l, w)
        c, s = np.cos(yaw), np.sin(yaw)
        ex, ey = np.array([c, s]), np.array([-s, c])
        gl, gw = max(sl, prior_lw[0]), max(sw, prior_lw[1])
        for dl in (-1.0, 1.0) if sl < gl else (0.0,):
            for dw in (-1.0, 1.0) if sw < gw else (0.0,):
                c = np.asarray(box.center[:2]) + ex * dl * (gl - sl) / 2 + ey * dw * (gw - sw) / 2
                out.append(box.replace(center=(c[0], c[1], box.center[2]), size=(gl, gw, h), yaw=yaw))
    return out


def face_extents(points: np.ndarray, yaw: float, low_fraction: float = 0.5) -> tuple[float, float]:
    """Extents along a box's length and width axes (heading ``yaw``) of the points in the lower
    ``low_fraction`` of the cluster's height: the vertical faces (a car's rear, its side), not the
    roof, bonnet or rear window, which spread along the sensor's ray as sloped surfaces do."""
    p = np.asarray(points, dtype=np.float64)
    z0, z1 = p[:, 2].min(), p[:, 2].max()
    low = p[p[:, 2] <= z0 + low_fraction * (z1 - z0)]
    if len(low) < 3:
        low = p
    c, s = np.cos(yaw), np.sin(yaw)
    u = low[:, 0] * c + low[:, 1] * s
    v = -low[:, 0] * s + low[:, 1] * c
    return float(np.ptp(u)), float(np.ptp(v))


def _visible_side_is_width(
    l: float, w: float, pl: float, pw: float, head_on_is_end: bool = True, thin: float = 0.3
) -> bool:
    """Whether the fitted side along the box's length axis (extent ``l``) is the object's width.

    Both assignments of the fitted extents (``l`` along the box axis, ``w`` across) to the
    prior's sides are scored by how far each visible side is from its prior, in log ratio: a side
    seen shorter than its prior costs little (a partial view is normal), one longer than 1.15 x
    its prior (priors are class means) costs much. A side thinner than ``thin`` (a lone face) is
    not scored. When both are shorter than their priors the sizes cannot tell (the costs tie):
    the face seen head-on is taken as fully seen (a grazing face loses its far end), so it is
    the prior side its extent is nearer to. ``head_on_is_end``: the face across the box axis
    (extent ``w``) is the one facing the sensor.
    """

    def cost(v: float, p: float) -> float:
        p *= 1.15
        return 0.3 * float(np.log(p / v)) if v < p else 4.0 * float(np.log(v / p))

    def scored(v: float) -> bool:
        return v >= thin

    as_length = (cost(l, pl) if scored(l) else 0.0) + (cost(w, pw) if scored(w) else 0.0)
    as_width = (cost(l, pw) if scored(l) else 0.0) + (cost(w, pl) if scored(w) else 0.0)
    if abs(as_width - as_length) > 0.05 or not (scored(l) and scored(w)):
        return as_width < as_length
    seen = w if head_on_is_end else l  # extent of the head-on face
    is_width = abs(np.log(seen / pw)) < abs(np.log(seen / pl))
    return is_width != head_on_is_end


#: The part of a person above this fraction of their height (above the ground) sets the centre
#: of their body: the trunk, shoulders and head. Below it hang the hands (the wrist is at about
#: 0.49 x the stature, the hip joint at 0.52) and whatever they carry, and the legs stride;
#: none of these is symmetric about the body's centre seen from the sensor.
UPPER_BODY = 0.5

#: The centre of a person lies at least this far (m) beyond the median range of the near side
#: of their upper body: a round trunk of radius r sampled evenly across the ray shows a near
#: side whose median depth is 0.87 r short of its centre, 0.1 m for a trunk about 0.24 m deep
#: (a chest is 0.2-0.25 m deep, clothes included) ...
NEAR_SIDE_DEPTH = 0.1
#: ... and at most this far: 0.87 x the half-depth of the deepest person (0.7 m, arms or a
#: backpack seen from the side).
NEAR_SIDE_DEPTH_MAX = 0.3

#: Points this close (m) across the ray to the outermost are tied for the silhouette: several
#: beams hitting one vertical edge (their range noise moves them along the ray, not across
#: it); of them the farthest along the ray is the grazing one, whatever the order of the points.
SILHOUETTE_TIE = 0.001


def body_centre(
    points: np.ndarray,
    ground_z: float | None = None,
    upper: float = UPPER_BODY,
    depth: tuple[float, float] = (NEAR_SIDE_DEPTH, NEAR_SIDE_DEPTH_MAX),
) -> np.ndarray:
    """Bird's-eye centre (2,) of a person seen from the sensor at the origin, from the points
    higher than ``upper`` x their height above ``ground_z`` (all of them with fewer than three
    there; the lowest point stands for the ground when None): across the sensor's ray to the
    points' mean, the median of those points; along it, their median range plus the depth of
    the body's centre behind it, which the silhouette says (the midpoint of the two outermost
    points across the ray is the centre of a convex body symmetric about it) within ``depth``
    (m).

    The sensor sees the near side of a body, sampled evenly across the ray (one return per
    azimuth step) between the two points where the line of sight grazes it; for a body
    symmetric about its centre those are symmetric about the centre, and so is their median.
    A median moves with a hand held out, a bag or a neighbour's arm in the cluster by at most
    their share of the points, the outermost points (alone, the centre before 6 Dec) with
    whichever is outermost: a forearm held out 0.34 m moved that centre 0.08 m (median,
    synthetic walking people; 0.024 m now). Along the ray the outermost points give the body's
    depth (0.3 m behind a near side 0.6 m deep) but also follow a hand or the returns that
    trail along the ray behind the body's edges, so their depth is kept within what a body's
    can be. On the simulated scenes (seeds 0-15, 34 views of people in frames 0, 15, 30, 45,
    60) the centre is 0.043 m from the body's (median; p90 0.105 m), with the outermost points
    alone 0.050 m (0.126), with the medians and a fixed 0.1 m 0.042 m (0.169)."""
    p = np.asarray(points, dtype=np.float64)[:, :3]
    base = float(p[:, 2].min()) if ground_z is None else float(ground_z)
    height = p[:, 2] - base
    top = p[height >= upper * height.max()]
    if len(top) < 3:
        top = p
    ray = top[:, :2].mean(axis=0)
    dist = max(float(np.hypot(*ray)), 1e-9)
    r = ray / dist
    n = np.array([-r[1], r[0]])
    along, across = top[:, :2] @ r, top[:, :2] @ n
    lo = np.flatnonzero(across <= across.min() + SILHOUETTE_TIE)
    hi = np.flatnonzero(across >= across.max() - SILHOUETTE_TIE)
    grazing = (along[lo].max() + along[hi].max()) / 2
    near = float(np.median(along))
    return (near + float(np.clip(grazing - near, *depth))) * r + float(np.median(across)) * n


def height_fractions(points: np.ndarray, ground_z: float | None = None) -> tuple[np.ndarray, float]:
    """Each point's height above ``ground_z`` (the lowest point when None) as a fraction of the
    highest one's, and that height (m, the stature of a person): the body bands are fractions."""
    base = float(points[:, 2].min()) if ground_z is None else float(ground_z)
    stature = max(float(points[:, 2].max()) - base, 1e-9)
    return (points[:, 2] - base) / stature, stature


#: The chest band of a person, as fractions of their height above the ground: from the elbow
#: (0.63 x the stature) to the chin (0.87), the trunk and upper arms, whose section is widest
#: across the shoulders (about 0.45 m against a chest 0.25 m deep) in any pose. Below it the
#: forearms and hands swing along the walking direction and the legs stride along it; above it
#: is the round head. (Segment proportions after Drillis and Contini, as tabulated by Winter,
#: "Biomechanics and Motor Control of Human Movement".)
CHEST_BAND = (0.63, 0.87)


def body_heading(
    points: np.ndarray, ground_z: float | None = None, band: tuple[float, float] = CHEST_BAND
) -> float:
    """Facing (walking) direction, modulo pi, of a person whose ``points`` ((N, >=3)) are their
    returns mirrored through the body's centre (``mirror_completed``): perpendicular to the
    principal axis of the points in the chest ``band`` (fractions of the height above
    ``ground_z``; the lowest point when None), the shoulder line. With fewer than six points
    there, the points above ``UPPER_BODY``; then all of them.

    Mirrored, the points are spread as the body is, around its centre; the near half alone
    spreads across the sensor's ray whichever way the person faces. KITTI's box of a person
    has its length along the walking direction (the class mean is 0.84 m along it, 0.66 m
    across), the stride's direction, but the legs stride only when walking and stand side by
    side otherwise, and the swinging arms go either way: the shoulders are across the facing
    direction in every pose."""
    p = np.asarray(points, dtype=np.float64)[:, :3]
    frac, _ = height_fractions(p, ground_z)
    chest = p[(frac >= band[0]) & (frac <= band[1])]
    if len(chest) < 6:
        chest = p[frac >= UPPER_BODY]
    if len(chest) < 6:
        chest = p
    return float(wrap_angle(pca_heading(chest[:, :2]) + np.pi / 2))  # the shoulder line turned by +90 degrees


#: The legs below the knee, as a fraction of the stature above the ground (the knee joint is
#: at 0.285 x the stature): in a stride the shins of the two legs are apart along the walking
#: direction; standing, side by side.
SHIN_BAND = (0.0, 0.3)
#: A foot is 0.152 x the stature long (heel to toe). The shins' returns lie over the ankles;
#: the toe of the front foot and the heel of the back one reach about one foot's length
#: further, together.
FOOT_LENGTH = 0.152


def stride_length(points: np.ndarray, yaw: float, ground_z: float | None = None) -> float:
    """Heel-to-toe length (m) of a person's stride along their facing direction ``yaw``:
    the extent along it of their returns ``points`` ((N, >=3), as seen, not mirrored) in the
    shin band (``SHIN_BAND``) plus one foot's length (``FOOT_LENGTH`` x the stature); 0 with
    fewer than three points there.

    KITTI's annotators box a walking person around the whole stride (the walking person of
    kitti_object/000000, legs 0.87 m apart, has a 1.20 m long box against the class's mean
    0.84 m); a person standing has shins side by side, 0.2 m deep, far inside the mean."""
    p = np.asarray(points, dtype=np.float64)[:, :3]
    frac, stature = height_fractions(p, ground_z)
    shins = p[(frac >= SHIN_BAND[0]) & (frac <= SHIN_BAND[1]), :2]
    if len(shins) < 3:
        return 0.0
    along = shins @ np.array([np.cos(yaw), np.sin(yaw)])
    return float(np.ptp(along)) + FOOT_LENGTH * stature


def mirror_completed(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``points`` ((N, >=3)) followed by their bird's-eye point reflection through ``centre``
    (heights kept): the hidden far half of a centrally symmetric object, as the sensor would
    see it from the opposite side."""
    p = np.asarray(points, dtype=np.float64)[:, :3]
    mirrored = p.copy()
    mirrored[:, :2] = 2.0 * np.asarray(centre, dtype=np.float64)[:2] - p[:, :2]
    return np.concatenate([p, mirrored])
