"""ConvACClassifier: scikit-learn's estimator checks, clone / cross_val_score / GridSearchCV, fitting
synthetic images above chance with square and mirror pooling, the pooling trees, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tnconv as tc
from tnconv.train.images import image_patches, image_tree

pytest.importorskip("sklearn")
pytest.importorskip("torch")
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(**kw):
    # torch: eager, so the dozens of fits of the checks pay no compile
    base = dict(widths=2, n_descriptors=3, epochs=30, lr=0.05, batch_size=256, backend="torch", seed=0)
    base.update(kw)
    return tc.ConvACClassifier(**base)


#: Every check of scikit-learn applies and passes: none is skipped or expected to fail. Rows ``(n, d)``
#: are read as ``1 x d`` images (``pooling="square"`` pools them in contiguous pairs), so the checks'
#: tabular data is valid input.
EXPECTED_FAILED: dict[str, str] = {}

#: Checks that fit many times (several seconds each here): run with the slow tests.
SLOW_CHECKS = {"check_classifiers_train", "check_methods_subset_invariance", "check_fit_idempotent",
               "check_classifiers_classes", "check_estimators_dtypes", "check_classifiers_one_label_sample_weights",
               "check_dtype_object", "check_fit_check_is_fitted", "check_n_features_in",
               "check_methods_sample_order_invariance", "check_supervised_y_2d", "check_dict_unchanged",
               "check_fit2d_predict1d", "check_estimators_pickle", "check_readonly_memmap_input",
               "check_estimators_overwrite_params", "check_classifiers_regression_target",
               "check_decision_proba_consistency", "check_classifiers_multilabel_output_format_predict"}


def _checks():
    """scikit-learn's checks as pytest params, the many-fit ones marked slow."""
    # 30 one-batch epochs of signed weights reach the accuracy that check_classifiers_train demands (> 0.83
    # on its tabular blobs); log space (the default for product nets) stays below it there in 30-60 epochs.
    mark = parametrize_with_checks([_tiny(parameterization="signed")],
                                   expected_failed_checks=lambda est: EXPECTED_FAILED)
    names, values = mark.args[:2]
    ids = mark.kwargs.get("ids")
    out = []
    for v in values:
        est, check = v.values if hasattr(v, "values") else v
        name = getattr(check, "func", check).__name__
        marks = [*getattr(v, "marks", ()), *([pytest.mark.slow] if name in SLOW_CHECKS else [])]
        out.append(pytest.param(est, check, marks=marks, id=ids(v) if callable(ids) else None))
    return names, out


