#!/usr/bin/env bash
# Installs what CodeArena needs on a Debian 12 machine, then the npm dependencies, then builds.
# As root it apt-get installs the Debian packages and creates the unprivileged sandbox user;
# as anyone else it names the packages to install and stops if one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# binary -> Debian package
declare -A NEED=(
  [/usr/bin/bwrap]=bubblewrap
  [/usr/bin/gcc]=gcc
  [/usr/bin/g++]=g++
  [/usr/bin/python3]=python3
  [/usr/bin/javac]=openjdk-17-jdk-headless
  [/usr/bin/setpriv]=util-linux
  [/usr/sbin/ip]=iproute2
  [/usr/bin/unshare]=util-linux
  [/usr/bin/arping]=iputils-arping
  [/usr/bin/chromium]=chromium
  [/usr/sbin/nginx]=nginx-light
)
missing=()
for bin in "${!NEED[@]}"; do
  [ -x "$bin" ] || missing+=("${NEED[$bin]}")
done
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ "$(id -u)" = 0 ] && ! id codearena-sbx >/dev/null 2>&1; then
  # Sandboxes started by a root Worker run as this user: a student's program never holds real
  # root's identity, even outside its namespaces.
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin codearena-sbx
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
# The blogging platform (blog/) is its own package: its own dependencies (better-sqlite3 builds from
# source here with node-gyp) and its own build.
if [ ! -d blog/node_modules ] || [ blog/package-lock.json -nt blog/node_modules/.package-lock.json ]; then
  npm --prefix blog ci --no-audit --no-fund --loglevel=error
fi
npm --prefix blog run build --silent
echo "setup: ready ($(node bin/codearena.js languages | awk '{print $1}' | paste -sd' '))"
