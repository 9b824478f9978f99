#!/usr/bin/env bash
# Regenerates the OpenAPI definitions of every k8s.io/api group skiff serves.
# The output is committed; `make verify` runs this and diffs it.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
  k8s.io/api/core/v1
  k8s.io/api/apps/v1
  k8s.io/api/batch/v1
  k8s.io/api/autoscaling/v1
  k8s.io/api/autoscaling/v2
  k8s.io/api/coordination/v1
  k8s.io/api/discovery/v1
  k8s.io/api/events/v1
  k8s.io/api/policy/v1
  k8s.io/api/networking/v1
  k8s.io/api/rbac/v1
  k8s.io/api/authentication/v1
  k8s.io/api/authorization/v1
  k8s.io/api/admissionregistration/v1
  k8s.io/api/scheduling/v1
  k8s.io/api/scheduling/v1alpha3
  k8s.io/api/storage/v1
  k8s.io/api/node/v1
  k8s.io/api/certificates/v1
  k8s.io/apimachinery/pkg/apis/meta/v1
  k8s.io/apimachinery/pkg/runtime
  k8s.io/apimachinery/pkg/version
  k8s.io/apimachinery/pkg/api/resource
  k8s.io/apimachinery/pkg/util/intstr
)

go tool openapi-gen \
  --go-header-file hack/boilerplate.go.txt \
  --output-dir apiserver/openapi \
  --output-pkg github.com/skiffhq/skiff/apiserver/openapi \
  --output-file zz_generated.openapi.go \
  --report-filename apiserver/openapi/violations.report \
  "${pkgs[@]}"
