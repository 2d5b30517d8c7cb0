#!/usr/bin/env bash
# Builds the container image with podman and runs llmbench as containers: a simulator, three
# workers with a shared token and a coordinator, by hand and through deploy/compose.yaml with
# podman-compose; checks the results (docs/deploy.md, "What is checked").
#
# Usage: scripts/container-test.sh [--install] [--check] [--no-compose] [--keep]
#   --install     first install what it needs: podman, crun, runc, netavark, aardvark-dns,
#                 iptables, iproute2, debootstrap and python3-venv from Debian (apt-get, only
#                 those missing), and podman-compose (pinned, PyPI) into a venv under the cache
#                 folder. Needs root (or sudo).
#   --check       only say whether this machine can run the test (exit 0) or not (exit 77).
#   --no-compose  skip the deploy/compose.yaml part.
#   --keep        leave the containers, networks and compose project for a look afterwards
#                 (the next run removes them).
# Exits 0 when every check passed, 1 on a failed check, 77 (ctest: skipped, "not run") when it
# cannot run here — no podman — saying why.
#
# Steps, each printed as it passes:
#  1. Base images: debian:12 and debian:12-slim as present; else pulled; else, where no
#     registry answers, made with debootstrap (scripts/debian-base.sh) and imported as those
#     tags (labelled org.llmbench.base; re-imported when the root file systems are remade).
#  2. Runtime: a throw-away container with podman's own configuration; where that cannot start
#     one (e.g. a host without CAP_SYS_RESOURCE, where podman's default rlimits fail, and crun on
#     hybrid cgroups), again with a private containers.conf — runtime runc, cgroup manager
#     cgroupfs, default_ulimits = [] — in CONTAINERS_CONF for every podman call that follows
#     (podman-compose's too). The host's own configuration is not changed.
#  3. Image: `podman build --format docker` (Docker format keeps HEALTHCHECK; OCI drops it) of
#     deploy/Dockerfile as llmbench:0.1.0, the tag deploy/compose.yaml names, with
#     BUILD_JOBS (default 2) compile jobs, the host's CA bundle ($LLMBENCH_BUILD_CA, default
#     /etc/ssl/certs/ca-certificates.crt) as the build secret host-ca when present, and the
#     Dockerfile's ccache cache mount. Checks: HEALTHCHECK, USER 10001:10001, ENTRYPOINT kept;
#     the host's CA bundle's certificates that Debian's bundle lacks are in no layer.
#  4. Health check: a default worker container is `healthy` by `podman healthcheck run`; a
#     container of the image running the simulator instead (nothing on 50051) is `unhealthy`.
#     Each network's bridge gets its MAC pinned (see pin_bridge: netavark < 1.9).
#  5. Cluster on a network of its own (10.250.16.0/24): llmbench-sim, three workers with the
#     token mounted read-only (--token-file), all sharing the DNS alias llmbench-workers. The
#     coordinator container runs deploy/scenario.yaml with --workers naming the three, then with
#     --workers llmbench-workers:50051 (one name, three addresses); each run: verdict VALID,
#     exactly those three workers, 300 requests + 16 warm-up, every request id once, all
#     successful (tests/deploy/check_container_run.py). Without the token it is refused with
#     the worker's message.
#  6. Compose: podman-compose 1.6.0 with deploy/compose.yaml (project llmbench-ct): the
#     simulator and three worker replicas, their health checks healthy, the token secret
#     mounted read-only in each; then the coordinator, which reaches the replicas through the
#     one service name; its exit status 0 and its results (from the results volume) checked as
#     above; a coordinator without the token refused on that network. podman-compose
#     ignores depends_on's service_healthy with podman < 4.6, so the coordinator is started
#     after the health checks pass.
# Cached between runs (in $LLMBENCH_CONTAINER_CACHE, default ~/.cache/llmbench-container): the
# base root file systems and the podman-compose venv; podman keeps the image's layers and the
# ccache cache mount, so a rebuild after a source change recompiles only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

