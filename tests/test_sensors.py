"""Sensor configs: every shipped LiDAR loads, tables are consistent, bad YAML names file and key."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.errors import InputError
from squeezeseg.sensors import available_sensors, load_sensor

SHIPPED = ["hdl32e", "hdl64e", "os1-128", "os1-64", "vlp16", "vlp32c"]


def test_all_issue_sensors_are_shipped():
    assert set(SHIPPED) <= set(available_sensors())


@pytest.mark.parametrize("name", SHIPPED)
def test_sensor_tables_are_consistent(name):
    s = load_sensor(name)
    el = np.rad2deg(s.elevations)
    assert el.shape == (s.beams,) and np.all(np.diff(el) < 0)  # top beam first
    assert s.fov_up == pytest.approx(np.deg2rad(el[0])) and s.fov_down == pytest.approx(np.deg2rad(el[-1]))
    assert s.vertical_offsets.shape == (s.beams,)
    assert 0 < s.min_range < s.max_range
    assert s.columns_360 * s.azimuth_resolution_deg == pytest.approx(360.0, abs=0.5)
    assert s.source.endswith(f"{name}.yaml")


def test_hdl64e_table_is_the_kitti_one_with_two_laser_blocks():
    s = load_sensor("hdl64e")
    assert s.beams == 64 and s.columns_360 == 2048
    off = s.vertical_offsets
    assert np.all((off[:32] > 0.19) & (off[:32] < 0.22))  # upper block
    assert np.all((off[32:] > 0.11) & (off[32:] < 0.13))  # lower block
    el = np.rad2deg(s.elevations)
    assert el[0] == pytest.approx(1.94, abs=0.05) and el[-1] == pytest.approx(-25.0, abs=0.05)


def write_sensor(tmp_path, **changes):
    base = {
        "name": "test",
        "beams": 4,
        "elevation_range_deg": "[2.0, -10.0]",
        "azimuth_resolution_deg": "0.2",
        "min_range": "0.5",
        "max_range": "100.0",
    }
    base.update(changes)
    path = tmp_path / "test.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in base.items() if v is not None))
    return path


def test_sensor_from_path_with_offsets_and_ring_zero(tmp_path):
    s = load_sensor(write_sensor(tmp_path, vertical_offsets_m="[0.1, 0.1, 0.0, 0.0]", ring_zero="bottom"))
    assert s.ring_zero == "bottom" and s.vertical_offsets.tolist() == [0.1, 0.1, 0.0, 0.0]
    np.testing.assert_allclose(np.rad2deg(s.elevations), [2.0, -2.0, -6.0, -10.0])


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"vertical_offsets_m": "[0.1, 0.1]"}, "vertical_offsets_m has 2 values for 4 beams"),
        ({"ring_zero": "middle"}, "ring_zero"),
        ({"beams": "four"}, "'beams' must be an integer"),
        ({"max_range": None}, "missing required key 'max_range'"),
        ({"elevations_deg": "[1, 2, 3, 4]", "elevation_range_deg": None}, "strictly decreasing"),
        ({"colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_bad_sensor_yaml_names_file_and_problem(tmp_path, changes, message):
    path = write_sensor(tmp_path, **changes)
    with pytest.raises(InputError, match=message) as exc:
        load_sensor(path)
    assert str(path) in str(exc.value)


def test_unknown_sensor_lists_the_available_ones():
    with pytest.raises(InputError) as exc:
        load_sensor("hdl128")
    assert "unknown sensor 'hdl128'" in str(exc.value)
    for name in SHIPPED:
        assert name in str(exc.value)
