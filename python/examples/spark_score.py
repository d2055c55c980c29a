"""Score the text column of a Spark DataFrame with voc.

    python examples/spark_score.py                       # local[2], the repo's examples/feedback.csv
    python examples/spark_score.py --input comments.csv --text-column comment --id-column id \
        --master local[*] --output scored.parquet

How it scales: `DataFrame.mapInPandas` hands each executor's Python worker
its partitions as pandas DataFrames of up to
`spark.sql.execution.arrow.maxRecordsPerBatch` rows (10,000 by default); the
worker function gets this process's classifier from `voc.get_classifier()`,
which loads the model on the first call in the process and returns the same
object afterwards (the model is never pickled or shipped with a task), then
scores each batch with `classify_batch_columns`, on every core the worker may
use, the GIL released. On a cluster the same code runs unchanged once the voc
wheel is installed in the executors' Python (see python/README.md).
"""

import argparse
import functools
import os
import sys
import time

import pandas as pd

import voc

# Diagnostic columns added by `worker_info=True`.
WORKER_COLUMNS = [("worker_pid", "long"), ("model_id", "long"), ("partition_id", "int")]


def score_frames(frames, text_column="text", keep=("id",), model=None, worker_info=False):
    """mapInPandas worker: an iterator of pandas DataFrames in, the same rows
    out (same order, `keep` columns first), plus voc's columns."""
    clf = voc.get_classifier(model)  # once per worker process, not per task
    for pdf in frames:
        texts = pdf[text_column].fillna("").astype(str).tolist()
        out = pd.DataFrame(clf.classify_batch_columns(texts), index=pdf.index)
        for name in reversed(keep):
            out.insert(0, name, pdf[name])
        if worker_info:
            from pyspark import TaskContext

            out["worker_pid"] = os.getpid()
            out["model_id"] = id(clf)
            out["partition_id"] = TaskContext.get().partitionId()
        yield out


def output_schema(df, labels, keep=("id",), worker_info=False):
    """The Spark schema (DDL) of what `score_frames` yields."""
    fields = [f"`{df.schema[name].name}` {df.schema[name].dataType.simpleString()}" for name in keep]
    fields += ["sentiment string", "sentiment_score double"]
    fields += [f"`p_{c}` double" for c in labels["sentiment"]]
    fields += ["tags string"]
    fields += [f"`p_{t}` double" for t in labels["tags"]]
    fields += ["truncated boolean"]
    if worker_info:
        fields += [f"{n} {t}" for n, t in WORKER_COLUMNS]
    return ", ".join(fields)


def score(df, text_column="text", keep=("id",), model=None, worker_info=False):
    """`df` with voc's columns: `keep` columns, then sentiment,
    sentiment_score, p_<class>..., tags, p_<tag>..., truncated."""
    labels = voc.get_classifier(model).labels  # the driver reads the label set once
    fn = functools.partial(
        score_frames, text_column=text_column, keep=tuple(keep), model=model, worker_info=worker_info
    )
    return df.mapInPandas(fn, output_schema(df, labels, keep, worker_info))


def main(argv=None):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", default=os.path.join(repo, "examples", "feedback.csv"), help="CSV with a header")
    ap.add_argument("--text-column", default="comment")
    ap.add_argument("--id-column", default="id")
    ap.add_argument("--model", default=None, help="model folder (default: the embedded model)")
    ap.add_argument("--master", default="local[2]", help="Spark master (on a cluster: what spark-submit sets)")
    ap.add_argument("--output", default=None, help="write Parquet here (default: show 10 rows)")
    args = ap.parse_args(argv)

    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master(args.master).appName("voc-score").getOrCreate()
    try:
        df = spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(args.input)
        start = time.perf_counter()
        scored = score(df, text_column=args.text_column, keep=[args.id_column], model=args.model)
        if args.output:
            scored.write.mode("overwrite").parquet(args.output)
            rows = spark.read.parquet(args.output).count()
            print(f"{rows} rows scored into {args.output} in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        else:
            scored.select(args.id_column, "sentiment", "sentiment_score", "tags").show(10, truncate=False)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
