#!/usr/bin/env bash
# Builds fluxhelper (Flux's own OCI library behind a tiny CLI, for test/interop) into the
# test environment's cache and prints the binary's path. It rebuilds only when the helper's
# sources, go.mod/go.sum or the Go version change, so the environment setup can call it once
# (that is when the Go modules are downloaded) and every test run calls it again for free.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${FLOTILLA_ENV_CACHE:-$HOME/.cache/flotilla-env}/bin"
out="$bin/fluxhelper"
stamp="$bin/.fluxhelper.stamp"
mkdir -p "$bin"

fingerprint="$(cd "$here" && cat go.mod go.sum ./*.go | sha256sum | cut -d' ' -f1) $(go env GOVERSION)"

# Test files run in parallel processes: one builds, the others wait for it.
exec 9>"$bin/.fluxhelper.lock"
flock 9
if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" ]]; then
  echo "$out"
  exit 0
fi
echo "fluxhelper: building with $(go env GOVERSION)" >&2
(cd "$here" && CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath -o "$out.tmp" .)
mv -f "$out.tmp" "$out"
echo "$fingerprint" >"$stamp"
echo "$out"
