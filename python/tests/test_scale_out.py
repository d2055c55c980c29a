"""Scale-out: score a DataFrame with PySpark (local mode, mapInPandas) and with
Dask (map_partitions), one model per worker process, loaded once."""

import importlib.util
import os

import pytest

pd = pytest.importorskip("pandas", reason="pandas is not installed (python/run-tests.sh installs it)")

N_ROWS = 2_000


def frame(comments):
    texts = [c for c in comments if len(c) < 1000]
    rows = [(i * 7 + 3, texts[i % len(texts)] + f" (#{i})") for i in range(N_ROWS)]
    return pd.DataFrame(rows, columns=["id", "text"])


def check_scored(out, pdf, clf):
    """Same rows in the same order, with the values classify_batch_columns gives."""
    assert len(out) == len(pdf)
    assert list(out["id"]) == list(pdf["id"])
    expected = pd.DataFrame(clf.classify_batch_columns(list(pdf["text"])))
    for col in expected.columns:
        assert list(out[col]) == list(expected[col]), col


def check_one_model_per_process(out):
    per_pid = out.groupby("worker_pid")["model_id"].nunique()
    assert (per_pid == 1).all(), per_pid


# ------------------------------------------------------------------ Spark

spark_reason = None
if importlib.util.find_spec("pyspark") is None:
    spark_reason = "pyspark is not installed (python/run-tests.sh installs it)"
elif importlib.util.find_spec("pyarrow") is None:
    spark_reason = "pyarrow is not installed (mapInPandas needs it; python/run-tests.sh installs it)"


@pytest.fixture(scope="module")
def spark():
    if spark_reason:
        pytest.skip(spark_reason)
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", __import__("sys").executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("voc-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "300")
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )
    import spark_score

    # As on a cluster: ship the worker code to the executors (the voc wheel is
    # installed in their Python).
    session.sparkContext.addPyFile(spark_score.__file__)
    yield session
    session.stop()


@pytest.mark.skipif(spark_reason is not None, reason=spark_reason or "")
def test_spark_map_in_pandas(spark, clf, comments):
    import spark_score

    pdf = frame(comments)
    df = spark.createDataFrame(pdf).repartition(6).sortWithinPartitions("id").cache()
    # Output rows follow input rows within each partition: compare in the
    # DataFrame's own order.
    scored = spark_score.score(df, text_column="text", keep=["id", "text"], worker_info=True)
    out = scored.toPandas()
    source = df.toPandas()
    assert out.columns[:3].tolist() == ["id", "text", "sentiment"]
    assert list(out["text"]) == list(source["text"])
    check_scored(out, source, clf)
    check_one_model_per_process(out)
    # Python workers are reused across tasks: some process scored several
    # partitions, with the one model it loaded.
    assert out["partition_id"].nunique() == 6
    assert out.groupby("worker_pid")["partition_id"].nunique().max() > 1
    assert len(out) == N_ROWS and out["id"].is_unique


@pytest.mark.skipif(spark_reason is not None, reason=spark_reason or "")
def test_spark_schema_and_nulls(spark, clf):
    import spark_score

    pdf = pd.DataFrame({"id": [1, 2, 3], "text": ["It broke after a week.", None, "Great service!"]})
    out = spark_score.score(spark.createDataFrame(pdf), keep=["id"]).toPandas()
    assert out["id"].tolist() == [1, 2, 3]
    # A null text is scored as empty text.
    assert out["sentiment"].tolist()[1] == clf.classify("")["sentiment"]["label"]
    assert out["sentiment"].tolist()[0] == "negative"
    assert {f"p_{t}" for t in clf.labels["tags"]} <= set(out.columns)


# ------------------------------------------------------------------- Dask

dask_reason = None
if importlib.util.find_spec("dask") is None:
    dask_reason = "dask is not installed (python/run-tests.sh installs dask[dataframe])"
else:
    try:
        import dask.dataframe  # noqa: F401
    except ImportError as e:  # dask without its dataframe extra
        dask_reason = f"dask.dataframe cannot be imported ({e}); install dask[dataframe]"


@pytest.mark.skipif(dask_reason is not None, reason=dask_reason or "")
@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_dask_map_partitions(clf, comments, scheduler):
    import dask
    import dask.dataframe as dd

    import dask_score

    pdf = frame(comments)
    ddf = dd.from_pandas(pdf, npartitions=8)
    scored = dask_score.score(ddf, text_column="text", keep=["id"], worker_info=True)
    with dask.config.set(scheduler=scheduler, num_workers=2):
        out = scored.compute()
    assert list(out.index) == list(pdf.index)
    check_scored(out, pdf, clf)
    check_one_model_per_process(out)
    if scheduler == "threads":
        assert out["worker_pid"].unique().tolist() == [os.getpid()]
    else:
        assert os.getpid() not in set(out["worker_pid"])
        assert out["worker_pid"].nunique() <= 2