usage() { sed -n '6,17p' "$0" | sed 's/^# \{0,1\}//'; }
install=false check_only=false with_compose=true keep=false
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=true ;;
    --check) check_only=true ;;
    --no-compose) with_compose=false ;;
    --keep) keep=true ;;
    -h|--help) usage; exit 0 ;;
    *) echo "container-test: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

state="${LLMBENCH_CONTAINER_CACHE:-$HOME/.cache/llmbench-container}"
image=llmbench:0.1.0            # the tag deploy/compose.yaml names
prefix=llmbench-ct              # every container, network and compose project made here
net="$prefix-net"
subnet=10.250.16.0/24           # private; exists only on this host's bridge
compose_version=1.6.0
compose_venv="$state/compose-venv"
scenario_requests=300 scenario_warmup=16   # deploy/scenario.yaml's load
apt_packages=(podman crun runc netavark aardvark-dns iptables iproute2 debootstrap python3-venv ca-certificates)

log() { echo "container-test: $*"; }
die() { echo "container-test: FAIL: $*" >&2; exit 1; }
not_run() { echo "container-test: NOT run: $*"; exit 77; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_all() {
  local p missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "packages: ${apt_packages[*]} installed"
  else
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
  fi
  install_compose
}

install_compose() {
  if [ -x "$compose_venv/bin/podman-compose" ] &&
     [ "$("$compose_venv/bin/python" -m pip show podman-compose 2>/dev/null | awk '/^Version:/{print $2}')" = "$compose_version" ]; then
    return 0
  fi
  log "installing podman-compose $compose_version into $compose_venv (PyPI)"
  mkdir -p "$state"
  python3 -m venv "$compose_venv" || die "python3 -m venv failed (apt-get install python3-venv)"
  "$compose_venv/bin/pip" install --quiet --disable-pip-version-check "podman-compose==$compose_version" ||
    die "pip install podman-compose==$compose_version failed"
}

# Why this machine cannot run the test, or nothing.
why_not() {
  if command -v podman >/dev/null 2>&1; then return 0; fi
  local docker=""
  if command -v docker >/dev/null 2>&1; then
    if docker info >/dev/null 2>&1; then
      docker=" (docker is, but this script drives podman: its --format docker builds, secret and cache mounts, and healthcheck run)"
    else
      docker=" (a docker client is, but no docker daemon answers)"
    fi
  fi
  echo "no container engine: podman is not installed$docker; scripts/container-test.sh --install installs it from Debian"
}

if [ "$install" = true ]; then install_all; fi
why="$(why_not)"
if [ -n "$why" ]; then not_run "$why"; fi
if [ "$with_compose" = true ] && [ ! -x "$compose_venv/bin/podman-compose" ]; then
  not_run "podman-compose is not installed in $compose_venv (scripts/container-test.sh --install installs it; --no-compose skips that part)"
fi
if [ "$check_only" = true ]; then
  log "can run: $(podman --version)$([ "$with_compose" = true ] && echo ", podman-compose $compose_version")"
  exit 0
fi

work="$(mktemp -d)"
chmod 755 "$work"
start_all=$SECONDS
compose_cmd=()

cleanup() {
  local rc=$?
  if [ "$keep" = true ]; then
    log "--keep: containers ($prefix-*), network $net and compose project $prefix left; files in $work"
    exit $rc
  fi
  remove_ours
  rm -rf "$work"
  exit $rc
}
remove_ours() {
  if [ ${#compose_cmd[@]} -gt 0 ]; then "${compose_cmd[@]}" down -v > /dev/null 2>&1 || true; fi
  local names
  names="$(podman ps -a --format '{{.Names}}' | grep -E "^$prefix-" || true)"
  if [ -n "$names" ]; then
    # shellcheck disable=SC2086
    podman rm -f -t 2 $names > /dev/null 2>&1 || true
  fi
  podman network rm -f "$net" > /dev/null 2>&1 || true
}
trap cleanup EXIT

# ---- 1. Base images.
base_tars=()
label_of() {  # TAG: its org.llmbench.base label (set on the images this script imports), or ""
  podman image inspect --format '{{index .Labels "org.llmbench.base"}}' "$1" 2>/dev/null |
    sed 's/^<no value>$//'
}
base_images() {
  local t i tars labelled=false tags=(debian:12 debian:12-slim)
  for t in "${tags[@]}"; do
    if podman image exists "$t" && [ -n "$(label_of "$t")" ]; then labelled=true; fi
  done
  if [ "$labelled" = false ]; then
    if podman image exists debian:12 && podman image exists debian:12-slim; then
      log "base images: debian:12 and debian:12-slim present"
      return 0
    fi
    log "base images: pulling debian:12 and debian:12-slim"
    if timeout 120 podman pull -q docker.io/library/debian:12 > "$work/pull.log" 2>&1 &&
       timeout 120 podman pull -q docker.io/library/debian:12-slim >> "$work/pull.log" 2>&1; then
      log "base images: pulled"
      return 0
    fi
    log "base images: cannot pull ($(grep -m1 -i 'error' "$work/pull.log" || tail -1 "$work/pull.log")); making them with debootstrap"
  fi
  # Ours: made from the cached root file systems, re-imported when those were remade.
  tars="$(scripts/debian-base.sh)" || die "scripts/debian-base.sh could not make the base root file systems"
  mapfile -t base_tars <<< "$tars"
  for i in 0 1; do
    t="${tags[$i]}"
    local want
    want="$(stat -c '%s-%Y' "${base_tars[$i]}")"
    if podman image exists "$t" && [ "$(label_of "$t")" = "$want" ]; then continue; fi
    podman import --change "LABEL org.llmbench.base=$want" --change 'CMD ["bash"]' \
      "${base_tars[$i]}" "$t" > "$work/import.log" 2>&1 ||
      die "podman import ${base_tars[$i]} $t: $(tail -3 "$work/import.log")"
    log "base images: imported ${base_tars[$i]} as $t"
  done
  log "base images: debian:12 and debian:12-slim made by debootstrap (minbase, bookworm)"
}
base_images

# ---- 2. A runtime that can start containers here.
probe() { podman run --rm --network none --entrypoint /bin/true debian:12-slim 2>&1; }
if out="$(probe)"; then
  log "runtime: podman's own configuration starts containers ($(podman info --format '{{.Host.OCIRuntime.Name}}, cgroup manager {{.Host.CgroupManager}}'))"
else
  conf="$state/containers.conf"
  mkdir -p "$state"
  cat > "$conf" <<'EOF'
# Written by scripts/container-test.sh for hosts where podman's own configuration cannot start
# a container; used through CONTAINERS_CONF by that script only.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
  export CONTAINERS_CONF="$conf"
  if out2="$(probe)"; then
    log "runtime: podman's own configuration cannot start a container here ($(grep -m1 . <<< "$out"));" \
        "using $conf (runtime runc, cgroup manager cgroupfs, default_ulimits = [])"
  else
    die "podman cannot start a container: $(grep -m1 . <<< "$out"); with $conf: $(grep -m1 . <<< "$out2")"
  fi
fi

# ---- 3. The image.
ca="${LLMBENCH_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}"
secret_args=()
if [ -s "$ca" ]; then secret_args=(--secret "id=host-ca,src=$ca"); fi
log "image: podman build --format docker -t $image (BUILD_JOBS=${BUILD_JOBS:-2}${secret_args:+, build secret host-ca=$ca})"
start=$SECONDS
podman build --format docker --layers -f deploy/Dockerfile -t "$image" "${secret_args[@]}" \
  --build-arg "BUILD_JOBS=${BUILD_JOBS:-2}" . > "$work/build.log" 2>&1 ||
  die "podman build failed: $(tail -30 "$work/build.log")"
build_s=$((SECONDS - start))
mkdir -p "$state" && cp "$work/build.log" "$state/last-build.log"
# The compile step prints ccache's statistics when it runs; a reused layer prints nothing.
if hits="$(grep -m1 -E '^[[:space:]]+Hits:' "$work/build.log")"; then
  compiled="compile step ran, ccache $(tr -s ' ' <<< "${hits# }")"
else
  compiled="compile step reused (no change)"
fi
log "image: built in ${build_s} s ($compiled), $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}'); log: $state/last-build.log"

healthcheck="$(podman image inspect --format '{{json .HealthCheck.Test}}' "$image")" ||
  die "podman image inspect $image failed"
[ "$healthcheck" = '["CMD","llmbench","health","127.0.0.1:50051"]' ] ||
  die "the image's HEALTHCHECK is $healthcheck (built in OCI format?)"
user="$(podman image inspect --format '{{.Config.User}}' "$image")" || die "podman image inspect failed"
[ "$user" = "10001:10001" ] || die "the image's USER is '$user'"
entrypoint="$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")" || die "podman image inspect failed"
[ "$entrypoint" = '["llmbench-worker"]' ] || die "the image's ENTRYPOINT is $entrypoint"
log "image: HEALTHCHECK $healthcheck, USER $user, ENTRYPOINT $entrypoint"

# The host's CA bundle reached the build as a secret: none of its certificates that Debian's own
# bundle lacks may be in any layer of the image.
if [ ${#secret_args[@]} -gt 0 ]; then
  podman run --rm --no-healthcheck --entrypoint cat "$image" /etc/ssl/certs/ca-certificates.crt \
    > "$work/image-ca.crt" 2> "$work/cat.err" || die "reading the image's CA bundle: $(cat "$work/cat.err")"
  grep -vxFf "$work/image-ca.crt" "$ca" | grep -E '^[A-Za-z0-9+/=]{64}$' > "$work/host-only.lines" || true
  if [ -s "$work/host-only.lines" ]; then
    podman save --format docker-archive -o "$work/image.tar" "$image" > /dev/null 2>&1 ||
      die "podman save $image failed"
    mkdir "$work/layers"
    tar -C "$work/layers" -xf "$work/image.tar"
    found=""
    while read -r layer; do
      if tar -xOf "$work/layers/$layer" 2>/dev/null | grep -qFf "$work/host-only.lines"; then
        found="$found $layer"
      fi
    done < <(cd "$work/layers" && find . -name '*.tar' -printf '%P\n')
    [ -z "$found" ] || die "the host's CA certificates are in the image's layers:$found"
    log "image: the host's own CA certificates ($(wc -l < "$work/host-only.lines") base64 lines Debian's bundle lacks) are in none of its $(find "$work/layers" -name '*.tar' | wc -l) layers"
    rm -rf "$work/layers" "$work/image.tar"
  else
    log "image: the host's CA bundle has no certificate Debian's lacks: nothing to look for"
  fi
fi

remove_ours
podman network create --subnet "$subnet" "$net" > /dev/null || die "podman network create --subnet $subnet $net failed"

# run_detached NAME ARGS...: `podman run -d --name NAME ARGS...`. podman's complaints about a missing
# systemd (it runs health checks from systemd timers) are kept out of the output and reported
# once: without systemd, health checks run only when asked (`podman healthcheck run`).
no_systemd_said=false
run_detached() {
  local name="$1"
  shift
  podman run -d --name "$name" "$@" > /dev/null 2> "$work/run-$name.err" ||
    die "podman run $name failed: $(cat "$work/run-$name.err")"
  if grep -q 'unable to get systemd connection' "$work/run-$name.err" && [ "$no_systemd_said" = false ]; then
    log "podman: no systemd here, so no timers run health checks; they run when asked (podman healthcheck run)"
    no_systemd_said=true
  fi
}

# pin_bridge NETWORK: netavark before 1.9 (Debian 12 has 1.4.0) leaves a network's bridge to take
# the lowest MAC of its ports, so it changes as containers come and go; containers that learned
# the old one (ARP) lose what they send to the gateway — aardvark-dns, the containers' DNS —
# for seconds (workers' warm-up requests then fail: `Resolving timed out after 5000
# milliseconds`). Pin the MAC it has, as netavark 1.9 does itself (containers/netavark#833).
# Call after the first container joined (the bridge exists from then on).
pin_bridge() {
  local br mac
  br="$(podman network inspect --format '{{.NetworkInterface}}' "$1")" ||
    die "podman network inspect $1 failed"
  if [ ! -e "/sys/class/net/$br/addr_assign_type" ]; then
    log "network $1: its bridge $br is not in this namespace (rootless?): MAC not pinned"
    return 0
  fi
  [ "$(cat "/sys/class/net/$br/addr_assign_type")" != 3 ] || return 0   # 3: set explicitly
  mac="$(cat "/sys/class/net/$br/address")"
  ip link set dev "$br" address "$mac" || die "ip link set dev $br address $mac failed"
  log "network $1: bridge $br took its MAC from its ports (netavark < 1.9); pinned at $mac"
}

# ---- 4. The health check as podman runs it.
healthy() {  # NAME: wait (up to 30 s) until `podman healthcheck run NAME` says healthy
  local i out=""
  for i in $(seq 1 30); do
    if out="$(podman healthcheck run "$1" 2>&1)"; then
      [ "$out" = healthy ] || [ -z "$out" ] && return 0
    fi
    sleep 1
  done
  echo "$out"
  return 1
}
run_detached "$prefix-health" --network "$net" "$image"
pin_bridge "$net"
out="$(healthy "$prefix-health")" || die "the default worker container is not healthy: $out; $(podman logs "$prefix-health" 2>&1 | tail -5)"
run_detached "$prefix-unhealthy" --network "$net" --entrypoint llmbench-sim "$image" --listen vllm=0.0.0.0:8000
if out="$(podman healthcheck run "$prefix-unhealthy" 2>&1)"; then
  die "control: the image's HEALTHCHECK passed in a container where no worker listens ($out)"
fi
[ "$out" = unhealthy ] || die "control: podman healthcheck run said '$out', expected 'unhealthy'"
log "health check: a default worker container is healthy (podman healthcheck run); one running the simulator instead is unhealthy"
podman rm -f -t 2 "$prefix-health" "$prefix-unhealthy" > /dev/null 2>&1

# ---- 5. Simulator, three workers and a coordinator as containers.
token="$work/token"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$token"
chmod 0400 "$token"
results="$work/results"
mkdir "$results"
if [ "$(id -u)" -eq 0 ]; then
  chown 10001:10001 "$token" "$results"
else
  podman unshare chown 10001:10001 "$token" "$results"
fi
start=$SECONDS
run_detached "$prefix-sim" --network "$net" --network-alias llmbench-sim \
  --entrypoint llmbench-sim "$image" --listen vllm=0.0.0.0:8000 --seed 42
workers=()
for w in a b c; do
  run_detached "$prefix-worker-$w" --network "$net" --network-alias llmbench-workers \
    -v "$token:/run/secrets/llmbench_token:ro" "$image" --listen=0.0.0.0:50051 --loop-threads=2 \
    --token-file=/run/secrets/llmbench_token --worker-id="worker-$w" --log-level=info
  workers+=("$prefix-worker-$w")
done
for c in "${workers[@]}"; do
  out="$(healthy "$c")" || die "$c is not healthy: $out; $(podman logs "$c" 2>&1 | tail -5)"
done
for i in $(seq 1 30); do
  podman exec "$prefix-sim" llmbench engines --target sim=vllm,http://127.0.0.1:8000,sim-model > /dev/null 2>&1 && break
  [ "$i" -lt 30 ] || die "the simulator container does not answer: $(podman logs "$prefix-sim" 2>&1 | tail -5)"
  sleep 1
done
log "cluster: $prefix-sim and three workers up on $net ($subnet), workers healthy"

# coordinator NAME token|no-token ARGS...: runs `llmbench ARGS...` in a container on $coord_net
# (default: $net), with the token file mounted or not, deploy/scenario.yaml at
# /etc/llmbench/scenario.yaml and the results folder at /results; no health check (a one-shot
# job, as in deploy/compose.yaml).
# Output in $work/NAME.out.
coord_net="$net"
coordinator() {
  local name="$1" mounts=()
  if [ "$2" = token ]; then mounts=(-v "$token:/run/secrets/llmbench_token:ro"); fi
  shift 2
  podman run --rm --name "$prefix-coordinator-$name" --network "$coord_net" --no-healthcheck \
    -v "$root/deploy/scenario.yaml:/etc/llmbench/scenario.yaml:ro" -v "$results:/results" \
    "${mounts[@]}" --entrypoint llmbench "$image" "$@" > "$work/$name.out" 2>&1
}
ip_of() { podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
check_run() {  # DIR EXPECTED_ADDRESSES
  python3 tests/deploy/check_container_run.py "$1" --workers "$2" \
    --requests "$scenario_requests" --warmup "$scenario_warmup"
}

# 5a. The workers by name.
named="$prefix-worker-a:50051,$prefix-worker-b:50051,$prefix-worker-c:50051"
coordinator named token run /etc/llmbench/scenario.yaml \
  "--workers=$named" --token-file=/run/secrets/llmbench_token --out=/results/named --quiet ||
  die "coordinator (--workers $named) failed: $(tail -20 "$work/named.out")"
summary="$(check_run "$results/named" "$named")" || die "coordinator (--workers $named): results above"
log "cluster, --workers $named: $summary"

# 5b. The workers through one DNS name (their shared network alias).
addresses=""
for c in "${workers[@]}"; do addresses="$addresses${addresses:+,}$(ip_of "$c"):50051"; done
coordinator alias token run /etc/llmbench/scenario.yaml --workers=llmbench-workers:50051 \
  --token-file=/run/secrets/llmbench_token --out=/results/alias --quiet ||
  die "coordinator (--workers llmbench-workers:50051) failed: $(tail -20 "$work/alias.out")"
summary="$(check_run "$results/alias" "$addresses")" || die "coordinator (--workers llmbench-workers:50051): results above"
log "cluster, --workers llmbench-workers:50051: $summary"

# 5c. Control: without the token the workers refuse the run.
if coordinator refused no-token run /etc/llmbench/scenario.yaml "--workers=$prefix-worker-a:50051" \
     --out=/results/refused --quiet; then
  die "control: the coordinator ran without the token"
fi
refusal="$(grep -m1 'missing or wrong llmbench token' "$work/refused.out" || true)"
[ -n "$refusal" ] || die "control: without the token the coordinator said: $(tail -5 "$work/refused.out")"
[ ! -e "$results/refused/summary.json" ] || die "control: a refused run wrote summary.json"
log "cluster: without the token refused: $refusal"
cluster_s=$((SECONDS - start))
if [ "$keep" = false ]; then remove_ours; fi

# ---- 6. deploy/compose.yaml with podman-compose.
compose_s=0
if [ "$with_compose" = true ]; then
  start=$SECONDS
  export LLMBENCH_TOKEN_FILE="$token"
  compose_cmd=("$compose_venv/bin/podman-compose" --project-name "$prefix" -f deploy/compose.yaml)
  "${compose_cmd[@]}" down -v > /dev/null 2>&1 || true
  "${compose_cmd[@]}" up -d --no-build llmbench-sim llmbench-workers > "$work/compose-up.log" 2>&1 ||
    die "podman-compose up (simulator, workers) failed: $(tail -20 "$work/compose-up.log")"
  pin_bridge "${prefix}_default"
  mapfile -t replicas < <(podman ps --filter "label=io.podman.compose.project=$prefix" \
    --filter "label=com.docker.compose.service=llmbench-workers" --format '{{.Names}}' | sort)
  [ ${#replicas[@]} -eq 3 ] || die "compose: ${#replicas[@]} worker replicas running (${replicas[*]}), expected 3"
  sim_c="$(podman ps --filter "label=io.podman.compose.project=$prefix" \
    --filter "label=com.docker.compose.service=llmbench-sim" --format '{{.Names}}')"
  [ -n "$sim_c" ] || die "compose: no llmbench-sim container"
  sim_health="$(podman inspect --format '{{json .Config.Healthcheck.Test}}' "$sim_c")"
  [ "$sim_health" = '["CMD","llmbench","engines","--target","sim=vllm,http://127.0.0.1:8000,sim-model"]' ] ||
    die "compose: llmbench-sim's health check is $sim_health"
  for c in "$sim_c" "${replicas[@]}"; do
    out="$(healthy "$c")" || die "compose: $c is not healthy: $out; $(podman logs "$c" 2>&1 | tail -5)"
  done
  log "compose: llmbench-sim and ${#replicas[@]} replicas of llmbench-workers healthy (their compose health checks)"
  addresses=""
  for c in "${replicas[@]}"; do addresses="$addresses${addresses:+,}$(ip_of "$c"):50051"; done
  # The secret: mounted read-only where the workers' --token-file points.
  for c in "${replicas[@]}"; do
    mount="$(podman inspect --format '{{range .Mounts}}{{if eq .Destination "/run/secrets/llmbench_token"}}{{.Source}} rw={{.RW}}{{end}}{{end}}' "$c")"
    [ "$mount" = "$token rw=false" ] || die "compose: $c mounts the token secret as '$mount'"
  done
  log "compose: the llmbench_token secret ($token) is mounted read-only at /run/secrets/llmbench_token in every replica"
  # With its dependencies healthy, the coordinator (up resolves depends_on; the containers it
  # depends on are running and unchanged, so they are kept).
  "${compose_cmd[@]}" up -d --no-build coordinator > "$work/compose-coordinator.log" 2>&1 ||
    die "podman-compose up coordinator failed: $(tail -20 "$work/compose-coordinator.log")"
  if ignored="$(grep -m1 "condition check due to podman" "$work/compose-coordinator.log")"; then
    log "compose: as documented, podman-compose ignores service_healthy here: ${ignored##*podman_compose:}"
  fi
  coord_c="$(podman ps -a --filter "label=io.podman.compose.project=$prefix" \
    --filter "label=com.docker.compose.service=coordinator" --format '{{.Names}}')"
  [ -n "$coord_c" ] || die "compose: no coordinator container"
  rc="$(timeout 600 podman wait "$coord_c")" || die "compose: podman wait $coord_c failed"
  [ "$rc" = 0 ] || die "compose: the coordinator exited $rc: $(podman logs "$coord_c" 2>&1 | tail -20)"
  podman cp "$coord_c:/results/compose-run" "$work/compose-run" ||
    die "compose: podman cp $coord_c:/results/compose-run failed"
  summary="$(check_run "$work/compose-run" "$addresses")" || die "compose: results above"
  podman volume exists "${prefix}_results" || die "compose: no volume ${prefix}_results"
  log "compose: coordinator exited 0, --workers llmbench-workers:50051 (the service name): $summary"
  log "compose: results in volume ${prefix}_results"
  # Control: on the compose network, a coordinator without the token is refused.
  coord_net="${prefix}_default"
  if coordinator compose-refused no-token run /etc/llmbench/scenario.yaml \
       "--workers=llmbench-workers:50051" --out=/results/compose-refused --quiet; then
    die "compose: a coordinator without the token ran"
  fi
  grep -q 'missing or wrong llmbench token' "$work/compose-refused.out" ||
    die "compose: without the token the coordinator said: $(tail -5 "$work/compose-refused.out")"
  log "compose: without the token refused by the replicas"
  compose_s=$((SECONDS - start))
fi

log "times: image build ${build_s} s, cluster ${cluster_s} s, compose ${compose_s} s, total $((SECONDS - start_all)) s"
log "all checks passed"
