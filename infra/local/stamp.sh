#!/usr/bin/env bash
# Runs a `make build` step only when its inputs changed since it last succeeded.
#   stamp.sh deps CMD...      CMD = pnpm install; inputs: pnpm-lock.yaml, pnpm-workspace.yaml,
#                             .npmrc, every workspace package.json, the pnpm version
#   stamp.sh generate CMD...  CMD = the proto codegen; inputs: every file under proto/,
#                             packages/contracts/buf.gen.yaml, the ts-proto and @bufbuild/buf versions
# The stamp holds the sha256 of the inputs. It is removed before CMD runs and written only after
# CMD succeeded, so a failed or interrupted step runs again. Delete the stamp to force a step.
set -euo pipefail
shopt -s inherit_errexit nullglob
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# sha256sum FILE... lines; a missing optional file counts as "absent" (creating it is a change).
hash_files() {
  local f
  for f in "$@"; do
    if [[ -f $f ]]; then sha256sum -- "$f"; else printf 'absent  %s\n' "$f"; fi
  done
}

# The package.json of each directory matched by the `packages:` globs of pnpm-workspace.yaml.
workspace_package_jsons() {
  local glob dir
  while read -r glob; do
    for dir in $glob; do # unquoted: expand the glob
      if [[ -f $dir/package.json ]]; then printf '%s\n' "$dir/package.json"; fi
    done
  done < <(awk '/^packages:/ { on = 1; next }
    on && /^[^ \t#]/ { on = 0 }
    on && /^[ \t]*- / { sub(/^[ \t]*- */, ""); gsub(/["\047]/, ""); print }' pnpm-workspace.yaml)
}

inputs_deps() {
  local files
  mapfile -t files < <(workspace_package_jsons)
  ((${#files[@]} > 0)) || die "no workspace package.json found from pnpm-workspace.yaml"
  hash_files pnpm-lock.yaml pnpm-workspace.yaml .npmrc package.json "${files[@]}"
  printf 'pnpm %s\n' "$(pnpm --version)"
}

inputs_generate() {
  local files pkg=packages/contracts/package.json name version
  mapfile -d '' files < <(find proto -type f -print0 | LC_ALL=C sort -z)
  ((${#files[@]} > 0)) || die "no files under proto/"
  hash_files "${files[@]}" packages/contracts/buf.gen.yaml
  for name in ts-proto @bufbuild/buf; do
    version=$(sed -n "s|^ *\"$name\": *\"\\([^\"]*\\)\".*|\\1|p" "$pkg")
    [[ -n $version ]] || die "$pkg declares no $name version"
    printf '%s %s\n' "$name" "$version"
  done
}

(($# >= 2)) || die "usage: stamp.sh deps|generate CMD..."
step=$1
shift
case $step in
  deps)
    stamp=node_modules/.bulkhead-deps.sha256 output=node_modules
    fresh="dependencies up to date"
    running="installing npm dependencies (pnpm, frozen lockfile)"
    ;;
  generate)
    stamp=packages/contracts/src/gen/.stamp output=packages/contracts/src/gen
    fresh="generated code up to date"
    running="generating TypeScript from proto/ (buf + ts-proto)"
    ;;
  *) die "stamp.sh: unknown step '$step' (deps or generate)" ;;
esac

hash=$("inputs_$step" | sha256sum)
hash=${hash%% *}
if [[ -d $output && -f $stamp && $(<"$stamp") == "$hash" ]]; then
  log "$fresh"
  exit 0
fi
rm -f "$stamp"
log "$running"
"$@"
[[ -d $output ]] || die "$step: '$*' succeeded but did not create $output/"
printf '%s\n' "$hash" >"$stamp.tmp"
mv -f "$stamp.tmp" "$stamp"
