#!/usr/bin/env bash
# Prints the llmbench-tls Secret (deploy/k8s/secret.yaml) with real material for NAMESPACE:
# a fresh CA, a worker certificate signed by it whose subjectAltName holds the headless
# Service's names, and a random shared token. Made with the openssl command line in a private
# temporary folder that is removed afterwards; keep the output as secret as the token.
#   deploy/k8s/make-secret.sh NAMESPACE > secret.yaml && kubectl apply -n NAMESPACE -f secret.yaml
# Options (environment): SERVICE (default llmbench-workers), DAYS (default 365),
# CLUSTER_DOMAIN (default cluster.local).
set -euo pipefail
namespace="${1:?usage: deploy/k8s/make-secret.sh NAMESPACE}"
service="${SERVICE:-llmbench-workers}"
days="${DAYS:-365}"
domain="${CLUSTER_DOMAIN:-cluster.local}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
chmod 700 "$dir"
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.crt -days "$days" -subj "/CN=llmbench-ca-$namespace" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout tls.key -out tls.csr -subj "/CN=$service" 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:%s.%s,DNS:%s.%s.svc,DNS:%s.%s.svc.%s\nextendedKeyUsage=serverAuth\n' \
  "$service" "$service" "$namespace" "$service" "$namespace" "$service" "$namespace" "$domain" \
  > tls.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
  -days "$days" -out tls.crt -extfile tls.ext 2>/dev/null
openssl rand -hex 32 > token
indent() { sed 's/^/    /'; }
cat <<YAML
# llmbench-tls for namespace $namespace, made by deploy/k8s/make-secret.sh. SECRET: do not commit.
apiVersion: v1
kind: Secret
metadata:
  name: llmbench-tls
  labels:
    app.kubernetes.io/part-of: llmbench
type: Opaque
stringData:
  ca.crt: |
$(indent < ca.crt)
  tls.crt: |
$(indent < tls.crt)
  tls.key: |
$(indent < tls.key)
  token: |
$(indent < token)
YAML
