#!/usr/bin/env bash
# Fails when generated code is stale or Go files are not gofmt-ed.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n "$unformatted" ]]; then
  echo "not gofmt-ed:"; echo "$unformatted"; exit 1
fi
hack/update-codegen.sh
if ! git diff --quiet -- apiserver/openapi; then
  echo "apiserver/openapi is stale: run make generate and commit the result"
  git --no-pager diff --stat -- apiserver/openapi
  exit 1
fi
