"""What training differentiates: the free parameters of a net (and its representation) and its logits.

One :class:`Objective` ties a :class:`~tnconv.models.ConvNet`, a parameterization (see
:mod:`tnconv.train.logspace`) and an optional representation layer together. Its parameters are a flat
``{name: array}`` dict, ``"net/<node key>"`` (one entry per tree height for shared weights, so sharing
survives the optimizer) and ``"rep/means"``, ``"rep/log_sigmas"``; :meth:`Objective.logits` runs in
the namespace of its inputs, so the JAX and torch adapters differentiate the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.arrays import namespace, to_numpy
from .._core.keys import node_key
from .forward import group_plan, run_groups
from .logspace import level_scales, resolve_parameterization

__all__ = ["Objective"]


class Objective:
    """Logits of ``model`` under ``parameterization``, as a function of a flat parameter dict.

    Parameters
    ----------
    model : ConvNet
        The net; its weights are the starting point (``log|W|`` in log space).
    parameterization : {"auto", "log", "signed"}
    representation : GaussianDescriptors, optional
        With ``learnable=True`` its means and log-scales are trained; a fixed one is applied once to the
        data (:meth:`prepare`).

    Raises
    ------
    ValueError
        Through :func:`~tnconv.train.logspace.resolve_parameterization`; a representation whose number of
        descriptors is not the net's ``n_descriptors``.
    TypeError
        A representation without ``log_features`` (only :class:`~tnconv.models.GaussianDescriptors`
        has log features and trainable parameters).
    """

    def __init__(self, model: Any, parameterization: str = "auto", representation: Any = None):
        self.model = model
        self.kind = resolve_parameterization(model, parameterization)
        if representation is not None:
            if not hasattr(representation, "log_features"):
                raise TypeError(
                    f"representation must be a GaussianDescriptors (it has log features), got "
                    f"{type(representation).__name__}; apply other representations to X before fit"
                )
            if model.n_descriptors != representation.M:
                raise ValueError(
                    f"the representation has M={representation.M} descriptors but the net expects "
                    f"n_descriptors={model.n_descriptors}"
                )
        self.representation = representation
        self.learn_rep = representation is not None and bool(representation.learnable)
        plan = group_plan(model)
        # One free array per node group (stacked), or per height when the weights are shared, so that the
        # optimizer sees shared weights once and the traced step has a few operations per level.
        self.keys = [f"net/h{h}" if model.shared else f"net/g{gi}" for gi, h in enumerate(plan.heights)]
        self.heights = sorted(set(plan.heights))
        self.scales: dict[int, float] = {}

    # ------------------------------------------------------------------ data
    def prepare(self, X: np.ndarray) -> np.ndarray:
        """The array the logits take: patches (learnable representation), else features or their logs.

        Raises
        ------
        ValueError
            In log space, features that are not all positive (naming the first offending entry).
        """
        rep = self.representation
        if self.learn_rep:
            return np.asarray(X, dtype=self.model.dtype)
        if rep is not None:
            out = rep.log_features(X) if self.kind == "log" else rep(X)
            return np.asarray(out, dtype=self.model.dtype)
        if self.kind == "log":
            bad = np.argwhere(~(X > 0))
            if bad.size:
                at = tuple(int(i) for i in bad[0])
                raise ValueError(
                    f"log-space training needs positive features, but X{list(at)} = {float(X[at])!r}; use a "
                    "representation such as GaussianDescriptors, or parameterization='signed'"
                )
            return np.log(X).astype(self.model.dtype)
        return np.asarray(X, dtype=self.model.dtype)

    def features(self, Xp: np.ndarray) -> np.ndarray:
        """Features (not logs) in numpy, float64, from what :meth:`prepare` returned."""
        if self.learn_rep:
            lf = self.representation.log_features(Xp)
            return np.asarray(np.exp(lf) if self.kind == "signed" else lf, dtype=np.float64)
        return np.asarray(Xp, dtype=np.float64)

    # ------------------------------------------------------------------ parameters
    def init_params(self, sample: np.ndarray) -> dict[str, np.ndarray]:
        """The starting parameters (numpy, the model's dtype); ``sample`` (prepared) fixes the signed scales.

        Log space starts from ``log|W|`` of the model's weights, signed training from ``W / s_h``.
        """
        dtype = self.model.dtype
        weights = {v: np.asarray(to_numpy(w), dtype=np.float64) for v, w in self.model.weights.items()}
        if self.kind == "signed":
            self.scales = level_scales(self.model, self.features(sample), weights)
        params: dict[str, np.ndarray] = {}
        plan = group_plan(self.model)
        for key, (_, nodes) in zip(self.keys, plan.groups):
            stack = weights[nodes[0]] if self.model.shared else np.stack([weights[v] for v in nodes])
            if self.kind == "log":
                top = float(np.abs(stack).max()) or 1.0
                params[key] = np.log(np.maximum(np.abs(stack), 1e-6 * top)).astype(dtype)
            else:
                # the trained theta_h = W_h s_h / s_h: the level scales are applied in the forward
                params[key] = stack.astype(dtype)
        if self.learn_rep:
            for name, arr in self.representation.parameters().items():
                params["rep/" + name] = np.asarray(to_numpy(arr), dtype=dtype)
        return params

    def constants(self) -> dict[str, np.ndarray]:
        """What :meth:`logits` reads besides the parameters and differs between fits: the signed scales.

        ``{"scales": (len(heights),)}`` in the model's dtype, the scale of every height in
        :attr:`heights` (signed; empty in log space). Passed to :meth:`logits` as an argument (not read
        from :attr:`scales` as Python numbers) so that a compiled step serves fits with other scales.
        """
        if self.kind != "signed":
            return {}
        return {"scales": np.array([self.scales.get(h, 1.0) for h in self.heights], dtype=self.model.dtype)}

    def logits(self, params: dict[str, Any], xb: Any, constants: dict[str, Any] | None = None) -> Any:
        """``(batch, n_outputs)`` logits in the namespace of ``xb`` (and ``params``); differentiable.

        ``constants`` (as :meth:`constants` returns, in that namespace) gives the signed scales; default
        :attr:`scales`.
        """
        feats = xb
        if self.learn_rep:
            rep = self.representation.with_parameters(
                {"means": params["rep/means"], "log_sigmas": params["rep/log_sigmas"]}
            )
            lf = rep.log_features(xb)
            feats = lf if self.kind == "log" else namespace(lf).exp(lf)
        scales: dict[int, Any] | None = None
        if self.kind == "signed":
            if constants is None:
                scales = {h: self.scales.get(h, 1.0) for h in self.heights}
            else:
                scales = {h: constants["scales"][i] for i, h in enumerate(self.heights)}
        return run_groups(self.model, [params[k] for k in self.keys], feats, self.kind, scales)

    def effective_weights(self, params: dict[str, np.ndarray]) -> dict[frozenset, np.ndarray]:
        """``{node: W}`` in numpy float64: ``exp(theta)`` (log space) or ``s_h theta_h`` (signed)."""
        out: dict[frozenset, np.ndarray] = {}
        plan = group_plan(self.model)
        for key, h, (_, nodes) in zip(self.keys, plan.heights, plan.groups):
            th = np.asarray(params[key], dtype=np.float64)
            W = np.exp(th) if self.kind == "log" else th * self.scales[h]
            for i, v in enumerate(nodes):
                out[v] = W if self.model.shared else W[i]
        return out

    def to_model(self, params: dict[str, np.ndarray]) -> Any:
        """The trained net: a copy of the model with the effective weights, numpy, in the model's dtype.

        Raises
        ------
        ValueError
            Non-finite weights (naming the node).
        """
        dtype = self.model.dtype
        weights = {node_key(v): np.asarray(w, dtype=dtype) for v, w in self.effective_weights(params).items()}
        new = self.model.with_parameters(weights)
        new.set_weights(new.weights)  # full validation: finite values, sharing
        return new

    def to_representation(self, params: dict[str, np.ndarray]) -> Any:
        """The trained representation (numpy), or the fixed one, or None."""
        if not self.learn_rep:
            return self.representation
        return self.representation.with_parameters(
            {"means": np.asarray(params["rep/means"], np.float64),
             "log_sigmas": np.asarray(params["rep/log_sigmas"], np.float64)}
        )
