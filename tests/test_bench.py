"""scripts/bench.py keeps working: each configuration's worker times every case it promises.

The figures themselves are never asserted (machines here are shared and noisy: targets are read
from ``make bench``); what is asserted is that every row of the table is produced, that the
decisions behind it are the ones named (a fresh token really is allowed, a bad signature really is
refused), and that the warm path fetched nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "scripts" / "bench.py"
sys.path.insert(0, str(BENCH.parent))

import bench  # noqa: E402

from appload import OWN_VARIABLES  # noqa: E402


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "material.json"
    bench.Material.mint(8).save(path)
    return path


def worker(configuration: str, material: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--worker",
            configuration,
            "--material",
            str(material),
            "--rounds",
            "2",
            "--batch",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        # A clean environment: earlier tests in this worker leave the function's variables behind.
        env={**{k: v for k, v in os.environ.items() if k not in OWN_VARIABLES}, **env},
    )


def run_worker(configuration: str, material: Path) -> dict[str, Any]:
    out = worker(configuration, material)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("configuration", ["plain", "orders", "revocation"])
def test_every_row_of_a_configuration_is_timed(configuration: str, material: Path) -> None:
    result = run_worker(configuration, material)
    ratios = result["ratios"]
    names = ratios.pop("_names")
    seconds = ratios.pop("_seconds")
    rows = {case for case, _, _ in bench.ROWS}
    assert set(ratios) <= rows
    expected = {
        "plain": {
            "rest_token_fresh",
            "rest_token_repeated",
            "rest_request_fresh",
            "http_v2_simple_fresh",
            "bad_signature",
            "expired",
        },
        "orders": {"orders_rules_fresh", "orders_rules_repeated"},
        "revocation": {"revocation_fresh", "revocation_repeated"},
    }[configuration]
    assert set(ratios) == expected
    assert all(len(values) == 2 and all(v > 0 for v in values) for values in ratios.values())
    assert names[0] == "floor" and len(seconds) == len(names) and all(s > 0 for s in seconds)
    assert result["warm_fetches"] == 0
    if configuration == "plain":
        assert result["kid_flood_fetches"] <= 1


def test_a_case_that_decides_otherwise_stops_the_bench(material: Path) -> None:
    """With ES256 alone allowed, the RS256 "fresh valid" tokens are refused: no figure is printed."""
    out = worker("plain", material, ALLOWED_ALGORITHMS="ES256")
    assert out.returncode != 0
    assert "bench case rest_token_repeated decided 'Unauthorized', not 'allow'" in out.stderr
