#!/usr/bin/env bash
# Stage spaces/ together with the toolkit package it imports, and upload it to a Hub Space.
# The step of .github/workflows/sync-space.yml; `--stage-only` builds the folder without uploading
# (what the tests run).
#
# Inputs (environment):
#   SPACE_ID   the Space, org/name (required unless --stage-only)
#   STAGE_DIR  where the Space folder is built (default: build/space)
#   HF_TOKEN   write token for the upload (read by the hf CLI; never printed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

log() { printf '[sync-space] %s\n' "$*" >&2; }
STAGE_DIR="${STAGE_DIR:-build/space}"

rm -rf "$STAGE_DIR"
mkdir -p "$STAGE_DIR"
cp -R spaces/. "$STAGE_DIR/"
# app.py imports toolkit from next to itself: the Space runs exactly this commit's code.
cp -R toolkit "$STAGE_DIR/toolkit"
find "$STAGE_DIR" \( -name __pycache__ -o -name '*.pyc' \) -prune -exec rm -rf {} +
for required in app.py README.md requirements.txt toolkit/chat/app.py; do
  [[ -f "$STAGE_DIR/$required" ]] || { log "error: staged Space lacks $required"; exit 1; }
done
log "staged $(find "$STAGE_DIR" -type f | wc -l) files in $STAGE_DIR"

if [[ "${1:-}" == "--stage-only" ]]; then
  exit 0
fi
: "${SPACE_ID:?set SPACE_ID (org/name of the Space; the repository variable HF_SPACE_ID)}"
[[ -n "${HF_TOKEN:-}" ]] || { log "error: HF_TOKEN is not set (add it as a repository secret)"; exit 1; }
hf repos create "$SPACE_ID" --type space --sdk gradio --exist-ok >/dev/null
# --delete removes files that are gone from spaces/ or toolkit/ since the last sync.
hf upload "$SPACE_ID" "$STAGE_DIR" . --repo-type space \
  --delete '*.py' --delete 'toolkit/**' \
  --commit-message "Sync from ${GITHUB_REPOSITORY:-local}@${GITHUB_SHA:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
log "uploaded $STAGE_DIR to https://huggingface.co/spaces/$SPACE_ID"
