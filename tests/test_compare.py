"""benchmarks/compare.py's bookkeeping, with a stand-in peer (the real timings live in
BENCHMARKS.md): interleaved rounds, medians and ratios, and the skip without torch."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, cli, entry_point, ok
from paddle_gan.runtime import GLIBC_MALLOC

COMPARE = str(ROOT / "benchmarks" / "compare.py")

FAKE_PEER = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    log = Path(__file__).with_name("calls")
    n = len(log.read_text().splitlines()) if log.exists() else 0
    call = "peer " + os.environ.get("MALLOC_MMAP_THRESHOLD_", "unset") + "\\n"
    log.write_text(log.read_text() + call if log.exists() else call)
    rate = [1000.0, 3000.0, 2000.0][n % 3]
    print(json.dumps({"model": sys.argv[1], "samples_per_s": rate}))
""")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, COMPARE, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)


@pytest.mark.slow
def test_compare_reports_medians_and_ratio(tmp_path):
    (tmp_path / "peer.py").write_text(FAKE_PEER)
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("__version__ = 'stand-in'\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env["PYTHONPATH"] = str(tmp_path)  # makes `import torch` find the stand-in
    result = run("--rounds", "3", "--workloads", "gan", "--steps", "3", "--sides", "torch eager",
                 "--peer", str(tmp_path / "peer.py"), env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    # the peer gets the malloc settings runtime.configure() gives the Paddle sides
    assert (tmp_path / "calls").read_text().splitlines() == \
        [f"peer {GLIBC_MALLOC['MALLOC_MMAP_THRESHOLD_']}"] * 3
    rounds = re.findall(r"round (\d)/3 gan +(paddle-gan|torch eager)", result.stderr)
    assert rounds == [("1", "paddle-gan"), ("1", "torch eager"), ("2", "torch eager"),
                      ("2", "paddle-gan"), ("3", "paddle-gan"), ("3", "torch eager")], \
        "sides must take turns at running first"
    rows = {}
    for line in result.stdout.splitlines():
        if line.startswith("| gan"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[2]] = cells
    ours, peer = rows["paddle-gan"], rows["torch eager"]
    assert peer[3] == "2000.0" and peer[6] == "1000/3000/2000"
    ours_rounds = [float(v) for v in ours[6].split("/")]
    assert abs(float(ours[3]) - sorted(ours_rounds)[1]) <= 0.5  # the rounds column is rounded
    assert abs(float(peer[4].rstrip("x")) - float(ours[3]) / 2000.0) <= 0.006
    assert ours[4] == "1.00x"
    assert 5 < float(peer[5]) < float(ours[5]), "peak RSS: the stand-in peer holds no Paddle"
    assert "torch stand-in" in result.stdout


def test_compare_skips_torch_without_the_peer(tmp_path):
    result = run("--sides", "torch eager", "--peer", str(tmp_path / "absent.py"))
    assert result.returncode == 0
    assert result.stdout.splitlines() == [f"skipped torch eager: no peer script {tmp_path / 'absent.py'}",
                                          "nothing to compare paddle-gan with"]


def test_paddle_gan_trains_the_mlp_gan_the_peers_train():
    """The peers train the article's MLP-GAN; the project's default adds R1 (a double
    backward), which compare.py must switch off for a like-for-like row."""
    compare = entry_point("benchmarks/compare.py")
    options = argparse.Namespace(steps=2, threads=1, torch_python=sys.executable, peer=Path("peer"))
    command = compare.commands("gan", options)["paddle-gan"]
    assert command[1].endswith("bench.py")
    row = json.loads(ok(cli("benchmarks/bench.py", *command[2:])).stdout.strip().splitlines()[-1])
    assert row["model"] == "gan" and row["settings"] == {"r1_gamma": 0.0}
