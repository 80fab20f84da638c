"""benchmarks/compare.py's bookkeeping, with a stand-in peer (the real timings live in
BENCHMARKS.md): interleaved rounds, medians and ratios, and the skip without torch."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

from conftest import ROOT

COMPARE = str(ROOT / "benchmarks" / "compare.py")

FAKE_PEER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    log = Path(__file__).with_name("calls")
    n = len(log.read_text().splitlines()) if log.exists() else 0
    log.write_text(log.read_text() + "peer\\n" if log.exists() else "peer\\n")
    rate = [1000.0, 3000.0, 2000.0][n % 3]
    print(json.dumps({"model": sys.argv[1], "samples_per_s": rate}))
""")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, COMPARE, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)


def test_compare_reports_medians_and_ratio(tmp_path):
    (tmp_path / "peer.py").write_text(FAKE_PEER)
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("__version__ = 'stand-in'\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))  # makes `import torch` find the stand-in
    result = run("--rounds", "3", "--workloads", "gan", "--steps", "3", "--peer",
                 str(tmp_path / "peer.py"), env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "calls").read_text().count("peer") == 3
    rounds = re.findall(r"round (\d)/3 gan +(ours|peer)", result.stderr)
    assert rounds == [("1", "ours"), ("1", "peer"), ("2", "peer"), ("2", "ours"),
                      ("3", "ours"), ("3", "peer")], "sides must alternate which runs first"
    row = next(line for line in result.stdout.splitlines() if line.startswith("| gan"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    ours = [float(v) for v in cells[5].split("/")]
    assert cells[3] == "2000.0" and cells[6] == "1000/3000/2000"
    assert abs(float(cells[2]) - sorted(ours)[1]) <= 0.5  # the rounds column is rounded
    assert abs(float(cells[4].rstrip("x")) - float(cells[2]) / 2000.0) <= 0.006
    assert "torch stand-in" in result.stdout


def test_compare_skips_without_the_peer(tmp_path):
    result = run("--peer", str(tmp_path / "absent.py"))
    assert result.returncode == 0 and result.stdout.startswith("skipped: no peer script")
