# The default model's training recipe (the `voc train` arguments), in one
# place. Sourced, from the repository root, by build-default-model.sh (which
# ships the result) and by recipe-seeds.sh (which measures variants of it).
#
# For experiments only, these override one part of the recipe;
# build-default-model.sh refuses to run while any is set:
#   RECIPE_TEACHER     the teacher's file (default $T/teacher-labeled.jsonl)
#   RECIPE_EMBEDDINGS  the starting table (default $T/base/embeddings-256.safetensors)
#   RECIPE_EPOCHS      epochs (default 15)
#   RECIPE_LR          learning rate (default 0.001)
T=models/default/training
RECIPE=(
  --data "$T/labeled.jsonl" --data "$T/extra-labeled.jsonl" --data "$T/pool-read.jsonl"
  --data "$T/synthetic.jsonl" --data "${RECIPE_TEACHER:-$T/teacher-labeled.jsonl}"
  --tokenizer "$T/base/tokenizer.json" --embeddings "${RECIPE_EMBEDDINGS:-$T/base/embeddings-256.safetensors}"
  --epochs "${RECIPE_EPOCHS:-15}" --learning-rate "${RECIPE_LR:-0.001}"
  --train-embeddings --average-last 10 --scopes negation --scope-rank 0 --soft-tag-weight 0.5
)
if [ -f ../shared/gold/eval-hashes.txt ]; then RECIPE+=(--exclude-hashes ../shared/gold/eval-hashes.txt); fi
