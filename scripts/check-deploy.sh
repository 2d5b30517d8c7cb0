#!/usr/bin/env bash
# Checks deploy/ without a container engine or a cluster (none runs on these machines); see
# docs/deploy.md, "What is checked".
#
# Usage: scripts/check-deploy.sh [--install-tools | --manifests-only | --image-steps | --all]
#   --install-tools   install the validators into $LLMBENCH_DEPLOY_TOOLS (default
#                     ~/.cache/llmbench-deploy-venv), idempotently: a Python venv with
#                     kubernetes-validate (bundles the Kubernetes JSON schemas), dockerfile-parse
#                     and PyYAML from PyPI, and deploy/tools/composecheck built with Go (the
#                     Compose Specification's reference loader, compose-go, from the Go module
#                     proxy; skipped when there is no Go toolchain).
#   --manifests-only  (the `deploy` ctest) validate deploy/k8s/*.yaml with kubernetes-validate
#                     --strict, a Secret made by deploy/k8s/make-secret.sh too, and
#                     `kubectl kustomize` output when kubectl is installed; load deploy/compose.yaml
#                     with composecheck; parse deploy/Dockerfile with dockerfile-parse; then
#                     deploy/tools/check_manifests.py's cross-file checks. Broken copies of a
#                     manifest and of the compose file must be rejected (the validators can fail).
#                     Exits 77 (ctest: skipped) when the validators are not installed.
#   --image-steps     run the Dockerfile's build stage on this host (scripts/install-deps.sh
#                     --build-only, deploy/build-stage.sh into a scratch prefix; build folder
#                     $BUILD_DIR, default build-image), then check the install tree: exactly the
#                     three binaries, every library ldd resolves belongs to
#                     deploy/runtime-packages.txt or its dependency closure (dpkg -S,
#                     apt-cache depends), and, as an unprivileged user (setpriv, uid 65534), the
#                     binaries start, the image's HEALTHCHECK and the compose healthchecks pass
#                     against a real worker and simulator, and deploy/scenario.yaml runs through
#                     the worker. Takes a full build (minutes).
#   --all (default)   --manifests-only, then --image-steps.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
tools="${LLMBENCH_DEPLOY_TOOLS:-$HOME/.cache/llmbench-deploy-venv}"
py="$tools/bin/python"
mode="${1:---all}"

# Pinned validator versions (bump deliberately; docs/deploy.md lists them).
pip_requirements=(kubernetes-validate==1.37.0 dockerfile-parse==2.0.1 PyYAML==6.0.4)

log() { echo "check-deploy: $*"; }
die() { echo "check-deploy: FAIL: $*" >&2; exit 1; }

install_tools() {
  local stamp="$tools/.llmbench-requirements" want
  want="${pip_requirements[*]}"
  if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "python validators up to date in $tools"
  else
    log "installing ${pip_requirements[*]} into $tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check "${pip_requirements[@]}"
    echo "$want" > "$stamp"
  fi
  local src="$root/deploy/tools/composecheck" go_stamp="$tools/.composecheck" go_want
  if ! command -v go >/dev/null 2>&1; then
    log "no Go toolchain: composecheck not built (the compose file will not be validated)"
    return 0
  fi
  go_want="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -d' ' -f1)"
  if [ -x "$tools/bin/composecheck" ] && [ -f "$go_stamp" ] && [ "$(cat "$go_stamp")" = "$go_want" ]; then
    log "composecheck up to date"
  else
    log "building composecheck (compose-go, $(awk '/compose-go/{print $NF; exit}' "$src/go.mod"))"
    (cd "$src" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -o "$tools/bin/composecheck" .)
    echo "$go_want" > "$go_stamp"
  fi
}

versions() {
  log "tools: $("$py" --version 2>&1);" \
    "$("$py" -m pip list --disable-pip-version-check 2>/dev/null |
       awk '$1=="kubernetes-validate"||$1=="dockerfile-parse"||$1=="PyYAML"||$1=="jsonschema"{printf "%s %s; ", $1, $2}')"
  if [ -x "$tools/bin/composecheck" ]; then
    log "composecheck: compose-go $(awk '/compose-go/{print $NF; exit}' deploy/tools/composecheck/go.mod) ($(go version 2>/dev/null | awk '{print $3}'))"
  fi
}

