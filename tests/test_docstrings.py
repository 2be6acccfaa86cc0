"""Every public name is documented: a docstring, an Examples section, and a place in the API reference.

The public API is ``tnconv.__all__`` (lazy names included) and, recursively, the ``__all__`` of the
public subpackages listed there (``partitions``, ``linear``, ``exact``, ``experiments`` and its
experiment modules, ``train``, ``datasets``). Of a class, its public methods and properties count,
inherited ones too when a tnconv class defines them. Functions, methods and classes need a docstring
with an Examples section that holds a doctest (pytest runs it through ``--doctest-modules``) and, when
they take arguments, a Parameters section (records may list their fields as Attributes instead);
properties and modules need a docstring. Plain data (constants, dicts) cannot carry a docstring and is skipped.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import types
from collections.abc import Iterator
from typing import Any

import pytest

import tnconv

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Exemptions, each with its reason. Keys are fnmatch-free qualified names, or ``*.name`` suffixes.
EXEMPT_EXAMPLES: dict[str, str] = {
    # Each experiment module's run/plot/verdict and result class are shown together in the module
    # docstring's Examples (one small run per module, 0.2-2 s); three runs per module would triple that.
    "experiments:run": "shown with plot and verdict in the experiment module's Examples",
    "experiments:plot": "shown with run and verdict in the experiment module's Examples",
    "experiments:verdict": "shown with run and plot in the experiment module's Examples",
    "experiments:Result": "plain data returned by run, described in prose and shown in the module's Examples",
}
# Methods of trained models: an example needs a training run (JAX compiles for 10-25 s), so one run in
# the class's or in fit's Examples calls them all.
_TRAINED = "needs a trained model; called in the Examples of {}"
EXEMPT_NAMES: dict[str, str] = {
    **{f"tnconv.train.classifier.ConvACClassifier.{m}": _TRAINED.format("ConvACClassifier")
       for m in ("fit", "predict", "predict_proba", "decision_function")},
    **{f"tnconv.train.fit.FitResult.{m}": _TRAINED.format("tnconv.train.fit")
       for m in ("logits", "predict", "predict_proba")},
    "tnconv.train.fit.FitResult": "returned by tnconv.train.fit, shown in its Examples",
}
# Experiments that train networks take 15 s to 2 min at size "small": their modules' Examples show the
# grid of runs, not a run.
TRAINING_EXPERIMENTS = {"pooling_geometry_trained", "width_range_trained", "entanglement_trained"}

SECTION = re.compile(r"^Examples\n-{8,}\n", re.MULTILINE)


def _owner_is_tnconv(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass if klass.__module__.startswith("tnconv") else None
    return None


def _members(cls: type) -> Iterator[tuple[str, Any, type]]:
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = _owner_is_tnconv(cls, name)
        if owner is not None:
            yield name, vars(owner)[name], owner


def _get(module: types.ModuleType, name: str) -> Any:
    try:
        return getattr(module, name)
    except ModuleNotFoundError as exc:
        # A lazily loaded module that is not merged yet (tnconv.train, tnconv.datasets): nothing to check.
        if exc.name and exc.name.startswith("tnconv."):
            return None
        raise


def public_api() -> dict[str, tuple[Any, str]]:
    """``{qualified name: (object, kind)}`` of the public API; kind is module/class/callable/property."""
    found: dict[str, tuple[Any, str]] = {}
    seen: set[int] = set()

    def visit(obj: Any, qualname: str) -> None:
        if isinstance(obj, types.ModuleType):
            if id(obj) in seen or not obj.__name__.startswith("tnconv"):
                return
            seen.add(id(obj))
            found[qualname] = (obj, "module")
            for name in getattr(obj, "__all__", ()):
                if not name.startswith("__"):
                    value = _get(obj, name)
                    if value is not None:
                        visit(value, f"{qualname}.{name}")
        elif inspect.isclass(obj):
            key = f"{obj.__module__}.{obj.__qualname__}"
            if key in found or not obj.__module__.startswith("tnconv"):
                return
            found[key] = (obj, "class")
            for name, value, owner in _members(obj):
                member = f"{owner.__module__}.{owner.__qualname__}.{name}"
                if isinstance(value, property):
                    found[member] = (value, "property")
                elif isinstance(value, (staticmethod, classmethod)):
                    found[member] = (value.__func__, "callable")
                elif inspect.isfunction(value):
                    found[member] = (value, "callable")
        elif inspect.isfunction(obj):
            found[f"{obj.__module__}.{obj.__qualname__}"] = (obj, "callable")

    visit(tnconv, "tnconv")
    return found


API = public_api()


def _exemption(name: str, obj: Any) -> str | None:
    if name in EXEMPT_NAMES:
        return EXEMPT_NAMES[name]
    parts = name.split(".")
    if parts[:2] == ["tnconv", "experiments"] and len(parts) >= 4:
        tail = parts[3]
        if len(parts) == 4 and tail in ("run", "plot", "verdict"):
            return EXEMPT_EXAMPLES["experiments:" + tail]
        if len(parts) == 4 and tail.endswith("Result") and inspect.isclass(obj):
            return EXEMPT_EXAMPLES["experiments:Result"]
    return None


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "") if isinstance(obj, property) else (inspect.getdoc(obj) or "")


def test_the_walk_finds_the_api() -> None:
    # A walk that found nothing would pass every check below.
    for name in ("tnconv.models.base.ConvNet.forward", "tnconv.network.TensorNetwork.from_quimb",
                 "tnconv.partitions.odd_even", "tnconv.mincut.result.MinCut.draw", "tnconv.models.io.Persistable.save"):
        assert name in API, name
    assert len(API) > 150


@pytest.mark.parametrize("name", sorted(API))
def test_public_name_has_a_docstring(name: str) -> None:
    obj, _ = API[name]
    assert _doc(obj).strip(), f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(n for n, (_, kind) in API.items() if kind in ("class", "callable")))
def test_public_callable_has_examples(name: str) -> None:
    obj, _ = API[name]
    if _exemption(name, obj):
        return
    doc = _doc(obj)
    match = SECTION.search(doc)
    assert match, f"{name} has no Examples section"
    assert ">>> " in doc[match.end():], f"the Examples section of {name} has no doctest"


def _takes_arguments(obj: Any) -> bool:
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return any(p not in ("self", "cls") and not p.startswith("_") for p in params)


@pytest.mark.parametrize("name", sorted(n for n, (o, kind) in API.items() if kind in ("class", "callable")))
def test_public_callable_documents_its_parameters(name: str) -> None:
    obj, _ = API[name]
    if not _takes_arguments(obj) or (_exemption(name, obj) and name not in EXEMPT_NAMES):
        return
    doc = _doc(obj)
    if inspect.isclass(obj) and (re.search(r"^Attributes\n-{8,}", doc, re.MULTILINE)
                                 or "Parameters are those of" in doc):
        return  # a record (dataclass, named tuple, exception) documents its fields as attributes
    assert re.search(r"^Parameters\n-{8,}\n", doc, re.MULTILINE), f"{name} has no Parameters section"


def test_experiment_modules_show_run_plot_and_verdict() -> None:
    # The exemption above holds only if each experiment module's own Examples run all three.
    experiments = importlib.import_module("tnconv.experiments")
    for name in experiments.names():
        if name in TRAINING_EXPERIMENTS:
            continue
        doc = _doc(importlib.import_module(f"tnconv.experiments.{name}"))
        match = SECTION.search(doc)
        assert match, f"tnconv.experiments.{name} has no Examples section"
        for call in ("run(", "verdict(", "plot("):
            assert call in doc[match.end():], f"the Examples of tnconv.experiments.{name} do not call {call}"


def test_every_top_level_name_is_in_the_api_reference() -> None:
    pages = "\n".join(p.read_text() for p in (ROOT / "docs" / "api").glob("*.rst"))
    listed = set(re.findall(r"^\s+([A-Za-z_][\w.]*)\s*$", pages, re.MULTILINE))
    modules = set(re.findall(r"^\.\. automodule:: tnconv\.(\w+)", pages, re.MULTILINE))
    for name in tnconv.__all__:
        if name == "__version__":
            continue
        assert name in listed or name in modules, f"tnconv.{name} is not in docs/api/*.rst"


def test_every_public_submodule_has_a_reference_section() -> None:
    # Subpackages are documented with automodule, module by module: a new module needs its section.
    pages = "\n".join(p.read_text() for p in (ROOT / "docs" / "api").glob("*.rst"))
    documented = set(re.findall(r"^\.\. automodule:: ([\w.]+)", pages, re.MULTILINE))
    for name, (_obj, kind) in API.items():
        if kind == "module" and name != "tnconv":
            assert name in documented, f"{name} has no automodule section in docs/api/*.rst"


def test_every_figure_is_in_the_gallery() -> None:
    gallery = (ROOT / "docs" / "gallery.rst").read_text()
    for png in sorted((ROOT / "notebooks" / "figures").glob("*.png")):
        assert f"figures/{png.name}" in gallery, f"{png.name} is not in docs/gallery.rst"


def test_no_docstring_cites_a_file_that_does_not_ship() -> None:
    for path in (ROOT / "tnconv").rglob("*.py"):
        assert "MATH.md" not in path.read_text(), f"{path.relative_to(ROOT)} cites MATH.md"


def test_exemptions_name_public_objects() -> None:
    # An exemption for a name that no longer exists would hide nothing and rot.
    for name in EXEMPT_NAMES:
        assert name in API, f"exemption for {name}, which is not in the public API"
    experiments = importlib.import_module("tnconv.experiments")
    assert set(experiments.names()) >= TRAINING_EXPERIMENTS
