#!/usr/bin/env bash
# Real docker and podman engines for the test suite (tests/engines), private to this machine's
# tests: a dockerd on its own socket, a podman store of its own, and a test image built offline.
#
#   scripts/test-engines.sh start    start dockerd, configure podman, build and import the image;
#                                    write the variables the tests need to $DIR/env
#   scripts/test-engines.sh stop     stop that dockerd (the data stays, so the next start is fast)
#   scripts/test-engines.sh stop --remove   stop it, then remove DIR (what .ci/run does)
#   scripts/test-engines.sh env      print the env file's path
#
# DIR is $BOTTLE_ENGINES_DIR, else /tmp/bottle-engines. The tests find the env file through
# $BOTTLE_ENGINES_ENV, else DIR/env. Needs root, dockerd (Debian: docker.io), podman, catatonit
# and debootstrap; .ci/run installs them.
#
# The image is Debian bookworm (debootstrap --variant=minbase, from the mirror apt uses) with a
# user node (uid 1000, home /home/node), a stand-in `claude` (tests/engines/image/claude), and
# copies of this host's node and git (fetch makes a bundle in the bottle). The root filesystem
# is cached as a tar in $BOTTLE_TEST_CACHE (default /var/cache/bottle-test), keyed by
# IMAGE_VERSION, the stand-in's digest and node's version, so only the first run pays for
# debootstrap.
#
# The real Claude Code (the tests that run the agent): its npm packs fetched once into the same
# cache (BOTTLE_TEST_CLAUDE_CODE), and installed from them into $BOTTLE_TEST_OPT (default
# /opt/bottle-test) for bwrap bottles (BOTTLE_TEST_CLAUDE_CODE_OPT).
set -euo pipefail

# Bump when the image's recipe below changes (the stand-in and node are keyed by their content).
IMAGE_VERSION=3
BASE_VERSION=1

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${BOTTLE_ENGINES_DIR:-/tmp/bottle-engines}
cache=${BOTTLE_TEST_CACHE:-/var/cache/bottle-test}
say() { echo "test-engines: $*" >&2; }
die() { say "$*"; exit 1; }

docker_host="unix://$dir/docker.sock"
podman_conf="$dir/podman/containers.conf"
podman_storage="$dir/podman/storage.conf"

# The docker client on PATH may be newer than the engine (Debian's 20.10); both negotiate the API.
dockerc() { DOCKER_HOST=$docker_host docker "$@"; }
podmanc() { CONTAINERS_CONF=$podman_conf CONTAINERS_STORAGE_CONF=$podman_storage podman "$@"; }

