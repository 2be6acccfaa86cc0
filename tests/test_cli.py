import subprocess
import sys

import pytest

from tnconv import __version__
from tnconv.cli import demo_rows, main


def test_demo_rows_follow_the_theory():
    rows, deep_net, shallow_net = demo_rows()
    by = {r["partition"]: r for r in rows}
    # equal budget: the shallow width is the largest that fits the deep net's parameter count
    assert shallow_net.n_parameters <= deep_net.n_parameters
    width = shallow_net.widths[shallow_net.tree.leaves[0]]
    for r in rows:
        assert r["shallow_rank"] == min(width, 2**8)  # CP rank bound, attained generically
        assert r["deep_entropy"] <= __import__("math").log(r["deep_rank"]) + 1e-9
    # checkerboard: every 2x2 window contributes min(M^2, w0) = 4 -> 4^4 = M^(N/2)
    assert by["checkerboard"]["deep_rank"] == 2**8
    # left/right and top/bottom are capped by the width below the root (4)
    assert by["left/right"]["deep_rank"] == 4 and by["top/bottom"]["deep_rank"] == 4
    # center/periphery: one central pixel per window -> M per window
    assert by["center/periphery"]["deep_rank"] == 2**4
    # all dimensions are powers of 2, so the min cut equals the generic rank (MATH.md §3)
    assert all(r["deep_min_cut"] == r["deep_rank"] for r in rows)


def test_demo_command_prints_table(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for label in ("left/right", "top/bottom", "checkerboard", "center/periphery"):
        assert out.count(label) >= 2  # a table row and an interpretation
    assert "256" in out


def test_info_and_version(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"tnconv {__version__}" in out and "numpy" in out and "cupy" in out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_console_script_entry_point():
    res = subprocess.run([sys.executable, "-m", "tnconv.cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and __version__ in res.stdout
