import itertools

import networkx as nx
import numpy as np
import pytest

import tnconv as tc
from tnconv.mincut.draw_image import cut_regions, outline_segments
from tnconv.mincut.draw_layouts import chain_order, detect_layout, grid_coordinates
from tnconv.plot import tree_layout


@pytest.mark.parametrize("G", [nx.path_graph(2500), nx.balanced_tree(3, 4), nx.random_labeled_tree(200, seed=1)],
                         ids=["chain-2500", "balanced", "random"])
def test_tree_layout_places_parents_over_their_children(G):
    """Deep chains once raised RecursionError. Checked from the definition: rows are BFS depths from the
    centre, leaves sit on distinct integer columns, and a parent sits at the mean of its children."""
    pos = tree_layout(G)
    assert set(pos) == set(G)
    top = max(pos, key=lambda v: pos[v][1])
    depth = nx.shortest_path_length(G, top)
    assert all(pos[v][1] == -depth[v] for v in G)
    T = nx.bfs_tree(G, top)
    leaves = [v for v in T if T.out_degree(v) == 0]
    assert sorted(pos[v][0] for v in leaves) == [float(k) for k in range(len(leaves))]
    for v in T:
        kids = list(T.successors(v))
        if kids:
            assert pos[v][0] == pytest.approx(sum(pos[c][0] for c in kids) / len(kids))


# ---------------------------------------------------------------- issue 14 §5: pictures of cuts
@pytest.fixture(autouse=True)
def _agg():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")


def _close(ax):
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_draw_has_a_legend_naming_sides_and_severed_parts():
    ax = tc.min_cut(tc.deep(8, 2, 2, seed=0), [0, 2, 4, 6]).draw()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["side I", "side I\u1d9c"]
    # odd/even on a binary tree with M = w = 2: the 4 pairs are cut at their copy tensors or bonds
    assert any(t.startswith("severed copy tensor") for t in texts) and any("bond" in t for t in texts)
    _close(ax)


def test_draw_at_256_inputs_keeps_markers_apart_and_shows_the_sides():
    n = 256
    part = list(range(0, n, 2))
    cut = tc.min_cut(tc.deep(n, 2, 2, seed=0), part)
    ax = cut.draw()
    fig = ax.figure
    fig.canvas.draw()
    # the strip of inputs: one bar per input, coloured by its side
    import matplotlib

    from tnconv.mincut.draw import SIDE_COLORS

    (strip,) = [c for c in ax.collections if c.get_gid() == "inputs"]
    colors = [matplotlib.colors.to_hex(c) for c in strip.get_facecolors()]  # cells left to right
    assert len(colors) == n
    _, pos = detect_layout(cut.network)
    by_x = sorted(range(n), key=lambda i: pos[("open", i)][0])  # inputs in the picture's left-to-right order
    assert colors == [SIDE_COLORS[0] if i % 2 == 0 else SIDE_COLORS[1] for i in by_x]
    # a balanced tree keeps neighbours together: odd/even alternates along the strip
    assert all(a != b for a, b in itertools.pairwise(colors))
    # markers are smaller than the distance between neighbouring columns on screen
    spacing = abs(ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0])
    for coll in ax.collections:
        sizes = getattr(coll, "get_sizes", lambda: [])()
        if len(sizes):
            assert np.sqrt(max(sizes)) * fig.dpi / 72 < 2.2 * spacing + 1
    _close(ax)


def test_image_view_outlines_the_windows_of_the_cut():
    net = tc.deep((4, 4), 2, 2, seed=0)  # contiguous 2x2 pooling twice
    cut = tc.min_cut(net, tc.partitions.checkerboard((4, 4)))
    regions = cut_regions(cut)
    blocks = {frozenset({0, 1, 4, 5}), frozenset({2, 3, 6, 7}), frozenset({8, 9, 12, 13}),
              frozenset({10, 11, 14, 15})}
    # each 2x2 window holds both sides: the cut runs through the pooling of all four, at height 1
    assert {r[0] for r in regions} == blocks and {r[1] for r in regions} == {1}
    cut = tc.min_cut(net, tc.partitions.left_right((4, 4)))
    assert [(r[0], r[1]) for r in cut_regions(cut)] == [(frozenset(range(16)), 2)]
    ax = cut.draw(shape=(4, 4), view="image")
    image = ax.get_images()[0].get_array()
    assert image.shape == (4, 4) and (np.asarray(image)[:, :2] == 1).all() and (np.asarray(image)[:, 2:] == 0).all()
    assert any("height 2" in t.get_text() for t in ax.get_legend().get_texts())
    _close(ax)
    both = tc.min_cut(net, tc.partitions.checkerboard((4, 4))).draw(shape=(4, 4))
    assert len(both.figure.axes) == 2
    _close(both)
    with pytest.raises(ValueError, match="16 inputs"):
        cut.draw(shape=(3, 3), view="image")
    with pytest.raises(ValueError, match="shape"):
        cut.draw(view="image")


