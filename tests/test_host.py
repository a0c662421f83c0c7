"""Host metrics: file systems, opt-in per-device rates, sensors and rate edge cases."""

from __future__ import annotations

import doctest
import time
from collections import namedtuple

import psutil
import pytest

import tui_monitor.sources.host as host_module
from tui_monitor.sources.host import HostSource, RateTracker


def _host(**options: object) -> HostSource:
    return HostSource(1.0, lambda obs: None, lambda state: None, **options)  # type: ignore[arg-type]


def test_host_doctests() -> None:
    assert doctest.testmod(host_module).failed == 0


def test_first_poll_has_no_rates() -> None:
    obs = _host(per_disk=True, per_interface=True).poll()
    assert not any(name.endswith("_per_s") for name in obs.gauges)


def test_second_poll_has_rates() -> None:
    host = _host(per_interface=True)
    host.poll()
    time.sleep(0.05)
    obs = host.poll()
    assert obs.gauges["net.sent_bytes_per_s"] >= 0.0
    assert obs.gauges["disk.read_bytes_per_s"] >= 0.0
    assert not any(name.startswith("net.lo.") for name in obs.gauges)


def test_root_file_system_used_pct() -> None:
    obs = _host().poll()
    used = [name for name in obs.gauges if name.startswith("fs.") and name.endswith(".used_pct")]
    assert used
    assert all(0.0 <= obs.gauges[name] <= 100.0 for name in used)


def test_file_systems_can_be_off() -> None:
    obs = _host(filesystems=False).poll()
    assert not any(name.startswith("fs.") for name in obs.gauges)


def test_per_disk_is_opt_in() -> None:
    host = _host()
    host.poll()
    obs = host.poll()
    assert not any(name.startswith("disk.") and name.count(".") > 1 for name in obs.gauges)


def test_per_interface_named_list() -> None:
    host = _host(per_interface=["lo"])
    host.poll()
    time.sleep(0.02)
    obs = host.poll()
    assert "net.lo.recv_bytes_per_s" in obs.gauges
    assert sum(name.startswith("net.") and name.count(".") > 1 for name in obs.gauges) == 2


def test_absent_sensors_leave_features_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Which sensors exist depends on the machine: simulate one without any.
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {})
    monkeypatch.setattr(psutil, "cpu_freq", lambda: None)
    obs = _host().poll()
    assert not any(name.startswith(("temp.", "cpu.freq")) for name in obs.gauges)


def test_failing_sensors_raise_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise OSError("no such device")

    monkeypatch.setattr(psutil, "sensors_temperatures", broken)
    monkeypatch.setattr(psutil, "cpu_freq", broken)
    obs = _host().poll()
    assert "cpu.total_pct" in obs.gauges


def test_temperatures_named_by_chip(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = namedtuple("entry", "label current high critical")
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {"coretemp": [entry("Core 0", 51.0, 80, 90)]})
    obs = _host().poll()
    assert obs.gauges["temp.coretemp.core_0_c"] == 51.0


def test_rate_counter_reset_never_negative() -> None:
    rates = RateTracker()
    rates.update({"b": 1000.0}, now=0.0)
    assert rates.update({"b": 10.0}, now=1.0) == {}
    assert rates.update({"b": 30.0}, now=2.0) == {"b": 20.0}


def test_rate_wrap_of_32_bit_counter() -> None:
    rates = RateTracker()
    rates.update({"b": 2.0**32 - 100}, now=0.0)
    assert rates.update({"b": 50.0}, now=1.0) == {}


def test_rate_new_counter_waits_one_poll() -> None:
    rates = RateTracker()
    rates.update({"a": 1.0}, now=0.0)
    assert rates.update({"a": 2.0, "b": 1e12}, now=1.0) == {"a": 1.0}


def test_rate_same_timestamp_gives_nothing() -> None:
    rates = RateTracker()
    rates.update({"a": 1.0}, now=5.0)
    assert rates.update({"a": 2.0}, now=5.0) == {}
