"""One-click annotation (LATTE Algorithm 1): click on an object, get its fitted Box3D.

From the clicked location the object is grown over the non-ground points by breadth-first
expansion with KD-tree radius neighbourhoods. The radius adapts to the range of the clicked point
(the gap between neighbouring beams grows linearly with range), so sparse far objects stay
connected while near objects do not merge with their neighbours; the search is pruned to a square
the size of the largest plausible object around the click. Parts standing inside the fitted
box's footprint and below its top that the growth did not reach join it when the object stays
plausible, and so do pieces lying mostly inside a box of the class's typical size around the fit
(a far car in pieces). A person clustered with people beside them is cut between two heads.

A partial view is grown to its class's typical size, and the scan checks the growth: a box whose
silhouette, seen from the sensor, reaches past the object's points where nothing nearer hides it
stands where the sensor looked past it (sides swapped, or a side seen whole and the object smaller
than the mean). A person is fitted to their points and those points mirrored through the centre
of their upper body (the sensor sees the near half of a body), and boxed as KITTI boxes people:
the class's mean footprint around that centre, its length along the direction the person faces
(as long as the stride, heel to toe, when that is longer).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from latte.core.config import LatteConfig, load_latte_config
from latte.core.ground import GroundModel, fit_ground, ground_mask
from latte.core.rectangle_fit import (
    body_centre,
    body_heading,
    face_extents,
    fit_box,
    grow_to_prior,
    mirror_completed,
    prior_boxes,
    stride_length,
)
from squeezeseg.boxes import Box3D


def guess_label(size: tuple[float, float, float]) -> str:
    """A class for an unlabelled cluster from its extents (length, width, height)."""
    l, w, h = size
    if h > 2.6:
        return "Truck"
    if l < 1.2 and w < 1.2 and h > 1.0:
        return "Pedestrian"
    if l < 2.3 and w < 1.2 and h > 1.0:
        return "Cyclist"
    if l > 7.0:
        return "Truck"
    return "Car"


class OneClickAnnotator:
    """Cluster-and-fit around a clicked location of the current frame."""

    def __init__(self, config: LatteConfig | str | None = None):
        self.config = load_latte_config(config)
        self.points: np.ndarray | None = None
        self.ground: GroundModel | None = None
        self.is_ground: np.ndarray | None = None
        self._obj_idx = np.zeros(0, np.int64)  # indices (into points) of usable non-ground points
        self._obj_xyz = np.zeros((0, 3))
        self.angular_step = angular_step(self.config.oneclick.sensor, self.config.oneclick.z_scale)
        self._occ_az = self._occ_range = np.zeros(0)
        self.azimuth_step = azimuth_step(self.config.oneclick.sensor)

    def set_frame(self, points: np.ndarray, ground: np.ndarray | None = None) -> None:
        """Use ``points`` ((N, >=3), LiDAR frame; NaN rows are ignored) for the next clicks.

        ``ground`` optionally gives a precomputed (N,) ground mask.
        """
        pts = np.asarray(points)
        if pts.ndim != 2 or pts.shape[1] < 3:
            raise ValueError(f"points must be (N, >=3), got shape {pts.shape}")
        self.points = pts
        cfg = self.config
        self.ground = fit_ground(pts, cfg.ground)
        self.is_ground = (
            ground_mask(pts, cfg.ground, self.ground) if ground is None else np.asarray(ground, bool)
        )
        xyz = pts[:, :3].astype(np.float64)
        with np.errstate(invalid="ignore"):
            height = self.ground.height(np.nan_to_num(xyz), self.ground.cell)
            keep = (
                ~self.is_ground
                & np.isfinite(xyz.sum(axis=1))
                & (height < cfg.oneclick.max_height_above_ground)
            )
        self._obj_idx = np.flatnonzero(keep)
        self._obj_xyz = xyz[self._obj_idx]
        # Azimuths (sorted) and ranges of the object points: what may hide part of an object.
        az = np.arctan2(self._obj_xyz[:, 1], self._obj_xyz[:, 0])
        order = np.argsort(az)
        self._occ_az = az[order]
        self._occ_range = np.hypot(self._obj_xyz[order, 0], self._obj_xyz[order, 1])

    def radius_at(self, range_m: float) -> float:
        """Neighbourhood radius used for an object at ``range_m`` metres: ``gap_factor`` times the
        gap between neighbouring returns there (range x the sensor's angular step), so a few
        missing returns do not split an object; at least ``base_radius``, at most ``max_radius``."""
        c = self.config.oneclick
        return float(np.clip(c.gap_factor * range_m * self.angular_step, c.base_radius, c.max_radius))

    def cluster(self, x: float, y: float, label: str | None = None) -> np.ndarray:
        """Indices (into the frame's points) of the object at (x, y); empty when there is none.

        The search square is bounded by the largest plausible size of ``label`` (of
        ``oneclick.default_class`` when None) and a cluster larger than that (the object merged
        with a neighbour) is re-grown with a smaller radius, up to ``shrink_steps`` times.
        """
        grown = self._cluster(x, y, label)
        return np.zeros(0, np.int64) if grown is None else self._obj_idx[grown.region[grown.members]]

    def _cluster(self, x: float, y: float, label: str | None) -> _Grown | None:
        if self.points is None:
            raise RuntimeError("call set_frame(points) before click()")
        c = self.config.oneclick
        xyz = self._obj_xyz
        if not (np.isfinite(x) and np.isfinite(y)) or len(xyz) == 0:
            return None
        limit = self._plausible_size(label or c.default_class, given=label is not None)
        half = c.max_object_size / 2 if limit is None else min(c.max_object_size / 2, limit[0])
        region = np.flatnonzero((np.abs(xyz[:, 0] - x) <= half) & (np.abs(xyz[:, 1] - y) <= half))
        if len(region) == 0:
            return None
        sub = xyz[region]
        d2 = (sub[:, 0] - x) ** 2 + (sub[:, 1] - y) ** 2
        nearest = int(np.argmin(d2))
        if d2[nearest] > c.seed_radius**2:
            return None
        r = self.radius_at(float(np.hypot(sub[nearest, 0], sub[nearest, 1])))  # shrunk by 0.75 a step
        reach = c.seed_reach if limit is None else min(c.seed_reach, limit[1] / 2.6)
        graph = _Neighbours(_scan_frame(sub, x, y, c.radial_scale, c.z_scale), r)
        ground_z = self.ground.ground_z(x, y) if self.ground is not None else float(sub[:, 2].min())
        for step in range(c.shrink_steps + 1):
            comp = graph.components(r * 0.75**step)
            members = self._grow(comp, d2, nearest, r * 0.75**step, reach)
            fits = limit is None or _fits(sub[members], limit, ground_z)
            if fits or len(members) < c.min_points:
                break
        if len(members) < c.min_points:
            return None
        return _Grown(region, members, comp, limit, ground_z, fits, r * 0.75**step, sub, {})

    def _in_footprint(
        self,
        grown: _Grown,
        members: np.ndarray,
        box: Box3D,
        min_inside: float = 0.0,
        max_gap: float = np.inf,
    ) -> np.ndarray:
        """``members`` (indices into ``grown.region``) with the other components of ``grown``'s
        graph that lie in the bird's-eye footprint of ``box`` and below the members' top, each
        provided the object with it is still of a plausible size (smallest first: a neighbour
        touching the footprint is left out, the parts inside it are not); ``members`` unchanged
        for an object without a plausible size or already larger than it.

        A component is in the footprint when more than ``min_inside`` of its points are (0: it
        reaches in), and joins only when it comes within ``max_gap`` (bird's-eye, metres) of the
        object. Whatever stands inside an object's footprint and below its top is part of
        it, although the growth may not reach it: the inside of a trailer's front wall seen over
        its low side, the far side of a car seen through its windows, or parts cut off by a
        shrink step that separated the object from a neighbour (a trailer from the car towing it).
        """
        if grown.limit is None or not grown.fits:
            return members
        sub, comp = grown.sub, grown.comp
        corners = box.bev_corners()
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        near = np.flatnonzero(np.all((sub[:, :2] >= lo) & (sub[:, :2] <= hi), axis=1))
        local = box.to_local(sub[near])[:, :2]
        inside = np.zeros(len(sub), bool)
        inside[near[np.all(np.abs(local) <= np.asarray(box.size[:2]) / 2, axis=1)]] = True
        ours = np.zeros(int(comp.max()) + 1, bool)
        ours[comp[members]] = True
        reaching = np.unique(comp[inside])
        reaching = reaching[~ours[reaching]]
        if len(reaching) == 0:
            return members
        if "order" not in grown.cache:  # the points of component k: order[start[k]:end[k]]
            grown.cache["order"] = np.argsort(comp, kind="stable")
            grown.cache["sorted"] = comp[grown.cache["order"]]
        order = grown.cache["order"]
        start = np.searchsorted(grown.cache["sorted"], reaching)
        end = np.searchsorted(grown.cache["sorted"], reaching, side="right")
        top = sub[members, 2].max() + 0.1
        for i in np.argsort(end - start, kind="stable"):
            part = order[start[i] : end[i]]
            if sub[part, 2].max() > top:  # a branch over a car, a sign over a van
                continue
            if min_inside > 0 and inside[part].mean() <= min_inside:
                continue
            if np.isfinite(max_gap) and cKDTree(sub[members, :2]).query(sub[part, :2])[0].min() > max_gap:
                continue
            joined = np.union1d(members, part)
            if _fits(sub[joined], grown.limit, grown.ground_z):
                members = joined
        return members

    def _in_prior_box(self, grown: _Grown, members: np.ndarray, box: Box3D) -> np.ndarray:
        """``members`` with the components lying (``completion_inside``) in whichever box of the
        class's typical size around the fitted ``box`` (``rectangle_fit.prior_boxes``: either
        fitted side the length, grown from either end) takes in the most points.

        A far object often falls apart into pieces the growth cannot join (a car's side and its
        rear 0.6 m apart at 26 m; the upper rows of its side clicked on, its body below them
        apart), and the fitted piece alone says neither which side is which nor towards which
        end the rest lies: the piece that completes it to its class's size does."""
        cls = self.config.class_config(box.label)
        frac = self.config.oneclick.completion_inside
        if frac >= 1.0 or cls is None or not cls.grow_to_size or grown.limit is None:
            return members
        best = members
        gap = self.config.oneclick.completion_gap * grown.radius
        for hyp in prior_boxes(box, _prior_lw(cls.size, box.label)):
            joined = self._in_footprint(grown, members, hyp, frac, gap)
            if len(joined) > len(best):
                best = joined
        return best

    def _grow(self, comp: np.ndarray, d2: np.ndarray, nearest: int, r: float, reach: float) -> np.ndarray:
        # ``comp``: component of every point of the region in the radius-``r`` graph.
        # The click is 2D and lands inside the object seen from above: every point within
        # ``reach`` of it (at any height) seeds the growth, so a roof row seen at a grazing angle
        # or a stray point through a window cannot cut the seed off from the rest of the object.
        seeds = np.flatnonzero(d2 <= max(np.sqrt(d2[nearest]) + r, reach) ** 2)
        members = np.flatnonzero(np.isin(comp, comp[seeds]))
        if len(members) >= self.config.oneclick.min_points:
            return members
        # Only stray points near the click: grow from the next nearest points within the click
        # radius, nearest first, and keep the first real object (not everything within reach).
        near = np.flatnonzero(d2 <= self.config.oneclick.seed_radius**2)
        sizes = np.bincount(comp)
        for j in near[np.argsort(d2[near])]:
            if sizes[comp[j]] >= self.config.oneclick.min_points:
                return np.flatnonzero(comp == comp[j])
        return members

    def _plausible_size(self, label: str | None, given: bool = True) -> tuple[float, float, float] | None:
        """Largest plausible (l, w, h) of ``label``; the height bounds only a class the user gave."""
        cls = None if label is None else self.config.class_config(label)
        if cls is None:
            return None
        f = self.config.oneclick.plausible_factor
        return cls.size[0] * f, cls.size[1] * f, cls.size[2] * f if given else np.inf

    def click(self, x: float, y: float, label: str | None = None) -> Box3D | None:
        """Box3D of the object at (x, y) (metres, LiDAR frame), or None for "no object here".

        ``label`` is the class to give it (guessed from its size when None); the box carries the
        indices of its points in ``point_indices``. Points reaching into the footprint of the
        fitted rectangle join the object (see ``_in_footprint``) and the rectangle is refitted.
        """
        grown = self._cluster(x, y, label)
        if grown is None:
            return None
        members = self._one_person(grown, x, y, label)
        box = self._fit_rectangle(self._obj_idx[grown.region[members]], label)
        for complete in (self._in_footprint, self._in_prior_box):
            more = complete(grown, members, box)
            if len(more) > len(members):
                members = more
                box = self._fit_rectangle(self._obj_idx[grown.region[members]], label)
        return self._with_prior(box, self._obj_idx[grown.region[members]])

    def fit(self, idx: np.ndarray, label: str | None = None) -> Box3D:
        """Fit a box to the frame's points ``idx`` (the rectangle fit of the config)."""
        return self._with_prior(self._fit_rectangle(idx, label), idx)

    def _fit_rectangle(self, idx: np.ndarray, label: str | None) -> Box3D:
        """The rectangle fit of the config around the points ``idx``, labelled ``label`` (guessed
        from its size when None), before any size prior.

        A person (``whole_view_classes``) is fitted to their points and the points' mirror image
        through the centre of their upper body (``rectangle_fit.body_centre``): the sensor sees
        the near half of a body, and the box around that half alone sits half a body's depth too
        near the sensor. Mirrored, the hidden half is where the seen half says it is, and the
        box is centred on the body (``_person_box`` then gives it KITTI's size)."""
        c = self.config.oneclick
        pts = self._xyz(idx)
        gz = self._ground_under(pts)
        box = self._fit_as(pts, label or "Car", label, gz)
        if label is None:
            guess = guess_label(box.size)
            box = box.replace(label=guess)
            if self._fitter(guess) != c.fitter or self._is_person(guess):  # fitted its own way
                box = self._fit_as(pts, guess, guess, gz)
        return box

    def _ground_under(self, pts: np.ndarray) -> float | None:
        """Height of the ground under the points' mean, or None for a floating object (more than
        1 m above it: not stretched down to the road) or without a ground model."""
        if self.ground is None:
            return None
        gz = self.ground.ground_z(pts[:, 0].mean(), pts[:, 1].mean())
        return None if pts[:, 2].min() - gz > 1.0 else gz

    def _fit_as(self, pts: np.ndarray, name: str, label: str | None, gz: float | None) -> Box3D:
        """``fit_box`` of ``pts`` named ``name`` the way ``label``'s class is fitted: a person
        to the points and their mirror image (see ``_fit_rectangle``), anything else as seen."""
        c = self.config.oneclick
        search = {"edge_trim": c.edge_trim, "refine_deg": c.angle_refine_deg}
        if label is not None and self._is_person(label):
            pts = mirror_completed(pts, body_centre(pts, gz))
        return fit_box(pts, name, self._fitter(label), c.criterion, c.angle_step_deg, gz, **search)

    def _is_person(self, label: str) -> bool:
        """Whether ``label`` is one of the ``whole_view_classes`` (people)."""
        return label.lower() in {n.lower() for n in self.config.oneclick.whole_view_classes}

    def _with_prior(self, box: Box3D, idx: np.ndarray) -> Box3D:
        """``box`` grown to its class's typical size when it is a partial view, carrying ``idx``.

        A grown box whose silhouette, seen from the sensor, reaches more than ``silhouette_tol``
        metres (at the object's range) beyond the points' where nothing nearer could hide the
        rest is contradicted by the scan: the sensor looked past where it would stand. Then the
        box of the class's size around the fit (either side the length, grown from either end;
        ``rectangle_fit.prior_boxes``) reaching least beyond it is taken, when it is within the
        tolerance: a far car's rear face with a few roof returns, taken for part of its side,
        grows along the ray instead of 2 m across it. A person is not grown but given the
        class's mean footprint around the body's centre (``_person_box``)."""
        c = self.config.oneclick
        cls = self.config.class_config(box.label)
        if not (c.use_size_prior and cls is not None and cls.grow_to_size):
            return box.replace(point_indices=idx)
        pts = self._xyz(idx)
        prior = _prior_lw(cls.size, box.label)
        if self._is_person(box.label):
            return self._person_box(box, pts, prior).replace(point_indices=idx)
        grown = grow_to_prior(box, prior, face_lw=face_extents(pts, box.yaw))
        rng = float(np.hypot(pts[:, 0], pts[:, 1]).mean())
        if c.silhouette_tol > 0 and self._silhouette_excess(grown, pts) * rng > c.silhouette_tol:
            options = prior_boxes(box, prior)
            excess = [self._silhouette_excess(b, pts) * rng for b in options]
            if min(excess) <= c.silhouette_tol:
                grown = options[int(np.argmin(excess))]
        if cls.rigid:
            grown = self._sides_seen_whole(grown, box, pts)
        return grown.replace(point_indices=idx)

    def _person_box(self, box: Box3D, pts: np.ndarray, prior: tuple[float, float]) -> Box3D:
        """KITTI's box of a person (``whole_view_classes``): the class's mean footprint
        ``prior`` (l, w) centred where ``box`` is, on the centre of the body
        (``_fit_rectangle``), its length along the direction the person faces
        (``rectangle_fit.body_heading`` of the points mirrored through that centre), and as
        long as the stride (``rectangle_fit.stride_length``) when that is longer.

        KITTI's annotators box a person with a roughly fixed-size box, 0.84 m along the walking
        direction and 0.66 m across on average, whatever the pose; the extents of the points
        follow the pose and whatever the scan caught (a swinging hand, doubled on the far side
        by the mirroring; a bag; returns trailing along the ray behind the body's edges). What
        the points decide is the centre (on the simulated scenes 0.04 m from the body's, median)
        and the heading; for a near-square box the heading matters little (at the right centre
        a box turned 90 degrees still has IoU 0.65 with the unturned one)."""
        centre = np.asarray(box.center[:2], dtype=np.float64)
        ground = self._ground_under(pts)
        yaw = body_heading(mirror_completed(pts, centre), ground)
        yaw = float(np.arctan2(np.sin(yaw), np.cos(yaw)))
        length = max(prior[0], stride_length(pts, yaw, ground))
        return box.replace(size=(length, prior[1], box.size[2]), yaw=yaw)

    def _sides_seen_whole(self, grown: Box3D, fitted: Box3D, pts: np.ndarray) -> Box3D:
        """``grown`` with the growth of its length, its width or both undone (back to the
        ``fitted`` extent) when the scan contradicts it: its silhouette reaches more than
        ``whole_side_steps`` azimuth steps of the sensor beyond the points' where nothing nearer
        hides it. The side is then seen whole, and the object is smaller than its class's mean
        (a short car seen side-on, a small van): of the undone boxes within the tolerance the
        largest is taken; ``grown`` when none is."""
        tol = self.config.oneclick.whole_side_steps * self.azimuth_step
        if tol <= 0 or self._silhouette_excess(grown, pts) <= tol:
            return grown
        undone = [_revert(grown, fitted, axes) for axes in ((0,), (1,), (0, 1))]
        ok = [b for b in undone if self._silhouette_excess(b, pts) <= tol]
        return max(ok, key=lambda b: b.size[0] * b.size[1]) if ok else grown

    def _one_person(self, grown: _Grown, x: float, y: float, label: str | None) -> np.ndarray:
        """``grown.members``, or for a person (``whole_view_classes``) clustered together with
        people beside them, the members on the clicked side of the gap between them.

        People in a group stand closer than any radius that keeps one person whole, and the size
        bound allows up to 1.3 x the class's length. A cluster longer than the class's typical
        length is cut along its principal axis (bins of 5 cm or two returns, at least 0.3 m, a
        person's width, on either side) where it has two heads (``_group_gap``), and the part the
        click lies in is kept."""
        members = grown.members
        cls = None if label is None else self.config.class_config(label)
        names = {n.lower() for n in self.config.oneclick.whole_view_classes}
        if cls is None or cls.size is None or label.lower() not in names or len(members) < 10:
            return members
        xy = grown.sub[members, :2]
        centre = xy.mean(axis=0)
        _, vecs = np.linalg.eigh(np.cov((xy - centre).T))
        u = (xy - centre) @ vecs[:, -1]
        if np.ptp(u) <= cls.size[0]:
            return members
        # bins at least two returns wide: an empty bin is then a gap, not the sampling
        step = max(0.05, 2.0 * float(np.hypot(*centre)) * self.azimuth_step)
        cut = _group_gap(u, grown.sub[members, 2] - grown.ground_z, step)
        if cut is None:
            return members
        click = float((np.array([x, y]) - centre) @ vecs[:, -1])
        return members[(u < cut) if click < cut else (u >= cut)]

    def _silhouette_excess(self, box: Box3D, pts: np.ndarray) -> float:
        """Largest angle (radians) by which the bird's-eye silhouette of ``box`` seen from the
        sensor extends beyond that of the object's points ``pts`` before anything could hide it:
        on each side, up to the first object point of the frame nearer than the box's far end
        (the hidden rest of an object continues from its visible part, so it is hidden only from
        where an occluder starts). 0 for a box around the sensor."""
        if np.all(np.abs(box.to_local(np.zeros((1, 3)))[0, :2]) <= np.asarray(box.size[:2]) / 2):
            return 0.0
        phi0 = float(np.arctan2(pts[:, 1].mean(), pts[:, 0].mean()))
        seen = _wrap(np.arctan2(pts[:, 1], pts[:, 0]) - phi0)
        corners = box.bev_corners()
        rel = _wrap(np.arctan2(corners[:, 1], corners[:, 0]) - phi0)
        far = float(np.hypot(corners[:, 0], corners[:, 1]).max())
        hi = self._free_angle(phi0 + float(seen.max()), float(rel.max() - seen.max()), far, +1)
        lo = self._free_angle(phi0 + float(seen.min()), float(seen.min() - rel.min()), far, -1)
        return max(hi, lo)

    def _free_angle(self, start: float, width: float, range_m: float, direction: int) -> float:
        """Angle from azimuth ``start`` towards ``direction`` (+1: counter-clockwise) up to the
        first object point of the frame nearer than ``range_m``, at most ``width`` (0 if <= 0)."""
        if width <= 0:
            return 0.0
        a = float(_wrap(start if direction > 0 else start - width))
        # the points with azimuth in [a, a + width] (sorted by azimuth: one or two slices)
        n = len(self._occ_az)
        i, j = np.searchsorted(self._occ_az, [a, a + width], side="left")
        idx = np.arange(i, j)
        if a + width > np.pi:
            idx = np.r_[np.arange(i, n), np.arange(np.searchsorted(self._occ_az, a + width - 2 * np.pi))]
        rel = self._occ_az[idx] - a
        rel[rel < 0] += 2 * np.pi  # azimuths from a, counter-clockwise
        # the object's own extreme point lies at ``start``: the span is open on that end
        inside = (rel > 1e-9) & (rel <= width) if direction > 0 else (rel < width - 1e-9)
        hit = inside & (self._occ_range[idx] < range_m)
        if not np.any(hit):
            return width
        return float(rel[hit].min()) if direction > 0 else float(width - rel[hit].max())

    def _fitter(self, label: str | None) -> str:
        """Rectangle fit for ``label``: the principal axis for the ``pca_classes`` (a bicycle is a
        thin object with no two planar faces for an L-shape search to find), else ``fitter``."""
        c = self.config.oneclick
        pca = {n.lower() for n in c.pca_classes}
        return "pca" if label is not None and label.lower() in pca else c.fitter

    def _xyz(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(self.points)[idx, :3].astype(np.float64)



class _Grown(NamedTuple):
    """A grown cluster: ``members`` (indices into ``region``, itself indices into the frame's
    usable object points) and ``comp``, the component of every region point in the neighbour
    graph at the radius they were grown at; ``limit`` and ``ground_z`` bound its plausible size."""

    region: np.ndarray
    members: np.ndarray
    comp: np.ndarray
    limit: tuple[float, float, float] | None
    ground_z: float
    fits: bool  # whether the members fit ``limit`` (no shrink step got them to)
    radius: float  # the neighbour radius they were grown at
    sub: np.ndarray  # (len(region), 3) the region's points
    cache: dict  # the region's points grouped by component, computed once when first needed


def _scan_frame(xyz: np.ndarray, x: float, y: float, radial_scale: float, z_scale: float) -> np.ndarray:
    """Points in the frame of the sensor's ray to (x, y): (radial, tangential, z), with the radial
    and z axes shrunk. Successive beams hit one object at gaps of range x beam spacing, which
    appear in z on a vertical face and along the ray on a sloped one (bonnet, rear window, a side
    seen at a grazing angle); an object beside it is apart across the ray, where the gap between
    returns is only range x azimuth step. So the rows of one object join, its neighbour does not."""
    phi = np.arctan2(y, x)
    c, s = np.cos(phi), np.sin(phi)
    rad = xyz[:, 0] * c + xyz[:, 1] * s
    tan = -xyz[:, 0] * s + xyz[:, 1] * c
    return np.stack([rad * radial_scale, tan, xyz[:, 2] * z_scale], axis=1)


def angular_step(sensor: str, z_scale: float) -> float:
    """Angle (radians) between neighbouring returns of ``sensor`` in the z-scaled neighbour
    distance: the larger of the azimuth step and ``z_scale`` x the median beam spacing."""
    from squeezeseg.sensors import load_sensor

    s = load_sensor(sensor)
    beam = float(np.median(np.abs(np.diff(s.elevations)))) if s.beams > 1 else 0.0
    return max(float(np.radians(s.azimuth_resolution_deg)), z_scale * beam)


#: A group is cut between two heads: two tops within this height (m) of the cluster's top...
HEAD_DEPTH = 0.15
#: ... with the cluster at least this much (m) lower between them (shoulders, arms or a gap).
NECK_DROP = 0.15


def _group_gap(u: np.ndarray, height: np.ndarray, step: float = 0.05, width: float = 0.3) -> float | None:
    """Where along ``u`` (metres) a cluster of people standing side by side is cut, or None.

    The highest point of every ``step`` of ``u`` makes a profile; two people show two heads (bins
    within ``HEAD_DEPTH`` of the top, at least ``width`` apart) with the profile at least
    ``NECK_DROP`` lower somewhere between them; one person has one head, above the shoulders
    and arms on either side. The cut is at the lowest bin between the two outermost heads,
    with at least ``width`` of the cluster on either side."""
    edges = np.arange(u.min(), u.max() + step, step)
    if len(edges) < 3:
        return None
    bins = np.clip(np.digitize(u, edges) - 1, 0, len(edges) - 2)
    prof = np.full(len(edges) - 1, -np.inf)
    np.maximum.at(prof, bins, height)
    mid = (edges[:-1] + edges[1:]) / 2
    heads = np.flatnonzero(prof >= height.max() - HEAD_DEPTH)
    if len(heads) < 2 or mid[heads[-1]] - mid[heads[0]] < width:
        return None
    between = np.arange(heads[0] + 1, heads[-1])
    between = between[(mid[between] - u.min() >= width) & (u.max() - mid[between] >= width)]
    if len(between) == 0:
        return None
    k = between[np.argmin(prof[between])]
    return float(mid[k]) if prof[k] <= height.max() - HEAD_DEPTH - NECK_DROP else None


def azimuth_step(sensor: str) -> float:
    """Angle (radians) between neighbouring returns of one beam of ``sensor``."""
    from squeezeseg.sensors import load_sensor

    return float(np.radians(load_sensor(sensor).azimuth_resolution_deg))


def _revert(grown: Box3D, fitted: Box3D, axes: tuple[int, ...]) -> Box3D:
    """``grown`` with its extent along ``axes`` (0: length, 1: width) back to the extent of
    ``fitted`` (the rectangle before growing) along the same axis."""
    c, s = np.cos(grown.yaw), np.sin(grown.yaw)
    ex, ey = np.array([c, s]), np.array([-s, c])
    fc = fitted.bev_corners()
    center = np.asarray(grown.center[:2], dtype=float)
    size = list(grown.size)
    for axis, e in ((0, ex), (1, ey)):
        if axis in axes:
            proj = fc @ e
            center = center + e * ((proj.min() + proj.max()) / 2 - center @ e)
            size[axis] = float(np.ptp(proj))
    return grown.replace(center=(center[0], center[1], grown.center[2]), size=tuple(size))


def _wrap(a: np.ndarray | float) -> np.ndarray:
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def _prior_lw(size: tuple[float, float, float], label: str) -> tuple[float, float]:
    """Minimum length and width a partial view is grown to: the class's typical size."""
    return size[0], size[1]


def _fits(xyz: np.ndarray, limit: tuple[float, float, float], ground_z: float) -> bool:
    """Whether the points' smallest bounding rectangle (headings searched every 5 degrees; the
    principal axis of a partial L-shaped view is diagonal, so its rectangle would be too wide)
    fits ``limit`` (l, w) and their top is at most ``limit`` h above ``ground_z`` (an object
    merged with a wall or a tree behind it is too tall)."""
    if len(xyz) < 3:
        return True
    if float(xyz[:, 2].max()) - ground_z > limit[2]:
        return False
    a = np.radians(np.arange(0.0, 90.0, 5.0))
    xy = xyz[:, :2] - xyz[:, :2].mean(axis=0)
    e1 = np.ptp(xy @ np.stack([np.cos(a), np.sin(a)]), axis=0)
    e2 = np.ptp(xy @ np.stack([-np.sin(a), np.cos(a)]), axis=0)
    return bool(np.any((np.maximum(e1, e2) <= limit[0]) & (np.minimum(e1, e2) <= limit[1])))


class _Neighbours:
    """Radius-neighbour graph of a (pruned) region, built once from the KD-tree at the largest
    radius; the object is the connected component of the click's seeds (breadth-first growth done
    by scipy's C graph code: a Python loop over frontiers costs 20x more on a large region).
    Smaller radii (the shrink steps) reuse the same pairs."""

    def __init__(self, pts: np.ndarray, radius: float):
        # Dense near objects hold thousands of points per square metre: connectivity is computed
        # on voxel means (side radius / 3) and mapped back, which keeps a click to a few ms.
        self.n = len(pts)
        key = np.floor(pts / (radius / 3.0)).astype(np.int64)
        key = (key[:, 0] * 73856093) ^ (key[:, 1] * 19349663) ^ (key[:, 2] * 83492791)
        _, self.voxel, counts = np.unique(key, return_inverse=True, return_counts=True)
        # Voxel means by bincount (np.add.at is several times slower on the thousands of points of
        # a near object).
        reps = np.stack([np.bincount(self.voxel, pts[:, k], len(counts)) for k in range(3)], axis=1)
        reps /= counts[:, None]
        self.m = len(reps)
        self.pairs = cKDTree(reps).query_pairs(radius, output_type="ndarray")
        self.dist = np.linalg.norm(reps[self.pairs[:, 0]] - reps[self.pairs[:, 1]], axis=1)

    def components(self, radius: float) -> np.ndarray:
        """(n,) component label of every point for neighbourhoods of ``radius``."""
        p = self.pairs[self.dist <= radius]
        graph = csr_matrix((np.ones(len(p), np.int8), (p[:, 0], p[:, 1])), shape=(self.m, self.m))
        return connected_components(graph, directed=False)[1][self.voxel]