def test_outline_segments_from_the_definition():
    # a set's boundary: unit sides between a member and a non-member (or the image edge)
    for pixels, expected in ((frozenset({0, 1, 4, 5}), 8), (frozenset(range(16)), 16), (frozenset({0, 5}), 8),
                             (frozenset({1, 2}), 6)):
        assert len(outline_segments(pixels, (4, 4))) == expected


def test_mps_is_a_chain_and_peps_a_grid():
    qtn = pytest.importorskip("quimb.tensor")
    mps = qtn.MPS_rand_state(10, 2, phys_dim=2, seed=0)
    tn = tc.TensorNetwork.from_quimb(mps, open_inds=[f"k{i}" for i in range(10)])
    name, pos = detect_layout(tn)
    assert name == "chain"
    xs = {tn.names[k]: pos[("tensor", k)] for k in range(tn.n_tensors)}
    assert [xs[f"I{i}"][0] for i in range(10)] in (list(range(10)), list(range(9, -1, -1)))
    assert len({p[1] for p in xs.values()}) == 1
    peps = qtn.PEPS.rand(3, 4, 2, seed=0)
    tn = tc.TensorNetwork.from_quimb(peps, open_inds=list(peps.outer_inds()))
    name, pos = detect_layout(tn)
    assert name == "grid"
    for k, label in enumerate(tn.names):
        r, c = (int(v) for v in label.split(",X")[0][1:].split(","))
        assert pos[("tensor", k)] == (c, -r)
    ax = tc.min_cut(tn, list(range(4))).draw()
    assert ax.get_title().startswith("min cut")
    _close(ax)


def test_grid_and_chain_detection_from_structure_alone():
    import networkx as nx

    G = nx.Graph()
    grid = nx.grid_2d_graph(3, 5)
    index = {v: k for k, v in enumerate(grid)}
    G.add_nodes_from(("tensor", k) for k in index.values())
    G.add_edges_from((("tensor", index[a]), ("tensor", index[b])) for a, b in grid.edges())
    coords = grid_coordinates(G)
    assert coords is not None
    for a, b in grid.edges():  # neighbours in the network are neighbours on the recovered grid
        (ra, ca), (rb, cb) = coords[("tensor", index[a])], coords[("tensor", index[b])]
        assert abs(ra - rb) + abs(ca - cb) == 1
    chain = nx.relabel_nodes(nx.path_graph(2500), lambda k: ("tensor", (k * 7919) % 2500))
    order = chain_order(chain)  # iterative: 2,500 sites
    assert len(order) == 2500 and all(chain.has_edge(a, b) for a, b in itertools.pairwise(order))
    assert grid_coordinates(chain) is None and chain_order(G) is None
    model = tc.deep(8, 2, 2, seed=0).to_tensor_network()
    assert detect_layout(model)[0] == "tree"
    for layout in ("chain", "grid"):  # asked for explicitly on a network without that structure
        with pytest.raises(ValueError, match=layout):
            detect_layout(model, layout)
    with pytest.raises(ValueError, match="layout"):
        detect_layout(model, "circle")


def test_mincut_plot_option_saves_the_picture(tmp_path, capsys):
    from tnconv.cli import main

    for inputs, name in (("8x8", "cuts2d.png"), ("16", "cuts1d.png")):
        path = tmp_path / name
        assert main(["mincut", "--inputs", inputs, "--widths", "2", "--descriptors", "2", "--no-spectrum",
                     "--plot", str(path)]) == 0
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"wrote {path}" in capsys.readouterr().err


@pytest.mark.slow  # a few seconds: 2,500 tensors drawn
def test_a_2500_site_mps_draws_as_a_chain():
    """issue 14: the tree layout once recursed (RecursionError at 2,500 sites); a long chain now gets the
    chain layout, a strip of its inputs' sides and a tick where the one severed bond is."""
    qtn = pytest.importorskip("quimb.tensor")
    import matplotlib

    from tnconv.mincut.draw import CUT_COLOR, SIDE_COLORS

    n = 2500
    tn = tc.TensorNetwork.from_quimb(qtn.MPS_rand_state(n, 2, phys_dim=2, seed=0),
                                     open_inds=[f"k{i}" for i in range(n)])
    cut = tc.min_cut(tn, list(range(1000)))
    assert cut.bound == 2  # one bond of dimension 2 between sites 999 and 1000
    ax = cut.draw()
    (strip,) = [c for c in ax.collections if c.get_gid() == "inputs"]
    colors = [matplotlib.colors.to_hex(c) for c in strip.get_facecolors()]
    one, other = [SIDE_COLORS[0]] * 1000, [SIDE_COLORS[1]] * 1500
    assert colors in (one + other, other + one)
    ticks = [c for c in ax.collections if c.get_gid() == "severed"]
    assert len(ticks) == 1 and len(ticks[0].get_offsets()) == 1
    assert matplotlib.colors.to_hex(ticks[0].get_edgecolors()[0]) == CUT_COLOR
    _, pos = detect_layout(tn)
    xs = {tn.names[k]: pos[("tensor", k)][0] for k in range(tn.n_tensors)}
    assert ticks[0].get_offsets()[0][0] == pytest.approx((xs["I999"] + xs["I1000"]) / 2)
    _close(ax)
