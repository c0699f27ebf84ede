#!/usr/bin/env bash
# Evaluate a checkpoint, write its model card and publish it: the steps of
# .github/workflows/evaluate-and-publish.yml, runnable the same way on a laptop or in a test.
#
# Inputs (environment):
#   MODEL           model directory or Hub id to evaluate (required)
#   REPO_ID         destination repository org/name (required)
#   TASKS           comma-separated benchmarks                 (default: gsm8k,math500)
#   NUM_SAMPLES     samples per problem (pass@1 over n)        (default: 4)
#   LIMIT           first N problems per task                  (default: all)
#   MAX_NEW_TOKENS  generation limit, reasoning + answer       (default: 4096)
#   RUNNER          local: evaluate here (small models, CPU runner)
#                   hf-job: run this same script on Hugging Face Jobs hardware (GPU models)
#   FLAVOR          HF Jobs flavor for RUNNER=hf-job           (default: a10g-small)
#   VERSION         version tag to publish, e.g. 1.2.0 or v1.2.0 (default: none)
#   CREATE_PR       true: open a pull request instead of pushing to main (default: false)
#   OUT_DIR         where results.json, details.parquet and the card go (default: eval-output)
#   LICENSE         the model card's licence id, e.g. apache-2.0 (default: the base model's,
#                   when the toolkit knows it; required otherwise)
#   DATA_FILES      TASK=PATH[,TASK=PATH] local benchmark files (offline runs)
#   HF_TOKEN        with it, publish to the Hub (TOOLKIT_TARGET=hub); without it, to the local
#                   store ($TOOLKIT_STORE). Never printed.
#   TOOLKIT_PACKAGE pip requirement installed inside an HF Job
#                   (default: this commit of this GitHub repository)
set -euo pipefail

