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
        assert r["deep_entropy_bits"] <= __import__("math").log2(r["deep_rank"]) + 1e-9
    # checkerboard: every 2x2 window contributes min(M^2, w0) = 4 -> 4^4 = M^(N/2)
    assert by["checkerboard"]["deep_rank"] == 2**8
    # left/right and top/bottom are capped by the width below the root (4)
    assert by["left/right"]["deep_rank"] == 4 and by["top/bottom"]["deep_rank"] == 4
    # center/periphery: one central pixel per window -> M per window
    assert by["center/periphery"]["deep_rank"] == 2**4
    # unshared weights and all dimensions powers of 2: the min cut equals the generic rank (MATH.md §3)
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


@pytest.mark.parametrize("module", ["tnconv", "tnconv.cli"])
def test_python_dash_m_version(module):
    res = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == f"tnconv {__version__}"


def test_console_script_entry_point_is_cli_main():
    import configparser
    from pathlib import Path

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    entry = cfg["options.entry_points"]["console_scripts"].strip()
    assert entry == "tnconv = tnconv.cli:main"
    import tnconv.cli

    assert callable(tnconv.cli.main)


def test_every_command_has_its_module(capsys):
    from tnconv.cli import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "info", "bench", "mincut", "linear-accel", "experiments"):
        assert command in out
    # the old homes of the commands are gone: the command line is the top layer
    from pathlib import Path

    import tnconv

    root = Path(tnconv.__file__).parent
    for old in ("_cli_common.py", "mincut/cli.py", "experiments/cli.py"):
        assert not (root / old).exists()
    from tnconv.contract import bench
    from tnconv.experiments import linear_acceleration

    assert not hasattr(bench, "register_cli") and not hasattr(linear_acceleration, "register_cli")


@pytest.mark.parametrize("value", ["-1", "1.5", "abc", "", "nan"])
def test_demo_seed_is_validated(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--seed", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--seed" in err and repr(value) in err and "Traceback" not in err


def test_errors_exit_2_with_a_message_and_bugs_exit_1_without_traceback(monkeypatch, capsys):
    import tnconv.cli as cli
    import tnconv.cli.info as info

    def bad_value(args):
        raise ValueError("width 0 must be positive")

    def empty_memory(args):
        raise MemoryError()

    def bug(args):
        raise RuntimeError("boom")

    for func, code, text in ((bad_value, 2, "error: width 0 must be positive"),
                             (empty_memory, 2, "out of memory (no further detail) while running: tnconv info"),
                             (bug, 1, "internal error: RuntimeError: boom")):
        monkeypatch.setattr(info, "cmd_info", func)
        assert cli.main(["info"]) == code
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err and err.count("\n") == 1


def test_huge_inputs_give_a_budget_error_naming_the_value():
    # issue 10: `tnconv mincut --inputs 1073741824` printed an empty "error:"
    res = subprocess.run([sys.executable, "-m", "tnconv", "mincut", "--inputs", "1073741824"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "1073741824" in res.stderr and "Traceback" not in res.stderr and "budget" in res.stderr
