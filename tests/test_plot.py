import networkx as nx
import pytest

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
