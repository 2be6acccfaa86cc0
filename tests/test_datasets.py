"""tnconv.datasets: blobs and digits_canvas against direct loop computations; determinism, balance, errors."""

import importlib.util

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tnconv.datasets import blob_images, blobs, closedness, digits_canvas, load_source_digits, resize_bilinear, symmetry
from tnconv.datasets.morphology import closing

# --- independent references: plain loops over pixels -------------------------------------------------

def loop_closing(img, r):
    """Closing by the disk of radius r on the infinite plane (background outside), by definition."""
    h, w = img.shape
    fg = [(i, j) for i in range(h) for j in range(w) if img[i, j]]
    disk = [(a, b) for a in range(-r, r + 1) for b in range(-r, r + 1) if a * a + b * b <= r * r]

    def dilated(p, q):  # is (p, q) within distance r of a foreground pixel?
        return any((p - i) ** 2 + (q - j) ** 2 <= r * r for i, j in fg)

    out = np.zeros((h, w), bool)
    for i in range(h):
        for j in range(w):
            out[i, j] = all(dilated(i + a, j + b) for a, b in disk)
    return out


def loop_closedness(img, r):
    c = loop_closing(img, r).sum()
    return 1.0 if c == 0 else img.sum() / c


def loop_symmetry(img):
    h, w = img.shape
    inter = union = 0
    for i in range(h):
        for j in range(w):
            a, b = bool(img[i, j]), bool(img[i, w - 1 - j])
            inter += a and b
            union += a or b
    return 1.0 if union == 0 else inter / union


def loop_bilinear(img, side):
    h, w = img.shape
    out = np.zeros((side, side))
    for i in range(side):
        for j in range(side):
            y = min(max((i + 0.5) * h / side - 0.5, 0), h - 1)
            x = min(max((j + 0.5) * w / side - 0.5, 0), w - 1)
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            fy, fx = y - y0, x - x0
            out[i, j] = ((1 - fy) * (1 - fx) * img[y0, x0] + (1 - fy) * fx * img[y0, x1]
                         + fy * (1 - fx) * img[y1, x0] + fy * fx * img[y1, x1])
    return out


# --- morphology and scores -----------------------------------------------------------------------------

@given(st.integers(0, 2**31 - 1), st.integers(3, 7), st.integers(3, 7), st.integers(1, 2),
       st.floats(0.2, 0.8))
def test_closing_matches_the_definition(seed, h, w, r, p):
    img = np.random.default_rng(seed).random((h, w)) < p
    fast = closing(img[None], r)[0]
    np.testing.assert_array_equal(fast, loop_closing(img, r))
    assert np.all(fast >= img)  # extensive
    np.testing.assert_array_equal(closing(fast[None], r)[0], fast)  # idempotent


@given(st.integers(0, 2**31 - 1), st.integers(2, 7), st.floats(0.1, 0.9))
def test_scores_match_loops(seed, side, p):
    imgs = np.random.default_rng(seed).random((3, side, side)) < p
    np.testing.assert_allclose(closedness(imgs, radius=1), [loop_closedness(b, 1) for b in imgs])
    np.testing.assert_allclose(symmetry(imgs), [loop_symmetry(b) for b in imgs])


def test_scores_of_known_shapes():
    ring = np.ones((1, 7, 7), bool)
    ring[0, 3, 3] = False                     # a one-pixel hole: the closing fills it
    assert closedness(ring, 1)[0] == pytest.approx(48 / 49)
    square = np.zeros((1, 8, 8), bool)
    square[0, 2:6, 2:6] = True                # convex and symmetric
    assert closedness(square, 1)[0] == 1.0 and symmetry(square)[0] == 1.0
    half = np.zeros((1, 4, 4), bool)
    half[0, :, :2] = True                     # disjoint from its mirror image
    assert symmetry(half)[0] == 0.0
    assert closedness(np.zeros((1, 4, 4), bool))[0] == 1.0 and symmetry(np.zeros((1, 4, 4), bool))[0] == 1.0


# --- blobs ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["closedness", "symmetry"])
def test_blobs_split_by_score(task):
    X, y = blobs(41, size=8, task=task, seed=3)
    assert X.shape == (41, 8, 8) and X.dtype == np.float64 and y.dtype == np.int64
    assert set(np.unique(X)) <= {0.0, 1.0}
    assert (y == 0).sum() == 20 and (y == 1).sum() == 21
    ref = np.array([loop_closedness(b > 0, 1) if task == "closedness" else loop_symmetry(b > 0) for b in X])
    # Top 40% vs bottom 40%: every class-1 image scores at least every class-0 image.
    assert ref[y == 1].min() >= ref[y == 0].max()
    # The kept images are the bottom 20 and the top 21 of ceil(21 / 0.4) = 53 generated ones (the same
    # generator stream), scored here by the loops.
    pool = blob_images(53, 8, np.random.default_rng(3))
    pref = np.array([loop_closedness(b, 1) if task == "closedness" else loop_symmetry(b) for b in pool])
    order = np.argsort(pref, kind="stable")
    kept = {bytes(pool[k].astype(np.float64)) for k in np.concatenate([order[:20], order[-21:]])}
    assert {bytes(x) for x in X} == kept