manifests() {
  if [ ! -x "$tools/bin/kubernetes-validate" ]; then
    echo "check-deploy: validators not installed (scripts/check-deploy.sh --install-tools); skipping"
    exit 77
  fi
  versions
  local scratch
  scratch="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$scratch'" RETURN

  # 1. Kubernetes: every manifest against the bundled schemas, unknown fields rejected.
  local k8s_files=()
  for f in deploy/k8s/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || k8s_files+=("$f")
  done
  "$tools/bin/kubernetes-validate" --strict --quiet "${k8s_files[@]}" ||
    die "kubernetes-validate rejected deploy/k8s"
  log "kubernetes-validate --strict: ${#k8s_files[@]} files pass"
  # A Secret with real material from make-secret.sh: valid, and its certificate chains to its
  # CA and names the headless Service.
  if command -v openssl >/dev/null 2>&1; then
    deploy/k8s/make-secret.sh bench > "$scratch/secret.yaml"
    "$tools/bin/kubernetes-validate" --strict --quiet "$scratch/secret.yaml" ||
      die "kubernetes-validate rejected make-secret.sh's Secret"
    "$py" - "$scratch/secret.yaml" "$scratch" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for key in ("ca.crt", "tls.crt", "tls.key", "token"):
    open(f"{sys.argv[2]}/{key}", "w").write(doc["stringData"][key])
PY
    openssl verify -CAfile "$scratch/ca.crt" "$scratch/tls.crt" >/dev/null ||
      die "make-secret.sh's certificate does not chain to its CA"
    local sans
    sans="$(openssl x509 -in "$scratch/tls.crt" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')"
    [ "$sans" = "DNS:llmbench-workers,DNS:llmbench-workers.bench,DNS:llmbench-workers.bench.svc,DNS:llmbench-workers.bench.svc.cluster.local" ] ||
      die "make-secret.sh's certificate names $sans"
    [ "$(tr -d '\n' < "$scratch/token" | wc -c)" = 64 ] || die "make-secret.sh's token is not 64 hex digits"
    log "make-secret.sh: Secret valid, certificate verifies against its CA, SAN $sans"
  fi
  # Control: a broken manifest must be rejected (the validator can fail).
  sed 's/^  replicas: 3$/  replicas: three/' deploy/k8s/workers.yaml > "$scratch/broken.yaml"
  grep -q 'replicas: three' "$scratch/broken.yaml" || die "control: could not break workers.yaml"
  if "$tools/bin/kubernetes-validate" --strict --quiet "$scratch/broken.yaml" >/dev/null 2>&1; then
    die "control: kubernetes-validate accepted replicas: three"
  fi
  if command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize deploy/k8s > "$scratch/kustomized.yaml" || die "kubectl kustomize deploy/k8s failed"
    "$tools/bin/kubernetes-validate" --strict --quiet "$scratch/kustomized.yaml" ||
      die "kubernetes-validate rejected kubectl kustomize's output"
    log "kubectl kustomize ($(kubectl version --client 2>/dev/null | awk '/Kustomize/{print $3}')): output valid"
  else
    log "kubectl not installed: kustomization.yaml not built"
  fi

  # 2. Compose: the reference loader (schema + semantics), and a control that must fail.
  if [ -x "$tools/bin/composecheck" ]; then
    LLMBENCH_TOKEN_FILE=/dev/null "$tools/bin/composecheck" deploy/compose.yaml > "$scratch/compose.out" ||
      die "composecheck rejected deploy/compose.yaml"
    grep -q 'replicas: 3' "$scratch/compose.out" || die "compose: the workers do not have 3 replicas"
    sed 's/^      llmbench-sim:$/      llmbench-simulator:/' deploy/compose.yaml > "$scratch/compose-broken.yaml"
    grep -q 'llmbench-simulator:' "$scratch/compose-broken.yaml" || die "control: could not break compose.yaml"
    if (cd deploy && LLMBENCH_TOKEN_FILE=/dev/null "$tools/bin/composecheck" "$scratch/compose-broken.yaml" >/dev/null 2>&1); then
      die "control: composecheck accepted depends_on an undefined service"
    fi
    # The token secret's file is required: without it the loader stops, naming the variable.
    local unset_err
    unset_err="$(env -u LLMBENCH_TOKEN_FILE "$tools/bin/composecheck" deploy/compose.yaml 2>&1 >/dev/null)" &&
      die "composecheck accepted deploy/compose.yaml without LLMBENCH_TOKEN_FILE"
    [ "$unset_err" = "composecheck: error while interpolating secrets.llmbench_token.file: required variable LLMBENCH_TOKEN_FILE is missing a value: set LLMBENCH_TOKEN_FILE to a file holding the workers' shared token" ] ||
      die "composecheck without LLMBENCH_TOKEN_FILE said: $unset_err"
    log "composecheck: deploy/compose.yaml loads (workers: 3 replicas); a broken copy is rejected; LLMBENCH_TOKEN_FILE is required"
  else
    log "composecheck not built (no Go toolchain): deploy/compose.yaml NOT validated"
  fi

  # 3. Dockerfile structure and the cross-file checks.
  "$py" deploy/tools/check_manifests.py || die "deploy/tools/check_manifests.py found problems"
  log "manifests: all checks passed"
}

