"""KITTI camera-LiDAR calibration: the matrices and the transforms between frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError


def _hom(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points, np.ones((len(points), 1), dtype=points.dtype)], axis=1)


@dataclass(frozen=True)
class KittiCalib:
    """Calibration of one KITTI frame: projection matrices P0-P3 (3x4), R0_rect (3x3), Tr_velo_to_cam (3x4).

    A Velodyne point p maps to the rectified camera as ``R0_rect @ Tr_velo_to_cam @ p`` and to
    image 2 as ``P2 @ R0_rect @ Tr_velo_to_cam @ p``.
    """

    P2: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray
    P: dict[str, np.ndarray] = field(default_factory=dict)
    Tr_imu_to_velo: np.ndarray | None = None
    image_size: tuple[int, int] | None = None  # (width, height) when known
    source: str = ""

    @cached_property
    def velo_to_rect(self) -> np.ndarray:
        """4x4 transform from the Velodyne frame to the rectified camera frame."""
        T = np.eye(4)
        T[:3, :4] = self.Tr_velo_to_cam
        R = np.eye(4)
        R[:3, :3] = self.R0_rect
        M = R @ T
        M.setflags(write=False)
        return M

    @cached_property
    def rect_to_velo(self) -> np.ndarray:
        """4x4 inverse of :attr:`velo_to_rect`."""
        M = np.linalg.inv(self.velo_to_rect)
        M.setflags(write=False)
        return M

    def velo_to_cam(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) Velodyne points to the rectified camera frame."""
        pts = np.asarray(points, dtype=np.float64)[:, :3]
        return (_hom(pts) @ self.velo_to_rect.T)[:, :3]

    def cam_to_velo(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) rectified-camera points to the Velodyne frame."""
        pts = np.asarray(points, dtype=np.float64)[:, :3]
        return (_hom(pts) @ self.rect_to_velo.T)[:, :3]

    def cam_to_image(self, points_cam: np.ndarray, camera: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Project rectified-camera points with P<camera>; returns (uv (N, 2), depth (N,))."""
        P = self.P2 if camera == 2 else self.P[f"P{camera}"]
        pts = np.asarray(points_cam, dtype=np.float64)[:, :3]
        proj = _hom(pts) @ P.T
        depth = proj[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = proj[:, :2] / depth[:, None]
        return uv, depth

    def velo_to_image(self, points: np.ndarray, camera: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Project Velodyne points into image ``camera``; returns (uv (N, 2), depth (N,))."""
        return self.cam_to_image(self.velo_to_cam(points), camera)


def project_points(
    points: np.ndarray, calib: KittiCalib, image_size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(uv (N, 2) pixels, in_image (N,) bool) of LiDAR points in image 2.

    ``in_image`` is True for points in front of the camera that land inside the image
    (``image_size`` (width, height), default the calibration's; without either, every point in
    front of the camera counts). NaN points are never in the image.
    """
    pts = np.asarray(points)
    if len(pts) == 0:
        return np.zeros((0, 2)), np.zeros(0, bool)
    uv, depth = calib.velo_to_image(np.nan_to_num(pts[:, :3].astype(np.float64), nan=0.0))
    ok = np.isfinite(pts[:, :3]).all(axis=1) & (depth > 0.1)
    size = image_size or calib.image_size
    if size is not None:
        W, H = size
        ok &= (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
    return uv, ok


def _parse_matrix_lines(path: Path) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read calibration: {exc.strerror}", path) from None
    for lineno, line in enumerate(text.splitlines(), 1):
        head = line.split(None, 1)
        if not head:
            continue
        # "P2: 1 2 ..." (object layout) or "R_rect 1 2 ..." (original tracking layout, no colon).
        key, rest = line.split(":", 1) if ":" in head[0] else (head[0], head[1] if len(head) > 1 else "")
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            # Raw-layout files hold a text line such as "calib_time: 15-Mar-2012 11:37:16".
            if key.strip() in ("calib_time",):
                continue
            raise InputError(f"line {lineno}: non-numeric values for '{key.strip()}'", path) from None
    return values


def _take(values: dict[str, np.ndarray], key: str, size: int, path: Path, *alts: str) -> np.ndarray:
    for k in (key, *alts):
        if k in values:
            v = values[k]
            if v.size != size:
                raise InputError(f"key '{k}' has {v.size} values, expected {size}", path)
            return v
    raise InputError(f"missing calibration key '{key}'", path)


def read_kitti_calib(path: str | Path, velo_to_cam: str | Path | None = None) -> KittiCalib:
    """Read KITTI calibration.

    ``path`` is either an object/tracking-layout file (``calib/000000.txt`` with P0-P3, R0_rect,
    Tr_velo_to_cam), or a raw-layout folder / ``calib_cam_to_cam.txt`` (then
    ``calib_velo_to_cam.txt`` is taken from beside it unless ``velo_to_cam`` is given).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "calib_cam_to_cam.txt"
    if not path.exists():
        raise InputError("calibration file not found", path)
    values = _parse_matrix_lines(path)
    if "P_rect_02" in values or path.name == "calib_cam_to_cam.txt":
        return _read_raw_calib(path, values, Path(velo_to_cam) if velo_to_cam else None)
    P = {f"P{i}": _take(values, f"P{i}", 12, path).reshape(3, 4) for i in range(4) if f"P{i}" in values}
    P2 = _take(values, "P2", 12, path).reshape(3, 4)
    R0 = _take(values, "R0_rect", 9, path, "R_rect").reshape(3, 3)
    Tr = _take(values, "Tr_velo_to_cam", 12, path, "Tr_velo_cam").reshape(3, 4)
    imu = values.get("Tr_imu_to_velo", values.get("Tr_imu_velo"))
    return KittiCalib(
        P2=P2, R0_rect=R0, Tr_velo_to_cam=Tr, P=P,
        Tr_imu_to_velo=None if imu is None or imu.size != 12 else imu.reshape(3, 4),
        source=str(path),
    )


def _read_raw_calib(path: Path, cam: dict[str, np.ndarray], velo_path: Path | None) -> KittiCalib:
    velo_path = velo_path or path.with_name("calib_velo_to_cam.txt")
    if not velo_path.exists():
        raise InputError("raw-layout calibration needs calib_velo_to_cam.txt beside it", velo_path)
    velo = _parse_matrix_lines(velo_path)
    R = _take(velo, "R", 9, velo_path).reshape(3, 3)
    T = _take(velo, "T", 3, velo_path).reshape(3, 1)
    P = {
        f"P{i}": _take(cam, f"P_rect_0{i}", 12, path).reshape(3, 4) for i in range(4) if f"P_rect_0{i}" in cam
    }
    P2 = _take(cam, "P_rect_02", 12, path).reshape(3, 4)
    R0 = _take(cam, "R_rect_00", 9, path).reshape(3, 3)
    size = cam.get("S_rect_02")
    return KittiCalib(
        P2=P2, R0_rect=R0, Tr_velo_to_cam=np.hstack([R, T]), P=P,
        image_size=None if size is None else (int(size[0]), int(size[1])),
        source=str(path),
    )


def format_kitti_calib(calib: KittiCalib) -> str:
    """Object-layout calibration text (P0-P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo)."""
    def row(m: np.ndarray) -> str:
        return " ".join(f"{v:.12e}" for v in np.asarray(m).ravel())

    lines = []
    for i in range(4):
        lines.append(f"P{i}: {row(calib.P.get(f'P{i}', calib.P2))}")
    lines.append(f"R0_rect: {row(calib.R0_rect)}")
    lines.append(f"Tr_velo_to_cam: {row(calib.Tr_velo_to_cam)}")
    imu = calib.Tr_imu_to_velo
    if imu is None:
        imu = np.hstack([np.eye(3), np.zeros((3, 1))])
    lines.append(f"Tr_imu_to_velo: {row(imu)}")
    return "\n".join(lines) + "\n"