@pytest.mark.parametrize(*_checks())
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _images(n, size=8, seed=0):
    """Class 1: a bright top half; class 0: a bright bottom half; noise everywhere."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.4, (n, size, size))
    y = rng.integers(0, 2, n)
    X[y == 1, : size // 2] += 0.5
    X[y == 0, size // 2 :] += 0.5
    return X, y


@pytest.mark.parametrize("pooling, g", [("square", "product"), ("mirror", "product"), ("square", "relu_sum")])
def test_fits_synthetic_images_above_chance(pooling, g):
    X, y = _images(160)
    Xt, yt = _images(100, seed=1)
    clf = _tiny(pooling=pooling, g=g, widths=4, n_descriptors=4, epochs=10, batch_size=64).fit(X, y)
    assert clf.score(Xt, yt) > 0.8
    assert clf.model_.n_inputs == 64 and clf.model_.n_outputs == 2
    assert set(clf.classes_) == {0, 1}
    p = clf.predict_proba(Xt)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(Xt), clf.classes_[np.argmax(p, 1)])


def test_default_jax_backend_fits_above_chance():
    X, y = _images(64, size=4)
    Xt, yt = _images(64, size=4, seed=1)
    clf = tc.ConvACClassifier(widths=3, n_descriptors=3, epochs=10, lr=0.05, batch_size=64, seed=0).fit(X, y)
    assert clf.result_.backend == "jax" and clf.score(Xt, yt) > 0.8


def test_channels_patches_labels_and_a_large_log_space_image():
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, (24, 16, 16, 3))
    labels = np.array(["cat", "dog", "eel"])[rng.integers(0, 3, 24)]
    clf = _tiny(epochs=1, patch=3).fit(X, labels)
    assert clf.representation_.s == 27 and clf.result_.parameterization == "log"
    assert set(clf.predict(X)) <= set(labels) and list(clf.classes_) == ["cat", "dog", "eel"]
    assert clf.predict_proba(X).shape == (24, 3)


def test_clone_cross_val_score_and_grid_search():
    X, y = _images(60, size=4)
    clf = _tiny(epochs=5, pooling="mirror")
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "model_")
    scores = cross_val_score(clf, X, y, cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    grid = GridSearchCV(clf, {"widths": [2, 3]}, cv=2).fit(X, y)
    assert grid.best_params_["widths"] in (2, 3)
    assert grid.best_estimator_.model_.widths[grid.best_estimator_.model_.tree.leaves[0]] == grid.best_params_["widths"]


def test_trained_model_is_analyzable(tmp_path):
    X, y = _images(40, size=4)
    clf = _tiny(epochs=2).fit(X, y)
    cut = tc.min_cut(clf.model_, [0, 1, 4, 5])
    assert cut.bound >= 1
    clf.model_.save(tmp_path / "clf.npz")
    back = tc.ConvNet.load(tmp_path / "clf.npz")
    F = clf.representation_(image_patches(X[..., None], 1))
    np.testing.assert_array_equal(back.forward(F), clf.model_.forward(F))


# ---------------------------------------------------------------------- trees and patches
@pytest.mark.parametrize("h, w", [(2, 2), (4, 4), (8, 4), (1, 8), (16, 16)])
def test_square_tree_is_the_grid_for_powers_of_two(h, w):
    assert image_tree(h, w) == tc.ModeTree.grid(h, w)


@pytest.mark.parametrize("h, w", [(4, 4), (8, 8), (5, 6), (1, 7)])
def test_mirror_windows_join_mirror_images(h, w):
    t = image_tree(h, w, "mirror")
    assert t.n_inputs == h * w and sorted(t.root) == list(range(h * w))
    for v in t.levels()[1]:  # first-level windows: a pixel with its reflections (centre lines for odd sides)
        pix = {(i // w, i % w) for i in v}
        r, c = min(pix)
        assert (h - 1 - r, c) in pix or h == 1 or r == h // 2
        assert (r, w - 1 - c) in pix or w == 1 or c == w // 2
    # the left-right mirror partition is a union of first-level windows: cut by nothing below the root
    assert all(len({(i % w) < w / 2 for i in v}) == 2 or w == 1 for v in t.levels()[1] if w % 2 == 0)


def test_odd_square_trees_cover_every_pixel():
    t = image_tree(5, 3)
    assert sorted(t.root) == list(range(15))
    assert all(len(t.children(v)) in (2, 3, 4, 6, 9) for v in t.internal_nodes)


def test_patches_are_the_neighbourhoods():
    img = np.arange(16.0).reshape(1, 4, 4, 1)
    P = image_patches(img, 3)
    assert P.shape == (1, 16, 9)
    np.testing.assert_array_equal(P[0, 5], img[0, 0:3, 0:3, 0].ravel())  # pixel (1, 1): its 3x3 block
    np.testing.assert_array_equal(P[0, 0], [0, 0, 1, 0, 0, 1, 4, 4, 5])  # edge-padded corner


# ---------------------------------------------------------------------- bad input
def test_bad_input_names_the_value():
    X, y = _images(20, size=4)
    clf = _tiny(epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 64 features, but ConvACClassifier is expecting 16"):
        clf.predict(np.zeros((3, 8, 8)))
    bad = X.copy()
    bad[3, 1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _tiny().fit(bad, y)
    with pytest.raises(ValueError, match=r"shape \(4, 4\), but shape=\(8, 8\)"):
        _tiny(shape=(8, 8)).fit(X, y)
    with pytest.raises(ValueError, match="X has 20 samples but y has 19"):
        _tiny().fit(X, y[:-1])
    with pytest.raises(ValueError, match="unknown pooling 'diagonal'"):
        _tiny(pooling="diagonal").fit(X, y)
    with pytest.raises(ValueError, match="pooling tree has 8 inputs but the images have 16"):
        _tiny(pooling=tc.ModeTree.balanced(8)).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        _tiny().fit(X, np.zeros(20, int))