log() { printf '[evaluate-and-publish] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

: "${MODEL:?set MODEL to a model directory or Hub id}"
: "${REPO_ID:?set REPO_ID to the destination org/name}"
TASKS="${TASKS:-gsm8k,math500}"
NUM_SAMPLES="${NUM_SAMPLES:-4}"
LIMIT="${LIMIT:-}"
MAX_NEW_TOKENS="${MAX_NEW_TOKENS:-4096}"
RUNNER="${RUNNER:-local}"
FLAVOR="${FLAVOR:-a10g-small}"
VERSION="${VERSION:-}"
VERSION="${VERSION#v}"
CREATE_PR="${CREATE_PR:-false}"
OUT_DIR="${OUT_DIR:-eval-output}"
DATA_FILES="${DATA_FILES:-}"
LICENSE="${LICENSE:-}"
JOB_IMAGE="${JOB_IMAGE:-pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel}"
JOB_TIMEOUT="${JOB_TIMEOUT:-6h}"

[[ "$NUM_SAMPLES" =~ ^[1-9][0-9]*$ ]] || die "NUM_SAMPLES=$NUM_SAMPLES is not a positive integer"
[[ -z "$LIMIT" || "$LIMIT" =~ ^[1-9][0-9]*$ ]] || die "LIMIT=$LIMIT is not a positive integer"
[[ "$MAX_NEW_TOKENS" =~ ^[1-9][0-9]*$ ]] || die "MAX_NEW_TOKENS=$MAX_NEW_TOKENS is not a positive integer"
[[ "$REPO_ID" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$ ]] \
  || die "REPO_ID=$REPO_ID is not org/name"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

# ---------------------------------------------------------------------------------------------
# RUNNER=hf-job: launch this script on GPU hardware; the job evaluates and publishes, and the
# results come back from the published repository for the workflow's artifacts.
# ---------------------------------------------------------------------------------------------
if [[ "$RUNNER" == "hf-job" ]]; then
  [[ -n "${HF_TOKEN:-}" ]] || die "RUNNER=hf-job needs HF_TOKEN (a repository secret)"
  [[ ! -e "$MODEL" ]] || die "MODEL=$MODEL is a local path, which an HF Job cannot read; push it to the Hub first"
  if [[ -z "${TOOLKIT_PACKAGE:-}" ]]; then
    [[ -n "${GITHUB_REPOSITORY:-}" && -n "${GITHUB_SHA:-}" ]] \
      || die "set TOOLKIT_PACKAGE (pip requirement of the toolkit) for RUNNER=hf-job"
    TOOLKIT_PACKAGE="r1-distill-toolkit[train] @ git+${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY}@${GITHUB_SHA}"
  fi
  script_b64="$(base64 -w0 "${BASH_SOURCE[0]}")"
  log "launching an HF Job (flavor $FLAVOR) to evaluate $MODEL and publish $REPO_ID"
  # The job reads HF_TOKEN from this environment through --secrets (the value is never on the
  # command line).
  hf jobs run --flavor "$FLAVOR" --timeout "$JOB_TIMEOUT" \
    --name "toolkit-eval-${REPO_ID//\//-}" --label toolkit=evaluate-and-publish \
    --secrets HF_TOKEN \
    --env "MODEL=$MODEL" --env "REPO_ID=$REPO_ID" --env "TASKS=$TASKS" \
    --env "NUM_SAMPLES=$NUM_SAMPLES" --env "LIMIT=$LIMIT" --env "MAX_NEW_TOKENS=$MAX_NEW_TOKENS" \
    --env "VERSION=$VERSION" --env "CREATE_PR=$CREATE_PR" --env "DATA_FILES=$DATA_FILES" \
    --env "LICENSE=$LICENSE" \
    --env "RUNNER=local" --env "OUT_DIR=/tmp/eval-output" \
    --env "TOOLKIT_PACKAGE=$TOOLKIT_PACKAGE" --env "SCRIPT_B64=$script_b64" \
    "$JOB_IMAGE" bash -c \
    'pip install --quiet "$TOOLKIT_PACKAGE" && echo "$SCRIPT_B64" | base64 -d > /tmp/eap.sh && bash /tmp/eap.sh' \
    | tee "$OUT_DIR/hf-job.log"
  revision="main"
  [[ -n "$VERSION" && "$CREATE_PR" != "true" ]] && revision="v$VERSION"
  log "fetching the published card and results of $REPO_ID@$revision"
  hf download "$REPO_ID" README.md eval_results.json --revision "$revision" \
    --local-dir "$OUT_DIR/published" >/dev/null
  exit 0
fi
[[ "$RUNNER" == "local" || "$RUNNER" == "cpu" ]] || die "RUNNER=$RUNNER: use local (cpu) or hf-job"

# ---------------------------------------------------------------------------------------------
# 1. evaluate
# ---------------------------------------------------------------------------------------------
eval_args=(--tasks "$TASKS" -n "$NUM_SAMPLES" --max-new-tokens "$MAX_NEW_TOKENS" -o "$OUT_DIR")
[[ -n "$LIMIT" ]] && eval_args+=(--limit "$LIMIT")
if [[ -n "$DATA_FILES" ]]; then
  IFS=',' read -r -a data_files <<<"$DATA_FILES"
  for item in "${data_files[@]}"; do eval_args+=(--data-file "$item"); done
fi
log "1/3 toolkit eval $MODEL on $TASKS (n=$NUM_SAMPLES${LIMIT:+, limit $LIMIT})"
toolkit eval "$MODEL" "${eval_args[@]}"
[[ -s "$OUT_DIR/results.json" ]] || die "toolkit eval wrote no $OUT_DIR/results.json"

# A Hub id is downloaded so that the card and the publish step have the files.
if [[ -d "$MODEL" ]]; then
  MODEL_DIR="$MODEL"
else
  MODEL_DIR="$OUT_DIR/model"
  log "downloading $MODEL for the card and the publish step"
  hf download "$MODEL" --local-dir "$MODEL_DIR" >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# 2. model card (a copy for the artifacts; publish writes the same card into the repository)
# ---------------------------------------------------------------------------------------------
license_args=()
[[ -n "$LICENSE" ]] && license_args+=(--license "$LICENSE")
log "2/3 toolkit card"
toolkit card "$MODEL_DIR" --results "$OUT_DIR/results.json" --repo-id "$REPO_ID" \
  --output "$OUT_DIR/card" "${license_args[@]}"
[[ -s "$OUT_DIR/card/README.md" ]] || die "toolkit card wrote no README.md"

# ---------------------------------------------------------------------------------------------
# 3. publish: the Hub with a token, the local store without one
# ---------------------------------------------------------------------------------------------
publish_args=(--results "$OUT_DIR/results.json" "${license_args[@]}")
[[ -n "$VERSION" ]] && publish_args+=(--version "$VERSION")
[[ "$CREATE_PR" == "true" ]] && publish_args+=(--create-pr)
if [[ -n "${HF_TOKEN:-}" ]]; then
  export TOOLKIT_TARGET=hub
  target="the Hugging Face Hub"
else
  unset TOOLKIT_TARGET
  target="the local store (no HF_TOKEN)"
fi
log "3/3 toolkit publish $REPO_ID${VERSION:+ v$VERSION} to $target"
toolkit publish "$MODEL_DIR" "$REPO_ID" "${publish_args[@]}"

# ---------------------------------------------------------------------------------------------
# summary (also on the workflow run's page)
# ---------------------------------------------------------------------------------------------
toolkit compare "$OUT_DIR/results.json" --markdown >"$OUT_DIR/summary.md"
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  {
    echo "## $REPO_ID${VERSION:+ v$VERSION} — $MODEL"
    echo
    cat "$OUT_DIR/summary.md"
  } >>"$GITHUB_STEP_SUMMARY"
fi
log "done: results in $OUT_DIR, published $REPO_ID${VERSION:+ v$VERSION} to $target"
