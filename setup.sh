#!/usr/bin/env bash
# Sets up everything coderunner needs on a Debian machine, idempotently:
#   ./setup.sh          install packages, start dockerd, build + install coderunner, build the runtime images
#   ./setup.sh test     the same, then run the whole test suite (this is what CI runs)
#   ./setup.sh bench    the same, then run the benchmarks (see README)
# Re-running is quick: packages, the base image and runtime images are only (re)built when missing or changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
MODE=${1:-install}
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo -E "$0" "$@"; fi
  die "run as root (it installs packages and starts dockerd)"
fi
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
command -v swift >/dev/null || die "Swift 6 is required (https://swift.org/install); put it on PATH or in /opt/swift"

# 1. Debian packages (only the missing ones).
need=()
command -v dockerd >/dev/null || need+=(docker.io)
dpkg -s libedit-dev >/dev/null 2>&1 || need+=(libedit-dev)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v tar >/dev/null || need+=(tar)
command -v iptables >/dev/null || need+=(iptables)
# The web page's editor (`coderunner serve` serves it from /usr/share/javascript/codemirror; without it the page falls
# back to a plain textarea).
[ -f /usr/share/javascript/codemirror/lib/codemirror.js ] || need+=(libjs-codemirror)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. dockerd.
docker_up() { [ -S /var/run/docker.sock ] && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
start_dockerd() {
  docker_up && return 0
  log "starting dockerd"
  if [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null; then :; else
    rm -f /var/run/docker.pid
    nohup dockerd >/var/log/coderunner-dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do docker_up && break; sleep 0.5; done
  docker_up || die "dockerd did not start; see /var/log/coderunner-dockerd.log"
}
start_dockerd

# 3. The offline base image (no registry is needed: debootstrap from Debian's mirror).
BASE=${CODERUNNER_BASE_IMAGE-coderunner/base:bookworm}
if [ -n "$BASE" ] && ! docker image inspect "$BASE" >/dev/null 2>&1; then
  rootfs=/var/cache/coderunner/rootfs-bookworm
  if [ ! -x "$rootfs/bin/sh" ]; then
    log "bootstrapping a Debian bookworm root filesystem (about a minute)"
    rm -rf "$rootfs"; mkdir -p "$(dirname "$rootfs")"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/var/log/coderunner-debootstrap.log 2>&1 \
      || die "debootstrap failed; see /var/log/coderunner-debootstrap.log"
  fi
  log "importing $BASE"
  tar -C "$rootfs" -c . | docker import - "$BASE" >/dev/null
fi

# 4. Build and install coderunner and the static in-container agent.
build() {  # build quietly, show the log when it fails
  local logfile; logfile=$(mktemp)
  if ! swift build "$@" >"$logfile" 2>&1; then tail -n 60 "$logfile" >&2; rm -f "$logfile"; die "swift build $* failed"; fi
  rm -f "$logfile"
}
log "building coderunner (release)"
# The Swift runtime and Foundation linked in: about 5 ms less start-up per command (a warm run takes about 35 ms).
build -c release --product coderunner --scratch-path .build-release -Xswiftc -static-stdlib
log "building coderunner-agent (static)"
build -c release --product coderunner-agent --scratch-path .build-agent -Xswiftc -static-executable
install -m 0755 .build-release/release/coderunner /usr/local/bin/coderunner
install -d /usr/local/lib/coderunner /usr/local/share/coderunner
install -m 0755 .build-agent/release/coderunner-agent /usr/local/lib/coderunner/coderunner-agent
rm -rf /usr/local/share/coderunner/runtimes.new
cp -r runtimes /usr/local/share/coderunner/runtimes.new
rm -rf /usr/local/share/coderunner/runtimes
mv /usr/local/share/coderunner/runtimes.new /usr/local/share/coderunner/runtimes

# 5. Runtime images (skipped when current).
log "building runtime images"
/usr/local/bin/coderunner images build

# 6. Deployment images (deploy/, docs/deploy.md): `serve` itself and HAProxy, on the same base, skipped when current.
# Each carries the hash of its build context (and base image) as a label, as the runtime images do.
deploy_image() {  # IMAGE DIR [PATH...]: DIR's Dockerfile, with the PATHs copied beside it, is the build context
  local image=$1 dir=$2 context hash logfile; shift 2
  context=$(mktemp -d)
  cp -r "$dir"/. "$context"/
  [ $# -eq 0 ] || cp -r "$@" "$context"/
  hash=$({ (cd "$context" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    [ -z "$BASE" ] || docker image inspect --format '{{.Id}}' "$BASE"; } | sha256sum | cut -c1-64)
  if [ "$(docker image inspect --format '{{index .Config.Labels "dev.coderunner.inputs-hash"}}' "$image" 2>/dev/null)" != "$hash" ]; then
    log "building $image"
    logfile=$(mktemp)
    # The classic builder: what this engine (and an offline one) has; BuildKit would want its own images.
    if ! DOCKER_BUILDKIT=0 docker build --build-arg BASE="${BASE:-debian:bookworm-slim}" \
      --label "dev.coderunner.inputs-hash=$hash" -t "$image" "$context" >"$logfile" 2>&1; then
      tail -n 40 "$logfile" >&2; rm -rf "$context" "$logfile"; die "building $image failed"
    fi
    rm -f "$logfile"
  fi
  rm -rf "$context"
}
deploy_image coderunner/serve deploy/image .build-release/release/coderunner runtimes
deploy_image coderunner/haproxy deploy/haproxy

# Every container, network and volume carrying coderunner's label, one "kind name" per line, sorted.
# What a test run must not leave behind: containers (a session's lease on a network is one), networks outside the
# shared pool, volumes. Ready pool networks are not leaks (sessions hand them on); `ready_networks` lists them.
coderunner_resources() {
  {
    docker ps -a --filter label=dev.coderunner.managed --format 'container {{.Names}}'
    docker network ls --filter label=dev.coderunner.managed --format 'network {{.Name}} {{.Label "dev.coderunner.pool"}}' \
      | awk 'NF == 2 { print }'
    docker volume ls --filter label=dev.coderunner.managed --format 'volume {{.Name}}'
  } | LC_ALL=C sort
}
ready_networks() { docker network ls --filter label=dev.coderunner.pool --format '{{.Name}}' | LC_ALL=C sort; }

# The tests' Python tools (pexpect, nbformat, python-socketio, websocket-client, selenium, kubernetes-validate with
# its bundled schemas: offline) in a virtual environment,
# first on PATH for the tests and the bench, so their scripts' `python3` finds them.
TEST_VENV=/var/lib/coderunner/test-venv
use_test_venv() {
  if ! "$TEST_VENV/bin/python3" -c 'import pexpect, nbformat, socketio, websocket, selenium, kubernetes_validate' 2>/dev/null; then
    log "installing test tools from PyPI into $TEST_VENV: pexpect nbformat python-socketio[client] websocket-client selenium kubernetes-validate"
    rm -rf "$TEST_VENV"
    mkdir -p "$(dirname "$TEST_VENV")"
    python3 -m venv "$TEST_VENV" || die "cannot make a Python virtual environment (apt-get install python3-venv)"
    "$TEST_VENV/bin/python3" -m pip install --quiet --disable-pip-version-check \
      pexpect nbformat "python-socketio[client]" websocket-client selenium kubernetes-validate || die "pip could not install the test tools"
  fi
  export PATH="$TEST_VENV/bin:$PATH"
}

case "$MODE" in
  install) log "ready: try \`coderunner run runtimes/python/examples/hello.py\`" ;;
  test)
    # What the tests drive coderunner with: pexpect (the shell through a pseudo-terminal), nbformat (notebook schema
    # check), python-socketio (the Socket.IO endpoint as existing clients speak it), selenium + Debian's chromium
    # (the web page in a real headless browser).
    test_apt=()
    command -v chromium >/dev/null || test_apt+=(chromium)
    command -v chromedriver >/dev/null || test_apt+=(chromium-driver)
    command -v python3 >/dev/null || test_apt+=(python3)
    # The Python test tools go into a virtual environment of their own (never into the system's Python).
    python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || test_apt+=(python3-venv)
    # HAProxy for the fleet test (FleetTests), which runs its own `haproxy -db -f deploy/haproxy.cfg`: the package's
    # service is never started (a policy-rc.d refuses it during the install) nor enabled.
    new_haproxy=0
    command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { test_apt+=(haproxy); new_haproxy=1; }
    if [ ${#test_apt[@]} -gt 0 ]; then
      log "installing test tools: ${test_apt[*]}"
      apt-get update -qq
      policy=""
      if [ "$new_haproxy" = 1 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# setup.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
        chmod 755 "$policy"
      fi
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${test_apt[@]}" >/dev/null || {
        [ -z "$policy" ] || rm -f "$policy"
        die "apt-get could not install ${test_apt[*]}"
      }
      [ -z "$policy" ] || rm -f "$policy"
      if [ "$new_haproxy" = 1 ] && [ -d /run/systemd/system ]; then systemctl disable --now haproxy >/dev/null 2>&1 || true; fi
    fi
    use_test_venv
    # The suite runs first; the test that stops and restarts dockerd (CI only, see .ci/run) runs after it, so no other
    # test depends on an engine that a test process started. Then: did the suite leave anything behind?
    fault_test=dockerdStoppedDuringARun
    before=$(coderunner_resources)
    ready_before=$(ready_networks)
    status=0
    log "running the test suite"
    python3 .ci/test_bench.py || status=$?
    swift test --no-parallel --skip "$fault_test" || status=$?
    if [ "${CODERUNNER_DESTRUCTIVE_TESTS:-}" = 1 ]; then
      log "running the test that stops and restarts dockerd"
      swift test --no-parallel --filter "$fault_test" || status=$?
      # The dockerd that test started belongs to the test's process; replace it with one of our own.
      # By the pid it wrote (never by name: other daemons on the machine are not ours to stop).
      if dockerd_pid=$(cat /var/run/docker.pid 2>/dev/null) && [ -n "$dockerd_pid" ]; then
        kill -TERM "$dockerd_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
      fi
      start_dockerd
    fi
    log "checking that the tests left no coderunner containers, networks or volumes"
    # A one-shot run's container and network are removed by its detached keeper just after the run exits (a claimed
    # standby's too), and a keeper's unclaimed standby goes when the keeper expires, 60 s after its last run: the last
    # tests' keepers may make one once the host is idle, at the very end. Give them up to 90 s; what stays is a leak.
    for _ in $(seq 1 450); do
      leaked=$(LC_ALL=C comm -13 <(printf '%s\n' "$before") <(coderunner_resources))
      [[ $leaked == *-run-* || $leaked == *-claimed* || $leaked == *-sb-* ]] || break
      sleep 0.2
    done
    leaked=$(LC_ALL=C comm -13 <(printf '%s\n' "$before") <(coderunner_resources))
    if [ -n "$leaked" ]; then
      printf 'setup.sh: the tests left these coderunner resources behind:\n%s\n' "$leaked" >&2
      status=1
    fi
    # The session networks the tests made ready stay in the pool; they are listed, and must be removable.
    ready_left=$(LC_ALL=C comm -13 <(printf '%s\n' "$ready_before") <(ready_networks) | sed '/^$/d')
    if [ -n "$ready_left" ]; then
      log "removing the $(wc -l <<<"$ready_left") ready session network(s) the tests left in the pool"
      # shellcheck disable=SC2086
      docker network rm $ready_left >/dev/null || { printf 'setup.sh: could not remove ready networks\n' >&2; status=1; }
    fi
    # `coderunner pool` must see what Docker lists: the same containers and session networks.
    docker_counts="$(docker ps -aq --filter label=dev.coderunner.managed | wc -l) $(docker network ls -q --filter label=dev.coderunner.managed | wc -l)"
    pool_counts=$(/usr/local/bin/coderunner pool --json | python3 -c 'import json, sys; p = json.load(sys.stdin); print(p["containerCount"], p["subnetsUsed"])')
    if [ "$docker_counts" != "$pool_counts" ]; then
      printf 'setup.sh: coderunner pool counts %s containers and session networks, Docker lists %s\n' "$pool_counts" "$docker_counts" >&2
      status=1
    fi
    exit "$status"
    ;;
  bench) use_test_venv; exec "$ROOT/.ci/bench" ;;
  *) die "unknown mode '$MODE' (use: ./setup.sh [install|test|bench])" ;;
esac
