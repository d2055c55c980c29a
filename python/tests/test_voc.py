"""The wheel: round trip, batch == single, columns, errors, threads, fork."""

import json
import multiprocessing
import os
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

PREDICTION_KEYS = {"sentiment", "tags", "tag_probabilities", "sentences", "truncated"}
SENTIMENT_KEYS = {"label", "score", "probabilities", "evidence"}
SPAN_KEYS = {"start", "end", "text", "weight"}
TAGS = {"product_failure", "communication_gap", "training_need", "process_breakdown"}


def check_spans(spans, text):
    for s in spans:
        assert set(s) == SPAN_KEYS
        assert isinstance(s["weight"], float)
        # Offsets count characters (Unicode scalar values), as Python does.
        assert text[s["start"] : s["end"]] == s["text"]


def test_classify_round_trip(clf):
    text = "The app crashed twice. The agent who helped me was lovely."
    p = clf.classify(text)
    assert set(p) == PREDICTION_KEYS
    assert set(p["sentiment"]) == SENTIMENT_KEYS
    assert p["sentiment"]["label"] in clf.labels["sentiment"]
    assert set(p["sentiment"]["probabilities"]) == set(clf.labels["sentiment"])
    assert sum(p["sentiment"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert -1.0 <= p["sentiment"]["score"] <= 1.0
    assert set(p["tag_probabilities"]) == set(clf.labels["tags"])
    assert set(p["sentiment"]["evidence"]) == {"sentences", "words"}
    for tag in p["tags"]:
        assert set(tag) == {"name", "probability", "evidence"}
        assert tag["probability"] == p["tag_probabilities"][tag["name"]]
        check_spans(tag["evidence"]["sentences"], text)
        check_spans(tag["evidence"]["words"], text)
    assert [s["text"] for s in p["sentences"]] == ["The app crashed twice.", "The agent who helped me was lovely."]
    for s in p["sentences"]:
        assert text[s["start"] : s["end"]] == s["text"]
        assert s["sentiment"] in clf.labels["sentiment"]
    assert "product_failure" in p["tag_probabilities"]
    assert p["truncated"] is False
    # Plain Python objects: JSON and back gives the same thing.
    assert json.loads(json.dumps(p)) == p


def test_same_as_serde_json(clf, comments):
    # The dicts are the Rust Prediction as serde_json writes it (the line
    # `voc classify` prints), read by json.loads: same keys, nesting, floats.
    for text in comments + ["The app crashed twice. The agent who helped me was lovely."]:
        assert clf.classify(text) == json.loads(clf.classify_json(text))


def test_values_are_plain_python(clf):
    def walk(x):
        if isinstance(x, dict):
            assert type(x) is dict and all(type(k) is str for k in x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            assert type(x) is list
            for v in x:
                walk(v)
        else:
            assert type(x) in (str, int, float, bool), type(x)

    walk(clf.classify("Le produit est arrivé cassé 😡. Personne ne répond."))


def test_known_predictions(clf):
    assert clf.classify("My order arrived broken and support never called back.")["sentiment"]["label"] == "negative"
    p = clf.classify("I was charged twice and still have not received a refund.")
    assert "process_breakdown" in [t["name"] for t in p["tags"]]
    assert clf.classify("Great service, thank you!")["tags"] == []


def test_floats_read_like_json(clf):
    # f32 values come out as their shortest decimal (as `voc classify` writes
    # them), not as 0.800000011920929.
    p = clf.classify("The screen broke after a day.")
    for v in p["tag_probabilities"].values():
        assert float(json.dumps(v)) == v
        digits = repr(v).split("e")[0].replace("-", "").replace(".", "").strip("0")
        assert len(digits) <= 9, v  # an f32 needs at most 9 significant digits


def test_empty_and_long_inputs(clf):
    empty = clf.classify("")
    assert empty["sentiment"]["label"] == "neutral"
    assert empty["tags"] == [] and empty["sentences"] == []
    assert clf.classify("   \n\t")["sentiment"]["label"] == "neutral"
    long = clf.classify("The screen broke. " * 5000)
    assert long["truncated"] is True
    short = type(clf)(max_input_bytes=20)
    assert short.max_input_bytes == 20
    assert short.classify("The screen broke after a day. Support never called back.")["truncated"] is True


def test_batch_equals_single(clf, comments):
    batch = clf.classify_batch(comments)
    assert isinstance(batch, list) and len(batch) == len(comments)
    assert batch == [clf.classify(c) for c in comments]
    # Any iterable of str, in order.
    assert clf.classify_batch(tuple(comments)) == batch
    assert clf.classify_batch(c for c in comments) == batch
    assert clf.classify_batch([]) == []


def test_batch_from_pandas(clf, comments):
    pd = pytest.importorskip("pandas")
    series = pd.Series(comments, index=range(100, 100 + len(comments)))
    assert clf.classify_batch(series) == clf.classify_batch(comments)
    assert clf.classify_batch(series.astype("string")) == clf.classify_batch(comments)


def test_columns(clf, comments):
    cols = clf.classify_batch_columns(comments)
    classes, tags = clf.labels["sentiment"], clf.labels["tags"]
    assert list(cols) == (
        ["sentiment", "sentiment_score"]
        + [f"p_{c}" for c in classes]
        + ["tags"]
        + [f"p_{t}" for t in tags]
        + ["truncated"]
    )
    assert all(len(v) == len(comments) for v in cols.values())
    for i, p in enumerate(clf.classify_batch(comments)):
        assert cols["sentiment"][i] == p["sentiment"]["label"]
        assert cols["sentiment_score"][i] == p["sentiment"]["score"]
        for c in classes:
            assert cols[f"p_{c}"][i] == p["sentiment"]["probabilities"][c]
        assert cols["tags"][i] == ";".join(t["name"] for t in p["tags"])
        for t in tags:
            assert cols[f"p_{t}"][i] == p["tag_probabilities"][t]
        assert cols["truncated"][i] == p["truncated"]
    empty = clf.classify_batch_columns([])
    assert list(empty) == list(cols) and all(v == [] for v in empty.values())


def test_columns_to_dataframe(clf, comments):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(clf.classify_batch_columns(comments))
    assert len(df) == len(comments)
    assert df["sentiment_score"].dtype == "float64"
    assert df["p_product_failure"].dtype == "float64"
    assert df["truncated"].dtype == "bool"
    assert ((df["p_negative"] + df["p_neutral"] + df["p_positive"]) - 1).abs().max() < 1e-4


def test_labels(clf, voc):
    labels = clf.labels
    assert labels["sentiment"] == ["negative", "neutral", "positive"]
    assert set(labels["tags"]) == TAGS
    assert set(labels["thresholds"]) == TAGS
    assert all(0.0 < t < 1.0 for t in labels["thresholds"].values())
    assert clf.path is None
    assert "embedded" in repr(clf) and "product_failure" in repr(clf)
    assert voc.__version__ and voc.FORMAT_VERSION >= 1


def test_load_model_folder(voc, clf, model_copy, comments):
    loaded = voc.Classifier.load(model_copy)
    assert loaded.labels == clf.labels
    assert str(loaded.path) == str(model_copy)
    assert loaded.classify_batch(comments) == clf.classify_batch(comments)
    assert voc.Classifier.load(str(model_copy), max_input_bytes=64).max_input_bytes == 64


# ------------------------------------------------------------------ errors


def test_missing_model_folder(voc, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError) as e:
        voc.Classifier.load(missing)
    # voc's own message, with the path.
    assert str(missing) in str(e.value)
    assert "model folder not found" in str(e.value)
    with pytest.raises(OSError):
        voc.get_classifier(missing)


def test_missing_model_file(voc, model_copy):
    (model_copy / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        voc.Classifier.load(model_copy)


def test_corrupted_weights(voc, model_copy):
    path = model_copy / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(voc.ModelError) as e:
        voc.Classifier.load(model_copy)
    msg = str(e.value)
    assert "model file model.safetensors" in msg
    assert "checksum mismatch" in msg
    # The hierarchy: ModelError < VocError < ValueError.
    assert isinstance(e.value, voc.VocError) and isinstance(e.value, ValueError)


def test_corrupted_config(voc, model_copy):
    (model_copy / "config.json").write_text("{not json")
    with pytest.raises(voc.ModelError, match="config.json"):
        voc.Classifier.load(model_copy)


def test_bad_option(voc):
    with pytest.raises(voc.VocError, match="max_input_bytes"):
        voc.Classifier(max_input_bytes=0)
    with pytest.raises(OverflowError):
        voc.Classifier(max_input_bytes=-1)


def test_type_errors(clf):
    for bad in [3, None, b"bytes", ["a list"]]:
        with pytest.raises(TypeError, match="text must be str"):
            clf.classify(bad)
    with pytest.raises(TypeError, match="not a single str"):
        clf.classify_batch("one string")
    with pytest.raises(TypeError, match="iterable of str, not int"):
        clf.classify_batch(5)
    with pytest.raises(TypeError, match=r"texts\[1\] must be str, not NoneType .*fillna"):
        clf.classify_batch(["fine", None])
    with pytest.raises(TypeError, match=r"texts\[2\] must be str, not float"):
        clf.classify_batch_columns(["a", "b", float("nan")])
    with pytest.raises(TypeError, match=r"texts\[0\] must be str, not bytes"):
        clf.classify_batch([b"bytes"])


def test_lone_surrogate_is_an_error_not_a_crash(clf):
    with pytest.raises(UnicodeEncodeError):
        clf.classify("bad \ud800 text")


def test_not_picklable(clf):
    # On purpose: a cluster loads one model per worker process (get_classifier)
    # instead of shipping a model with every task.
    with pytest.raises(TypeError):
        pickle.dumps(clf)


# ------------------------------------------------------- threads, processes


def test_thread_safety(clf, comments):
    expected = [clf.classify(c) for c in comments]
    expected_batch = clf.classify_batch(comments)

    def work(i):
        out = []
        for _ in range(3):
            out.append([clf.classify(c) for c in comments] == expected)
            out.append(clf.classify_batch(comments) == expected_batch)
            out.append(clf.classify_batch_columns(comments)["sentiment"] == [p["sentiment"]["label"] for p in expected])
        return all(out)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, range(8))) == [True] * 8


def test_batch_releases_the_gil(clf, comments):
    texts = comments[:-1] * 300
    done = threading.Event()

    def batch():
        clf.classify_batch(texts)
        done.set()

    t = threading.Thread(target=batch)
    spins = 0
    t.start()
    while not done.is_set():
        spins += 1
    t.join()
    # Holding the GIL for the whole batch would leave this thread a handful of
    # turns; released, it spins freely.
    assert spins > 10_000


def test_get_classifier_is_per_process(voc, model_copy):
    a = voc.get_classifier()
    assert voc.get_classifier() is a
    b = voc.get_classifier(model_copy)
    assert voc.get_classifier(str(model_copy)) is b
    assert b is not a and str(b.path) == str(model_copy)
    here = os.getcwd()
    try:
        os.chdir(model_copy.parent)
        assert voc.get_classifier("model") is b
    finally:
        os.chdir(here)


def test_threads(voc, clf, comments):
    expected = clf.classify_batch(comments)
    try:
        voc.set_threads(1)
        assert voc.get_threads() == 1
        assert clf.classify_batch(comments) == expected
        voc.set_threads(3)
        assert voc.get_threads() == 3
        assert clf.classify_batch(comments) == expected
    finally:
        voc.set_threads(0)
    assert voc.get_threads() >= 1


def _batch_in_child(texts):
    import voc

    return voc.get_classifier().classify_batch(texts), os.getpid()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_works_after_fork(voc, comments):
    # The parent's pool threads do not exist in a forked child: the child
    # must build its own pool instead of waiting on them forever.
    parent = voc.get_classifier()
    expected = parent.classify_batch(comments)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        results = [pool.apply_async(_batch_in_child, (comments,)) for _ in range(4)]
        outs = [r.get(timeout=120) for r in results]
    for batch, pid in outs:
        assert pid != os.getpid()
        assert batch == expected
