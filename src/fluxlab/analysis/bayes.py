"""Naive Bayes classification of points: P(class | derived features), honestly evaluated.

The maths is scikit-learn's: `CategoricalNB` for categorical features (hemisphere,
season, S2 cell, neighbourhood...) and `GaussianNB` for numeric ones (lat, lon). With
both kinds, their joint log-likelihoods are added and the class prior, counted twice,
is subtracted once — that is exactly naive Bayes over the union of the features.

Evaluation holds out whole groups (e.g. every point of one bird: no track is in both
train and test) or the latest part of the time range, and reports the majority-class
baseline beside accuracy and macro-F1 so a model that learned nothing shows it.

Models are saved as JSON (fitted arrays plus category vocabularies), never pickles,
so loading a model file cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from scipy.special import logsumexp
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.naive_bayes import CategoricalNB, GaussianNB

from fluxlab.analysis.features import FeatureError, derive

MODEL_FORMAT = "fluxlab-naive-bayes/1"


@dataclass
class ClassifierSpec:
    """What to predict from what, and how to hold data out."""

    target: str
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    split: str = "time"  # "time", "random" or "group:<column>"
    test_fraction: float = 0.25
    alpha: float = 1.0
    seed: int = 0
    time_column: str = "time"
    lat: str = "lat"
    lon: str = "lon"

    def validate(self) -> None:
        if not self.categorical and not self.numeric:
            raise FeatureError("choose at least one feature (categorical or numeric)")
        if not 0 < self.test_fraction < 1:
            raise FeatureError(f"test fraction must be between 0 and 1, got {self.test_fraction}")
        if self.split not in ("time", "random") and not self.split.startswith("group:"):
            raise FeatureError(f"split must be time, random or group:<column>, got {self.split!r}")


@dataclass
class Evaluation:
    """Hold-out scores of a model next to the majority-class baseline."""

    split: str
    rows_used: int
    rows_dropped: int
    n_train: int
    n_test: int
    accuracy: float
    macro_f1: float
    baseline_class: str
    baseline_accuracy: float
    baseline_macro_f1: float
    labels: list[str]
    confusion: list[list[int]]

    def to_dict(self) -> dict:
        return asdict(self)


class NaiveBayesModel:
    """A fitted naive Bayes classifier over derived point features."""

    def __init__(self, spec: ClassifierSpec) -> None:
        spec.validate()
        self.spec = spec
        self.classes: list[str] = []
        self.vocab: dict[str, list[str]] = {}
        self._cat: CategoricalNB | None = None
        self._num: GaussianNB | None = None

    # ------------------------------------------------------------------ encoding

    def _categorical_codes(self, feats: pl.DataFrame) -> np.ndarray:
        """Integer codes per feature; a value unseen in training gets its own last code."""
        cols = []
        for name in self.spec.categorical:
            vocab = self.vocab[name]
            lookup = pl.DataFrame({name: vocab, "__code": np.arange(len(vocab), dtype=np.int64)})
            codes = feats.select(name).join(lookup, on=name, how="left", maintain_order="left")
            cols.append(codes.get_column("__code").fill_null(len(vocab)).to_numpy())
        return np.stack(cols, axis=1)

    def _numeric_matrix(self, frame: pl.DataFrame) -> np.ndarray:
        missing = [c for c in self.spec.numeric if c not in frame.columns]
        if missing:
            raise FeatureError(f"numeric feature(s) {missing} missing; the data has {frame.columns}")
        return frame.select([pl.col(c).cast(pl.Float64) for c in self.spec.numeric]).to_numpy()

    def features(self, frame: pl.DataFrame) -> pl.DataFrame:
        return derive(
            frame,
            self.spec.categorical,
            time_column=self.spec.time_column,
            lat=self.spec.lat,
            lon=self.spec.lon,
        )

    # ------------------------------------------------------------------ fit / predict

    def fit(self, frame: pl.DataFrame) -> NaiveBayesModel:
        target = frame.get_column(self.spec.target).cast(pl.String)
        self.classes = target.unique().drop_nulls().sort().to_list()
        # Integer class codes: scikit-learn is far slower on arrays of Python strings.
        y = _codes(target, self.classes)
        if len(self.classes) < 2:
            raise FeatureError(
                f"target {self.spec.target!r} has a single class {self.classes}: "
                "nothing to classify"
            )
        if self.spec.categorical:
            feats = self.features(frame)
            self.vocab = {c: sorted(feats.get_column(c).unique().to_list()) for c in feats.columns}
            codes = self._categorical_codes(feats)
            self._cat = CategoricalNB(
                alpha=self.spec.alpha,
                min_categories=[len(self.vocab[c]) + 1 for c in self.spec.categorical],
            ).fit(codes, y)
        if self.spec.numeric:
            self._num = GaussianNB().fit(self._numeric_matrix(frame), y)
        return self

    def log_proba(self, frame: pl.DataFrame) -> np.ndarray:
        """Log P(class | features) per row; columns follow `self.classes`."""
        jll = np.zeros((frame.height, len(self.classes)))
        priors = 0
        if self._cat is not None:
            jll += self._cat.predict_joint_log_proba(self._categorical_codes(self.features(frame)))
            priors += 1
        if self._num is not None:
            jll += self._num.predict_joint_log_proba(self._numeric_matrix(frame))
            priors += 1
        if priors == 2:
            jll -= self._cat.class_log_prior_
        return jll - logsumexp(jll, axis=1, keepdims=True)

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        return np.exp(self.log_proba(frame))

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return np.asarray(self.classes)[self.log_proba(frame).argmax(axis=1)]

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> str:
        state: dict = {"format": MODEL_FORMAT, "spec": asdict(self.spec), "classes": self.classes}
        if self._cat is not None:
            state["categorical"] = {
                "vocab": self.vocab,
                "class_count": self._cat.class_count_.tolist(),
                "category_count": [c.tolist() for c in self._cat.category_count_],
            }
        if self._num is not None:
            state["numeric"] = {
                "class_count": self._num.class_count_.tolist(),
                "theta": self._num.theta_.tolist(),
                "var": self._num.var_.tolist(),
                "epsilon": float(self._num.epsilon_),
            }
        return json.dumps(state, indent=1)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def from_json(cls, text: str) -> NaiveBayesModel:
        state = json.loads(text)
        if state.get("format") != MODEL_FORMAT:
            raise FeatureError(f"not a fluxlab naive Bayes model (format {state.get('format')!r})")
        model = cls(ClassifierSpec(**state["spec"]))
        model.classes = state["classes"]
        classes = np.arange(len(model.classes))
        if "categorical" in state:
            cat = state["categorical"]
            model.vocab = cat["vocab"]
            est = CategoricalNB(alpha=model.spec.alpha)
            est.classes_ = classes
            est.class_count_ = np.asarray(cat["class_count"], dtype=np.float64)
            est.category_count_ = [np.asarray(c, dtype=np.float64) for c in cat["category_count"]]
            est.n_categories_ = np.asarray([c.shape[1] for c in est.category_count_])
            est.n_features_in_ = len(est.category_count_)
            est._update_class_log_prior()
            est._update_feature_log_prob(est.alpha)
            model._cat = est
        if "numeric" in state:
            num = state["numeric"]
            est = GaussianNB()
            est.classes_ = classes
            est.class_count_ = np.asarray(num["class_count"], dtype=np.float64)
            est.class_prior_ = est.class_count_ / est.class_count_.sum()
            est.theta_ = np.asarray(num["theta"], dtype=np.float64)
            est.var_ = np.asarray(num["var"], dtype=np.float64)
            est.epsilon_ = num["epsilon"]
            est.n_features_in_ = est.theta_.shape[1]
            model._num = est
        return model

    @classmethod
    def load(cls, path: str | Path) -> NaiveBayesModel:
        return cls.from_json(Path(path).read_text())


# ---------------------------------------------------------------------- training


def _needed_columns(spec: ClassifierSpec) -> list[str]:
    cols = {spec.target, *spec.numeric}
    for f in spec.categorical:
        if f in ("hemisphere",) or f.startswith("s2:"):
            cols.update([spec.lat, spec.lon] if f.startswith("s2:") else [spec.lat])
        elif f == "season":
            cols.update([spec.time_column, spec.lat])
        elif f in ("month", "hour", "weekday"):
            cols.add(spec.time_column)
        else:
            cols.add(f)
    if spec.split.startswith("group:"):
        cols.add(spec.split[6:])
    if spec.split == "time":
        cols.add(spec.time_column)
    return sorted(cols)


def _codes(values: pl.Series, labels: list[str] | None = None) -> np.ndarray:
    """Integer codes of string values (index into `labels`, default: sorted uniques)."""
    labels = labels if labels is not None else values.unique().drop_nulls().sort().to_list()
    return values.cast(pl.Enum(labels)).to_physical().to_numpy().astype(np.int64)


def _split(frame: pl.DataFrame, spec: ClassifierSpec) -> tuple[np.ndarray, np.ndarray]:
    n = frame.height
    if spec.split == "time":
        order = np.argsort(frame.get_column(spec.time_column).to_numpy(), kind="stable")
        cut = int(round(n * (1 - spec.test_fraction)))
        return order[:cut], order[cut:]
    if spec.split == "random":
        perm = np.random.default_rng(spec.seed).permutation(n)
        cut = int(round(n * (1 - spec.test_fraction)))
        return perm[:cut], perm[cut:]
    groups = _codes(frame.get_column(spec.split[6:]).cast(pl.String))
    if groups.max(initial=0) < 1:
        raise FeatureError(f"split {spec.split!r} needs at least two groups")
    splitter = GroupShuffleSplit(n_splits=1, test_size=spec.test_fraction, random_state=spec.seed)
    train, test = next(splitter.split(np.zeros(n), groups=groups))
    return train, test


def train_and_evaluate(
    frame: pl.DataFrame, spec: ClassifierSpec
) -> tuple[NaiveBayesModel, Evaluation]:
    """Fit on the training part, score on the held-out part, then refit on everything."""
    spec.validate()
    needed = _needed_columns(spec)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise FeatureError(f"data has no column(s) {missing}; available: {frame.columns}")
    usable = frame.select(needed).drop_nulls()
    dropped = frame.height - usable.height
    if usable.height == 0:
        raise FeatureError(f"no rows have all of {needed}: nothing to train on")
    train_idx, test_idx = _split(usable, spec)
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise FeatureError("the split left no training or no test rows; use more data")
    train, test = usable[train_idx], usable[test_idx]
    model = NaiveBayesModel(spec).fit(train)
    target = usable.get_column(spec.target).cast(pl.String)
    labels = target.unique().sort().to_list()
    # Scores on integer codes: scikit-learn's metrics sort Python strings slowly.
    y_true = _codes(test.get_column(spec.target).cast(pl.String), labels)
    to_label_code = np.asarray([labels.index(c) for c in model.classes])
    y_pred = to_label_code[model.log_proba(test).argmax(axis=1)]
    train_codes = _codes(train.get_column(spec.target).cast(pl.String), labels)
    majority = int(np.bincount(train_codes, minlength=len(labels)).argmax())
    baseline = np.full(len(y_true), majority)
    codes = list(range(len(labels)))
    evaluation = Evaluation(
        split=spec.split,
        rows_used=usable.height,
        rows_dropped=dropped,
        n_train=train.height,
        n_test=test.height,
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", labels=codes, zero_division=0)),
        baseline_class=labels[majority],
        baseline_accuracy=float(accuracy_score(y_true, baseline)),
        baseline_macro_f1=float(
            f1_score(y_true, baseline, average="macro", labels=codes, zero_division=0)
        ),
        labels=labels,
        confusion=confusion_matrix(y_true, y_pred, labels=codes).tolist(),
    )
    return NaiveBayesModel(spec).fit(usable), evaluation