def test_blobs_deterministic_and_seed_dependent():
    a, ya = blobs(30, size=12, task="symmetry", seed=5)
    b, yb = blobs(30, size=12, task="symmetry", seed=5)
    c, _ = blobs(30, size=12, task="symmetry", seed=6)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


def test_blob_images_have_foreground_and_varied_scores():
    imgs = blob_images(200, 32, seed=0)
    assert imgs.sum(axis=(1, 2)).min() > 0
    s, c = symmetry(imgs), closedness(imgs)
    assert s.max() == 1.0 and s.min() < 0.3    # exactly mirrored fields occur, and asymmetric ones
    assert c.min() < 0.85 and c.max() > 0.99


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"n": 0}, ValueError, "0"), ({"n": 2.5}, TypeError, "2.5"), ({"n": 4, "size": 3}, ValueError, "3"),
    ({"n": 4, "task": "round"}, ValueError, "round"), ({"n": 4, "seed": True}, TypeError, "True"),
    ({"n": True}, TypeError, "True"),
])
def test_blobs_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        blobs(**kwargs)


# --- digits_canvas -------------------------------------------------------------------------------------

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs scikit-learn")


@needs_sklearn
def test_source_split_is_disjoint_and_stratified():
    train, ytr = load_source_digits("train")
    test, yte = load_source_digits("test")
    full, _ = load_source_digits()
    assert len(train) + len(test) == len(full) == 1797
    assert not (set(map(bytes, train.reshape(len(train), -1))) & set(map(bytes, test.reshape(len(test), -1))))
    assert np.bincount(ytr, minlength=10).min() >= 139 and np.bincount(yte, minlength=10).min() >= 34
    assert full.min() == 0.0 and full.max() == 1.0


@needs_sklearn
def test_local_pastes_one_source_digit():
    X, y = digits_canvas(23, canvas=13, task="local", seed=1, noise=0.0)
    src, lab = load_source_digits()
    assert X.shape == (23, 13, 13)
    counts = np.bincount(y, minlength=10)
    assert counts.max() - counts.min() <= 1
    for img, label in zip(X, y):
        hits = []
        for i in range(13 - 8 + 1):
            for j in range(13 - 8 + 1):
                win = img[i:i + 8, j:j + 8]
                rest = img.copy()
                rest[i:i + 8, j:j + 8] = 0
                if not rest.any():
                    hits += [lab[k] for k in range(len(src)) if np.array_equal(src[k], win)]
        assert label in hits


@needs_sklearn
@needs_sklearn
def test_local_small_digit_is_the_resized_source():
    X, y = digits_canvas(6, canvas=8, task="local", seed=4, noise=0.0, digit_size=4)
    src, lab = load_source_digits()
    small = np.stack([loop_bilinear(s, 4) for s in src])
    for img, label in zip(X, y):
        hits = set()
        for i in range(5):
            for j in range(5):
                rest = img.copy()
                rest[i:i + 4, j:j + 4] = 0
                if not rest.any():
                    win = img[i:i + 4, j:j + 4]
                    hits |= {int(lab[k]) for k in np.flatnonzero(np.abs(small - win).max(axis=(1, 2)) < 1e-12)}
        assert label in hits


@needs_sklearn
def test_global_is_the_resized_digit():
    X, y = digits_canvas(12, canvas=20, task="global", seed=2, noise=0.0)
    src, lab = load_source_digits()
    candidates = resize_bilinear(src, 20)   # to find the source quickly; the loops confirm it
    for img, label in zip(X, y):
        match = np.flatnonzero(np.abs(candidates - img).max(axis=(1, 2)) < 1e-9)
        assert len(match) and all(lab[k] == label for k in match)
        np.testing.assert_allclose(img, loop_bilinear(src[match[0]], 20), atol=1e-12)


def test_resize_bilinear_matches_loops():
    img = np.random.default_rng(0).random((2, 5, 7))
    out = resize_bilinear(img, 11)
    for k in range(2):
        np.testing.assert_allclose(out[k], loop_bilinear(img[k], 11), atol=1e-12)


@needs_sklearn
def test_digits_deterministic_noise_and_range():
    a, ya = digits_canvas(15, canvas=16, task="global", seed=9)
    b, yb = digits_canvas(15, canvas=16, task="global", seed=9)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert a.min() >= 0.0 and a.max() <= 1.0
    clean, _ = digits_canvas(15, canvas=16, task="global", seed=9, noise=0.0)
    assert 0.05 < np.std(a - clean) < 0.2      # noise of std 0.2, clipped at 0 and 1


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"n": 0}, ValueError, "0"), ({"n": 5, "canvas": 7}, ValueError, "7"),
    ({"n": 5, "canvas": 1, "task": "global"}, ValueError, "1"),
    ({"n": 5, "task": "middle"}, ValueError, "middle"), ({"n": 5, "noise": -1.0}, ValueError, "-1.0"),
    ({"n": 5, "noise": float("nan")}, ValueError, "nan"), ({"n": 5, "split": "val"}, ValueError, "val"),
    ({"n": 5, "canvas": 16.0}, TypeError, "16.0"), ({"n": 5, "digit_size": 9}, ValueError, "9"),
    ({"n": 5, "canvas": 3, "digit_size": 4}, ValueError, "3"),
])
@needs_sklearn
def test_digits_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        digits_canvas(**kwargs)
