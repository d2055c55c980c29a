"""Score the text column of a Dask DataFrame with voc.

    python examples/dask_score.py                          # threads, the repo's examples/feedback.csv
    python examples/dask_score.py --input 'comments-*.csv' --text-column comment --scheduler processes

`map_partitions` calls `score_partition` on each pandas partition; it gets
this process's classifier from `voc.get_classifier()` (loaded on the first
call in the process, the same object afterwards), so a Dask worker process
loads the model once however many partitions it scores. With the default
threaded scheduler every partition shares the one model; `classify_batch_columns`
releases the GIL and runs on every core. On a dask.distributed cluster the
same code runs once the voc wheel is installed on the workers (see
python/README.md).
"""

import argparse
import os
import sys
import time

import pandas as pd

import voc


def score_partition(pdf, text_column="text", keep=("id",), model=None, worker_info=False):
    """One pandas partition in, the same rows out (same index and order,
    `keep` columns first), plus voc's columns."""
    clf = voc.get_classifier(model)  # once per worker process
    texts = pdf[text_column].fillna("").astype(str).tolist()
    out = pd.DataFrame(clf.classify_batch_columns(texts), index=pdf.index)
    for name in reversed(keep):
        out.insert(0, name, pdf[name])
    if worker_info:
        out["worker_pid"] = os.getpid()
        out["model_id"] = id(clf)
    return out


def meta_for(ddf, labels, keep=("id",), worker_info=False):
    """An empty pandas DataFrame with the columns and dtypes of the output."""
    cols = {name: ddf._meta[name] for name in keep}
    cols["sentiment"] = pd.Series([], dtype=object)
    cols["sentiment_score"] = pd.Series([], dtype="float64")
    for c in labels["sentiment"]:
        cols[f"p_{c}"] = pd.Series([], dtype="float64")
    cols["tags"] = pd.Series([], dtype=object)
    for t in labels["tags"]:
        cols[f"p_{t}"] = pd.Series([], dtype="float64")
    cols["truncated"] = pd.Series([], dtype="bool")
    if worker_info:
        cols["worker_pid"] = pd.Series([], dtype="int64")
        cols["model_id"] = pd.Series([], dtype="int64")
    return pd.DataFrame(cols, index=ddf._meta.index)


def score(ddf, text_column="text", keep=("id",), model=None, worker_info=False):
    """`ddf` with voc's columns (lazy: compute or write it)."""
    labels = voc.get_classifier(model).labels
    return ddf.map_partitions(
        score_partition,
        text_column=text_column,
        keep=tuple(keep),
        model=model,
        worker_info=worker_info,
        meta=meta_for(ddf, labels, keep, worker_info),
    )


def main(argv=None):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", default=os.path.join(repo, "examples", "feedback.csv"), help="CSV file(s), glob allowed")
    ap.add_argument("--text-column", default="comment")
    ap.add_argument("--id-column", default="id")
    ap.add_argument("--model", default=None, help="model folder (default: the embedded model)")
    ap.add_argument("--scheduler", default="threads", help="threads, processes, or a distributed scheduler address")
    ap.add_argument("--blocksize", default="16MB")
    ap.add_argument("--output", default=None, help="write Parquet here (default: print 10 rows)")
    args = ap.parse_args(argv)

    import dask
    import dask.dataframe as dd

    if ":" in args.scheduler:
        from dask.distributed import Client

        Client(args.scheduler)  # becomes the default scheduler
        scheduler = None
    else:
        scheduler = args.scheduler
    ddf = dd.read_csv(args.input, blocksize=args.blocksize, dtype={args.text_column: object, args.id_column: object})
    scored = score(ddf, text_column=args.text_column, keep=[args.id_column], model=args.model)
    start = time.perf_counter()
    with dask.config.set(scheduler=scheduler) if scheduler else dask.config.set({}):
        if args.output:
            scored.to_parquet(args.output)
            print(f"scored into {args.output} in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        else:
            print(scored[[args.id_column, "sentiment", "sentiment_score", "tags"]].head(10).to_string())


if __name__ == "__main__":
    main()