# The processes image_steps started (by pid) and its scratch folder, removed at exit.
image_pids=()
image_scratch=""
cleanup_image() {
  local p
  for p in "${image_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${image_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -z "$image_scratch" ] || rm -rf "$image_scratch"
}

image_steps() {
  local scratch prefix build_dir="${BUILD_DIR:-build-image}"
  scratch="$(mktemp -d)"
  chmod 755 "$scratch"
  prefix="$scratch/opt/llmbench"
  image_scratch="$scratch"
  trap cleanup_image EXIT

  # 1. The build stage's RUN lines, the same scripts.
  log "build stage: scripts/install-deps.sh --build-only"
  scripts/install-deps.sh --build-only
  log "build stage: BUILD_DIR=$build_dir deploy/build-stage.sh $prefix"
  BUILD_DIR="$build_dir" deploy/build-stage.sh "$prefix"

  # 2. The install tree.
  local got
  got="$(cd "$prefix/bin" && ls | tr '\n' ' ')"
  [ "$got" = "llmbench llmbench-sim llmbench-worker " ] || die "$prefix/bin holds: $got"
  [ -f "$prefix/share/llmbench/examples/sim.yaml" ] || die "examples not installed"
  log "install tree: bin/{llmbench,llmbench-sim,llmbench-worker}, share/llmbench/examples"

  # 3. Every library the binaries load comes from the runtime packages or their Depends.
  mapfile -t listed < <(deploy/install-runtime.sh --list)
  mapfile -t extra < <(awk '/# extra/{print $1}' deploy/runtime-packages.txt)
  local closure
  closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
             --no-breaks --no-replaces --no-enhances "${listed[@]}" 2>/dev/null |
             awk '/^[a-z0-9]/{print $1} /Depends:/{print $2}' | tr -d '<>' | sed 's/:.*//' | sort -u)"
  local used="" missing="" lib pkg path
  while read -r lib; do
    pkg=""
    for path in "$lib" "$(realpath "$lib")" "/usr$lib" "${lib#/usr}"; do
      pkg="$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)" && [ -n "$pkg" ] && break
    done
    [ -n "$pkg" ] || die "no Debian package owns $lib"
    used="$used $pkg"
    grep -qx "$pkg" <<< "$closure" || missing="$missing $lib($pkg)"
  done < <(for b in "$prefix"/bin/*; do
             ldd "$b" | grep -q 'not found' && die "ldd $b: a library is not found"
             ldd "$b" | awk '$3 ~ /^\//{print $3} $1 ~ /^\//{print $1}'
           done | sort -u)
  [ -z "$missing" ] || die "libraries outside deploy/runtime-packages.txt and its Depends:$missing"
  for pkg in "${listed[@]}"; do
    [[ " ${extra[*]} " == *" $pkg "* ]] && continue
    [[ "$used " == *" $pkg "* ]] || die "deploy/runtime-packages.txt lists $pkg, which no binary loads"
  done
  log "ldd: $(wc -w <<< "$(tr ' ' '\n' <<< "$used" | sort -u)") packages own the loaded libraries, all in the runtime packages' closure"

  # 4. Run them as an unprivileged user (uid/gid 65534), as the image's USER would.
  local as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  "${as_user[@]}" true || die "setpriv cannot switch to uid 65534"
  for b in llmbench llmbench-worker llmbench-sim; do
    "${as_user[@]}" "$prefix/bin/$b" --help > /dev/null || die "$b --help failed as uid 65534"
  done
  log "as uid 65534: llmbench --version: $("${as_user[@]}" "$prefix/bin/llmbench" --version)," \
      "llmbench-worker --version: $("${as_user[@]}" "$prefix/bin/llmbench-worker" --version)"
  # A real simulator and worker on loopback, run from the install tree as uid 65534; the image's
  # HEALTHCHECK and compose's healthchecks against them; then the deployed scenario.
  "${as_user[@]}" "$prefix/bin/llmbench-sim" --listen vllm=127.0.0.1:0 --seed 42 \
    > "$scratch/sim.out" 2> "$scratch/sim.err" &
  image_pids+=($!)
  "${as_user[@]}" "$prefix/bin/llmbench-worker" --listen 127.0.0.1:0 --loop-threads 2 \
    --log-level warn > "$scratch/worker.out" 2> "$scratch/worker.err" &
  image_pids+=($!)
  local sim_url="" worker_addr="" i
  for i in $(seq 1 300); do
    sim_url="$(sed -n 's/^listening vllm \(http:.*\)$/\1/p' "$scratch/sim.out")"
    worker_addr="$(sed -n 's|^listening grpc://\(.*\)$|\1|p' "$scratch/worker.out")"
    [ -n "$sim_url" ] && [ -n "$worker_addr" ] && break
    sleep 0.1
  done
  [ -n "$sim_url" ] && [ -n "$worker_addr" ] || die "sim/worker did not start: $(cat "$scratch"/*.err)"
  local health
  health="$("${as_user[@]}" "$prefix/bin/llmbench" health "$worker_addr")" ||
    die "llmbench health $worker_addr (the image's HEALTHCHECK) failed"
  [ "$health" = "$worker_addr: SERVING" ] || die "llmbench health printed: $health"
  "${as_user[@]}" "$prefix/bin/llmbench" engines --target "sim=vllm,$sim_url,sim-model" > /dev/null ||
    die "llmbench engines (compose's sim healthcheck) failed"
  log "HEALTHCHECK: $health; compose sim healthcheck: llmbench engines ok"
  mkdir -p "$scratch/results" && chown 65534:65534 "$scratch/results"
  "${as_user[@]}" "$prefix/bin/llmbench" run deploy/scenario.yaml --url "sim-vllm=$sim_url" \
    --workers "$worker_addr" --out "$scratch/results/run" --quiet > "$scratch/run.out" 2>&1 ||
    die "llmbench run deploy/scenario.yaml failed: $(tail -20 "$scratch/run.out")"
  [ -s "$scratch/results/run/summary.json" ] || die "no summary.json"
  log "deploy/scenario.yaml ran through the installed worker: $(grep -A1 -m1 'requests' "$scratch/run.out" | tail -1 || true)"
  log "image steps: all checks passed"
}

case "$mode" in
  --install-tools) install_tools ;;
  --manifests-only) manifests ;;
  --image-steps) image_steps ;;
  --all) manifests; image_steps ;;
  *) echo "usage: scripts/check-deploy.sh [--install-tools|--manifests-only|--image-steps|--all]" >&2; exit 2 ;;
esac
