#!/usr/bin/env bash
# Installs versitygw, the real S3 server the s3 package's tests talk to (an
# S3 gateway written in Go, github.com/versity/versitygw, run with its posix
# backend), and prints its path. The binary is cached by version under
# ${XDG_CACHE_HOME:-~/.cache}/chatr/versitygw, so only the first run pays for
# the build: measured at 81 minutes on 2 cores shared with seven other
# builds and test runs (load average about 40); far less on an idle machine.
# (SeaweedFS's weed, tried before, did not build here in reasonable time.)
#
# Usage: export CHATR_TEST_VERSITYGW="$(.ci/versitygw.sh)"
set -euo pipefail

GO=${GO:-go}
VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/chatr/versitygw/$VERSITYGW_VERSION
bin=$cache/versitygw

if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  GOBIN="$cache" "$GO" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
fi
echo "$bin"
