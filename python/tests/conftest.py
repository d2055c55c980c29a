import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PYTHON_DIR = HERE.parent
REPO = PYTHON_DIR.parent
DEFAULT_MODEL = REPO / "models" / "default"

# The examples are importable by the Spark and Dask tests (and shipped to
# Spark's Python workers with addPyFile, as on a cluster).
sys.path.insert(0, str(PYTHON_DIR / "examples"))

COMMENTS = [
    "The app crashed twice while I was paying, and I lost my basket both times.",
    "The agent who answered was lovely and sorted my refund in five minutes.",
    "I was charged twice and still have not received a refund.",
    "Nobody told me the store had moved. The website still shows the old address.",
    "The new cashier did not know how to process a return and had to call her manager three times.",
    "Great service, thank you!",
    "",
    "   ",
    "It broke after a week.",
    "Ok.",
    "Le produit est arrivé cassé 😡 et personne ne répond au téléphone.",
    "I waited 40 minutes on hold. Then the line dropped. Then I waited again!!!",
    "Delivery was on time.",
    "x" * 50_000,
]


@pytest.fixture(scope="session")
def voc():
    import voc as module

    return module


@pytest.fixture(scope="session")
def clf(voc):
    return voc.Classifier()


@pytest.fixture(scope="session")
def comments():
    return list(COMMENTS)


@pytest.fixture()
def model_copy(tmp_path):
    """A copy of the default model folder, to load or to damage."""
    if not (DEFAULT_MODEL / "config.json").exists():
        pytest.skip(f"no model folder at {DEFAULT_MODEL}")
    dst = tmp_path / "model"
    dst.mkdir()
    for name in ["config.json", "labels.json", "tokenizer.json", "model.safetensors"]:
        shutil.copy(DEFAULT_MODEL / name, dst / name)
    return dst
