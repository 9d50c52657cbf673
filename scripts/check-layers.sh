#!/usr/bin/env bash
# check-layers.sh — the layering rules of the architecture, checked on the Rust sources:
#
#   1. SQL runs only in src/store/: no sqlx::query*/raw_sql, QueryBuilder, COPY, executing on a
#      connection or raw SQL text anywhere else (outside the allowed places below).
#   2. Only src/api/ (and what assembles the app) uses the HTTP layer: nothing else names
#      `crate::api` or `flowly::api`, also not inside a grouped `use crate::{...}`.
#
# Prints each violation as `file:line: rule: code` and exits 1 if there is any.
#   scripts/check-layers.sh            check (exit 1 on violations)
#   scripts/check-layers.sh --report   print the violations, exit 0 (to see the way to a clean tree)
#
# Practical, not a parser: it greps the text of every tracked or new *.rs file (comment lines
# skipped), so a rule can be dodged on purpose; it is there to catch the accidental ones.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

report_only=0
case "${1:-}" in
  "") ;;
  --report) report_only=1 ;;
  *) echo "usage: $0 [--report]" >&2; exit 2 ;;
esac

# ---------------------------------------------------------------- where each rule does not apply
# Paths are shell patterns (`*` also matches `/`). Keep them narrow; say why for each.
SQL_ALLOWED=(
  'src/store/*'                    # the layer that owns SQL
  'tests/*'                        # API tests read the database to check what was written
  'crates/flowly-traffic/tests/*'  # the traffic test checks the dataset the server seeded
  'crates/flowlyctl/*'             # the admin CLI runs psql in the postgres container, as an operator would (backup facts, restore)
  'crates/logpilot/*'              # no sqlx at all: its `query` and `fetch` are LogQL and the broker's own
)
API_ALLOWED=(
  'src/api/*'                # the HTTP layer itself
  'src/server.rs'            # assembles router, state and listeners into the server
  'src/bin/*'                # the binaries wire the command line to the app
  'tests/*'                  # the API tests drive the HTTP layer
  'crates/flowly-testkit/*'  # the test kit starts nodes
)

# ---------------------------------------------------------------- what counts as a violation
# SQL: sqlx's query functions and macros (qualified, or imported and called bare), the query
# builder, COPY, running anything on a connection (`.execute(`/`.fetch*(` take raw text too).
SQL_CODE='sqlx::(query[a-z_]*|raw_sql)\b|(^|[^[:alnum:]_.:])(query|query_as|query_scalar|raw_sql)!?(::<[^>]*>)?\(|\bQueryBuilder\b|\.copy_(in|out)_raw\(|\.(execute|fetch|fetch_one|fetch_all|fetch_optional|fetch_many)\('
# SQL text at the start of a string literal (case-insensitive): `select <column or *>[,| from]`,
# `insert into`, `update <table> set`, `delete from`, DDL; not English ("select a room from...").
SQL_TEXT='"[[:space:]]*(select[[:space:]]+(\*|[a-z_0-9]+(\.[a-z_*]+)?(\([^)]*\))?)[[:space:]]*(,|[[:space:]]from[[:space:]])|insert[[:space:]]+into[[:space:]]|update[[:space:]]+[a-z_]+[[:space:]]+set[[:space:]]|delete[[:space:]]+from[[:space:]]|(create|drop|alter|truncate)[[:space:]]+(table|index|unique|database|extension|schema)[[:space:]])'
API_PATH='\b(crate|flowly)::api\b|\bsuper::(super::)*api\b'

allowed() { # <file> <pattern>...: whether the file matches one of the patterns
  local file="$1" pattern
  shift
  for pattern in "$@"; do
    # shellcheck disable=SC2254 # the pattern is meant to be a pattern
    case "$file" in $pattern) return 0 ;; esac
  done
  return 1
}

# Prints `file:line: rule: code` for the lines of `file` (comment lines skipped) that grep finds.
matches() { # <file> <rule> <grep options...>
  local file="$1" rule="$2"
  shift 2
  grep -nE "$@" -- "$file" | awk -v file="$file" -v rule="$rule" '{
      line = $0; sub(/:.*/, "", line); code = $0; sub(/^[0-9]+:[[:space:]]*/, "", code)
      if (code !~ /^\/\//) printf "%s:%s: %s: %s\n", file, line, rule, code
    }' || true
}

# `api` as an item of a grouped `use crate::{...}` / `use flowly::{...}` (one or more lines).
grouped_api_imports() { # <file>
  awk -v file="$1" '
    /^[[:space:]]*\/\// { next }
    /^[[:space:]]*(pub[^ ]* )?use (crate|flowly)::\{/ { inside = 1 }
    inside && /(^|[^[:alnum:]_:])api(::|[^[:alnum:]_]|$)/ {
      code = $0; sub(/^[[:space:]]*/, "", code)
      printf "%s:%s: HTTP layer outside src/api: %s\n", file, FNR, code
    }
    inside && /;/ { inside = 0 }
  ' "$1"
}

violations=""
while IFS= read -r file; do
  if ! allowed "$file" "${SQL_ALLOWED[@]}"; then
    violations+="$(matches "$file" "SQL outside src/store" "$SQL_CODE")"$'\n'
    violations+="$(matches "$file" "SQL outside src/store" -i "$SQL_TEXT")"$'\n'
  fi
  if ! allowed "$file" "${API_ALLOWED[@]}"; then
    violations+="$(matches "$file" "HTTP layer outside src/api" "$API_PATH")"$'\n'
    violations+="$(grouped_api_imports "$file")"$'\n'
  fi
done < <(git ls-files --cached --others --exclude-standard -- '*.rs')

violations="$(sort -t: -k1,1 -k2,2n -u <<<"$violations" | sed '/^$/d')"
if [ -z "$violations" ]; then
  echo "layers: clean (SQL only in src/store, the HTTP layer only where the app is assembled)" >&2
  exit 0
fi
printf '%s\n' "$violations"
echo "layers: $(wc -l <<<"$violations") violation(s); see the rules at the top of $0" >&2
[ "$report_only" -eq 1 ] || exit 1
