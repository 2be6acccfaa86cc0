"""The pictures of min cuts (issue 14 §5), written to ``notebooks/figures/cuts/``.

    python scripts/draw_cuts.py [--out DIR]

* ``image_16x16.png``: a 16x16 ConvAC (contiguous 2x2 pooling, widths 8) cut by checkerboard, left/right and
  centre/periphery, on the image (``tnconv mincut --plot``);
* ``image_and_network_16x16.png``: one cut on the image and on the network side by side;
* ``network_256.png``: a 256-input binary ConvAC cut by odd/even, on its pooling tree;
* ``mps_chain.png`` and ``peps_grid.png``: quimb networks laid out as a chain and a grid (needs quimb).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "notebooks" / "figures" / "cuts"))
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import tnconv as tc
    from tnconv.cli import main as cli

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(ax, name):
        ax.figure.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(ax.figure)
        written.append(out / name)

    cli(["mincut", "--inputs", "16x16", "--widths", "8", "--descriptors", "4", "checkerboard", "left_right",
         "center_periphery", "--no-spectrum", "--plot", str(out / "image_16x16.png")])
    written.append(out / "image_16x16.png")
    net = tc.deep((16, 16), 2, 2, seed=0)
    save(tc.min_cut(net, tc.partitions.named("center_periphery", (16, 16))).draw(shape=(16, 16)),
         "image_and_network_16x16.png")
    save(tc.min_cut(tc.deep(256, 2, 2, seed=0), tc.partitions.odd_even(256)).draw(), "network_256.png")
    try:
        import quimb.tensor as qtn
    except ImportError:
        print("quimb missing: no MPS/PEPS pictures", file=sys.stderr)
    else:
        mps = qtn.MPS_rand_state(12, 3, phys_dim=2, seed=0)
        tn = tc.TensorNetwork.from_quimb(mps, open_inds=[f"k{i}" for i in range(12)])
        save(tc.min_cut(tn, list(range(6))).draw(), "mps_chain.png")
        peps = qtn.PEPS.rand(4, 4, 2, seed=0)
        tn = tc.TensorNetwork.from_quimb(peps, open_inds=list(peps.outer_inds()))
        save(tc.min_cut(tn, list(range(8))).draw(), "peps_grid.png")
    print("wrote", ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
