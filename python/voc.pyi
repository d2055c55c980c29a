"""voc: what customer feedback says about quality (sentiment, tags with
evidence, sentences). Python bindings of the Rust crate `voc`."""

import pathlib
from os import PathLike
from typing import Any, Dict, Iterable, List, Optional, Union

__version__: str
FORMAT_VERSION: int

class VocError(ValueError):
    """An error from voc (bad model, bad option, bad data), with voc's message.
    I/O errors are raised as OSError (FileNotFoundError, PermissionError)."""

class ModelError(VocError):
    """A model folder is unreadable, inconsistent or of an unsupported version."""

Prediction = Dict[str, Any]
"""`{"sentiment": {"label", "score", "probabilities", "evidence"}, "tags": [...],
"tag_probabilities": {...}, "sentences": [...], "truncated": bool}`: the Rust
`Prediction` as serde_json writes it (see the README)."""

class Classifier:
    """The default model compiled into the wheel. Thread-safe; not picklable:
    on a cluster use `get_classifier()` inside the worker function."""

    def __init__(self, *, max_input_bytes: Optional[int] = None) -> None: ...
    @staticmethod
    def load(path: Union[str, "PathLike[str]"], *, max_input_bytes: Optional[int] = None) -> "Classifier":
        """Load a model folder (checksums, shapes and labels are checked)."""
    def classify(self, text: str) -> Prediction:
        """Classify one comment."""
    def classify_json(self, text: str) -> str:
        """The prediction as the JSON line `voc classify` prints."""
    def classify_batch(self, texts: Iterable[str]) -> List[Prediction]:
        """Classify many comments on every core (GIL released); input order,
        each equal to `classify(text)`."""
    def classify_batch_columns(self, texts: Iterable[str]) -> Dict[str, List[Any]]:
        """Columns for `pandas.DataFrame`: sentiment, sentiment_score,
        p_<class>..., tags (';'-joined), p_<tag>..., truncated."""
    @property
    def labels(self) -> Dict[str, Any]:
        """`{"sentiment": [...], "tags": [...], "thresholds": {tag: float}}`."""
    @property
    def max_input_bytes(self) -> int: ...
    @property
    def path(self) -> "Optional[pathlib.Path]":
        """The model folder, or None for the embedded model."""

def get_classifier(path: Union[str, "PathLike[str]", None] = None) -> Classifier:
    """This process's classifier for `path` (None: the embedded model), loaded
    on first use and the same object afterwards."""

def set_threads(n: int) -> None:
    """Threads used by batches in this process (0: every core or RAYON_NUM_THREADS)."""

def get_threads() -> int: ...
