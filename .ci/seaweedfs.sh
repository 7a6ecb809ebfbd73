#!/usr/bin/env bash
# Builds SeaweedFS's `weed` binary, the real S3 server the s3 package's tests
# talk to, and prints its path. The binary is cached by version under
# ${XDG_CACHE_HOME:-~/.cache}/chatr/weed, so only the first run pays for the
# build (about 8 minutes on 2 cores).
#
# `go install` refuses this module because its go.mod has replace directives,
# so the module is downloaded and built in a writable copy.
#
# Usage: export CHATR_TEST_WEED="$(.ci/seaweedfs.sh)"
set -euo pipefail

GO=${GO:-go}
WEED_VERSION=${WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/chatr/weed/$WEED_VERSION
bin=$cache/weed

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
dir=$("$GO" mod download -json "github.com/seaweedfs/seaweedfs@$WEED_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "seaweedfs: module github.com/seaweedfs/seaweedfs@$WEED_VERSION did not download" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/src"
chmod -R u+w "$work/src"
echo "seaweedfs: building weed $WEED_VERSION (several minutes)" >&2
(cd "$work/src" && CGO_ENABLED=0 "$GO" build -trimpath -o "$work/weed" ./weed)
# Rename into place so a build interrupted half way never leaves a broken binary cached.
mv "$work/weed" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$bin"