docker_answers() { dockerc version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_dockerd() {
  if docker_answers; then say "dockerd at $docker_host already answers"; return; fi
  command -v dockerd >/dev/null || die "dockerd is not installed (Debian: apt-get install docker.io)"
  mkdir -p "$dir"
  rm -f "$dir/docker.sock"
  # vfs: no overlay mounts needed (works inside another container); no iptables, no bridge: the
  # tests need no network. Everything the daemon keeps is under DIR, and its pidfile too, so it
  # never meets the system's dockerd or another one started the same way elsewhere.
  setsid dockerd --storage-driver=vfs --iptables=false --bridge=none \
    -H "$docker_host" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  local i
  for i in $(seq 1 120); do
    docker_answers && { say "dockerd $(dockerc version --format '{{.Server.Version}}') answers at $docker_host"; return; }
    kill -0 $! 2>/dev/null || { tail -20 "$dir/dockerd.log" >&2; die "dockerd exited while starting (log: $dir/dockerd.log)"; }
    sleep 0.5
  done
  tail -20 "$dir/dockerd.log" >&2
  die "dockerd did not answer within 60 s (log: $dir/dockerd.log)"
}

stop_dockerd() {
  local pid
  pid=$(cat "$dir/dockerd.pid" 2>/dev/null) || { say "no dockerd pidfile in $dir: nothing to stop"; return; }
  kill "$pid" 2>/dev/null || { say "dockerd $pid is not running"; return; }
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { say "dockerd $pid stopped"; return; }
    sleep 0.5
  done
  say "dockerd $pid did not stop within 30 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

configure_podman() {
  command -v podman >/dev/null || die "podman is not installed (Debian: apt-get install podman catatonit)"
  local init
  init=$(command -v catatonit || true)
  [ -n "$init" ] || [ -x /usr/libexec/podman/catatonit ] || die "catatonit is not installed (podman's --init needs it: apt-get install catatonit)"
  mkdir -p "$dir/podman"
  # podman as root would share the system store (whose database may not match this podman);
  # its own graphroot and runroot keep it apart. vfs, as for dockerd.
  cat >"$podman_storage" <<EOF
[storage]
driver = "vfs"
graphroot = "$dir/podman/root"
runroot = "$dir/podman/run"
EOF
  # runc cannot raise podman's default rlimits without CAP_SYS_RESOURCE ("rlimit type 7:
  # operation not permitted"): ask for ones below the hard limit. Debian puts catatonit in
  # /usr/bin, not where podman looks for --init's binary by default.
  cat >"$podman_conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:4096", "nproc=1024:4096"]
${init:+init_path = \"$init\"}

[engine]
events_logger = "file"
tmp_dir = "$dir/podman/tmp"
EOF
  podmanc info --format '{{.Version.Version}}' >/dev/null || die "podman does not run with $podman_conf and $podman_storage"
}

# --- the image ------------------------------------------------------------------------------

# The mirror apt already uses (deb822 or one-line sources), else deb.debian.org.
debian_mirror() {
  local m
  m=$( (sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\?[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null
        sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)\/\?[[:space:]].*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null) | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}

base_tar() {
  local tar="$cache/base-bookworm-minbase-$BASE_VERSION.tar"
  if [ ! -s "$tar" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    local root="$cache/base.$$" mirror
    mirror=$(debian_mirror)
    mkdir -p "$cache"
    say "debootstrap --variant=minbase bookworm from $mirror (about a minute; cached as $tar)"
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { tail -20 "$cache/debootstrap.log" >&2; rm -rf "$root"; die "debootstrap failed (log: $cache/debootstrap.log)"; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$root"
  fi
  echo "$tar"
}

node_bin=$(command -v node || true)
image_key() {
  local agent node_version
  agent=$(sha256sum "$repo/tests/engines/image/claude" | cut -c1-12)
  node_version=$("$node_bin" --version)
  echo "$IMAGE_VERSION-$agent-node${node_version#v}"
}

image_tar() {
  local key=$1 tar="$cache/image-$1.tar"
  if [ ! -s "$tar" ]; then
    local base root="$cache/image.$$"
    base=$(base_tar)
    say "building the test image's root filesystem ($tar)"
    rm -rf "$root" && mkdir -p "$root"
    tar -C "$root" -xf "$base"
    # vfs copies the whole image for every container: leave out what no test reads.
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
    # The bottles' default user, as in the node images: uid and gid 1000, home /home/node.
    chroot "$root" groupadd --gid 1000 node
    chroot "$root" useradd --uid 1000 --gid node --create-home --home-dir /home/node --shell /bin/bash node
    install -m 755 "$repo/tests/engines/image/claude" "$root/usr/local/bin/claude"
    # The host's node (a single executable from NodeSource or Debian's; minbase has its libraries).
    install -m 755 "$node_bin" "$root/usr/local/bin/node"
    env -i "$(command -v chroot)" "$root" /usr/local/bin/node -e 'process.exit(0)' \
      || { rm -rf "$root"; die "the host's node ($node_bin) does not run in the image"; }
    # The host's git, for fetch's bundle: one executable (its subcommands are built in, and it
    # finds itself on PATH for the ones it runs as processes); minbase has its libraries (pcre2,
    # zlib). Copied rather than installed, so the image still builds with no network.
    local git_bin
    git_bin=$(command -v git) || { rm -rf "$root"; die "git is not on PATH"; }
    install -m 755 "$git_bin" "$root/usr/local/bin/git"
    env -i "$(command -v chroot)" "$root" /usr/local/bin/git --version >/dev/null \
      || { rm -rf "$root"; die "the host's git ($git_bin) does not run in the image"; }
    tar -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$root"
    # Older recipes' tars are of no further use.
    find "$cache" -maxdepth 1 -name 'image-*.tar' ! -name "image-$key.tar" -delete
  fi
  echo "$tar"
}

import_images() {
  [ -n "$node_bin" ] || die "node is not on PATH"
  local key tar
  key=$(image_key)
  docker_image="bottle-test:$key"
  podman_image="localhost/bottle-test:$key"
  if dockerc image inspect "$docker_image" >/dev/null 2>&1 && podmanc image exists "$podman_image"; then
    say "images $docker_image and $podman_image are there"
    return
  fi
  tar=$(image_tar "$key")
  dockerc image inspect "$docker_image" >/dev/null 2>&1 || { dockerc import - "$docker_image" <"$tar" >/dev/null && say "imported $docker_image into docker"; }
  podmanc image exists "$podman_image" || { podmanc import -q - "$podman_image" <"$tar" >/dev/null && say "imported $podman_image into podman"; }
}

# --- the real agent ------------------------------------------------------------------------

# The real Claude Code, for the tests that run it (issue 14's provision, issue 13's door): the
# npm packs of the wrapper package and its linux-x64 native package, cached, and installed from
# those packs into a prefix in the cache (proof that the packs install offline). 2.1.197 is a
# release whose wrapper still says node >= 18 (later ones say >= 22); the agent itself is the
# native binary, so the host's node version does not matter to it.
CLAUDE_CODE_VERSION=2.1.197
claude_code() {
  local base="$cache/claude-code-$CLAUDE_CODE_VERSION"
  if [ ! -x "$base/prefix/bin/claude" ]; then
    say "fetching @anthropic-ai/claude-code $CLAUDE_CODE_VERSION from npm (about 80 MB; cached in $base)"
    rm -rf "$base.tmp" && mkdir -p "$base.tmp/packs"
    (cd "$base.tmp/packs" && npm pack --silent "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" \
      "@anthropic-ai/claude-code-linux-x64@$CLAUDE_CODE_VERSION" >/dev/null) \
      || { rm -rf "$base.tmp"; die "npm pack @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION failed"; }
    # From the packs alone, as a bottle without network would: the wrapper's postinstall finds
    # the native package beside it and puts its binary in place.
    npm install --silent --global --offline --no-audit --no-fund --prefix "$base.tmp/prefix" "$base.tmp"/packs/*.tgz >/dev/null \
      || { rm -rf "$base.tmp"; die "installing claude-code from its packs failed"; }
    "$base.tmp/prefix/bin/claude" --version >/dev/null || { rm -rf "$base.tmp"; die "the installed claude does not run"; }
    rm -rf "$base" && mv "$base.tmp" "$base"
    # A move breaks no path inside: npm's bin links are relative.
  fi
  claude_code_dir=$base
  claude_code_opt
}

# bwrap bottles see the host's /usr, /etc and /opt, never /var (src/backends/bwrap-host.ts), so the
# copy they run is installed as a user installs a tool for every bottle on a host: from the same
# packs, offline, into its own prefix under /opt (`npm install -g --prefix`), off every default
# PATH; a test puts PREFIX/bin on the bottle's PATH through the bottle's env.
claude_code_opt() {
  local prefix="${BOTTLE_TEST_OPT:-/opt/bottle-test}/claude-code-$CLAUDE_CODE_VERSION"
  if [ ! -x "$prefix/bin/claude" ]; then
    say "installing claude-code $CLAUDE_CODE_VERSION into $prefix (for bwrap bottles)"
    rm -rf "$prefix.tmp" && mkdir -p "$prefix.tmp"
    npm install --silent --global --offline --no-audit --no-fund --prefix "$prefix.tmp" "$claude_code_dir"/packs/*.tgz >/dev/null \
      || { rm -rf "$prefix.tmp"; die "installing claude-code into $prefix failed"; }
    "$prefix.tmp/bin/claude" --version >/dev/null || { rm -rf "$prefix.tmp"; die "the claude in $prefix does not run"; }
    # Readable by every user: a bottle runs as its own uid.
    chmod -R a+rX "$prefix.tmp"
    rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
  fi
  claude_code_opt_dir=$prefix
}

write_env() {
  cat >"$dir/env.tmp" <<EOF
DOCKER_HOST=$docker_host
CONTAINERS_CONF=$podman_conf
CONTAINERS_STORAGE_CONF=$podman_storage
BOTTLE_TEST_DOCKER_IMAGE=$docker_image
BOTTLE_TEST_PODMAN_IMAGE=$podman_image
BOTTLE_TEST_CLAUDE_CODE=$claude_code_dir
BOTTLE_TEST_CLAUDE_CODE_OPT=$claude_code_opt_dir
EOF
  mv "$dir/env.tmp" "$dir/env"
  say "the tests' env is in $dir/env"
}

case "${1:-}" in
  start)
    [ "$(id -u)" -eq 0 ] || die "needs root (dockerd, podman's own store, debootstrap)"
    start_dockerd
    configure_podman
    import_images
    claude_code
    write_env
    ;;
  stop)
    stop_dockerd
    if [ "${2:-}" = --remove ] && [ -d "$dir" ]; then
      # dockerd leaves its default network namespace bound at EXEC/netns/default when it stops: that
      # one mount is its own, so it goes; anything else mounted keeps the directory in place.
      if findmnt -rn -o TARGET | grep -qx "$dir/exec/netns/default"; then umount "$dir/exec/netns/default" || true; fi
      # Only a directory nothing is mounted under: rm -rf through a live mount would reach into it.
      if findmnt -rn -o TARGET | grep -q "^$dir/"; then
        say "something is still mounted under $dir: left in place"
      else
        rm -rf "$dir" && say "removed $dir"
      fi
    fi
    ;;
  env) echo "$dir/env" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
