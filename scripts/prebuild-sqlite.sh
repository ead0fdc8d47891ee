#!/usr/bin/env bash
# Builds the installed better-sqlite3 (node_modules/better-sqlite3) for one Node runtime into the folder of local
# prebuilds that better-sqlite3's own installer (prebuild-install) reads when npm_config_better_sqlite3_local_prebuilds
# names it, so that `npm ci` or `npm rebuild better-sqlite3` on that runtime unpacks it in seconds instead of compiling
# SQLite again (about 70 s a runtime on 2 cores). Prints the prebuild's path; a second call finds it built.
# Usage: scripts/prebuild-sqlite.sh NODE_DIR PREBUILDS_DIR   (NODE_DIR as scripts/install-node.sh prints it; the
# machine's own Node when NODE_DIR is "machine"). With --from-installed, packs what node_modules holds (built for the
# current `node`) without compiling.
set -euo pipefail
cd "$(dirname "$0")/.."
from_installed=false
if [ "${1:-}" = --from-installed ]; then from_installed=true; shift; fi
node_dir=${1:?usage: prebuild-sqlite.sh [--from-installed] NODE_DIR|machine PREBUILDS_DIR}
prebuilds=${2:?usage: prebuild-sqlite.sh [--from-installed] NODE_DIR|machine PREBUILDS_DIR}
if [ "$node_dir" != machine ]; then
  export PATH=$node_dir/bin:$PATH npm_config_nodedir=$node_dir
fi
module=node_modules/better-sqlite3
version=$(node -p "require('./$module/package.json').version")
abi=$(node -p process.versions.modules)
# The name prebuild-install looks for: {name}-v{version}-{runtime}-v{abi}-{platform}-{arch}.tar.gz
name=better-sqlite3-v$version-node-v$abi-$(node -p "process.platform + '-' + process.arch").tar.gz
if [ -s "$prebuilds/$name" ]; then
  echo "$prebuilds/$name"
  exit 0
fi
mkdir -p "$prebuilds"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ "$from_installed" = true ]; then
  mkdir -p "$scratch/build/Release"
  cp "$module/build/Release/better_sqlite3.node" "$scratch/build/Release/"
else
  # A copy of the package, so that the installed binary (another runtime's) stays as it is while this one builds.
  cp -r "$module/." "$scratch"
  rm -rf "$scratch/build"
  (cd "$scratch" && npm run --silent build-release >/dev/null 2>&1) || { echo "prebuild-sqlite.sh: the build for node $(node --version) failed" >&2; exit 1; }
fi
node -e "require(process.argv[1])" "$scratch/build/Release/better_sqlite3.node"
tar -czf "$scratch/$name" -C "$scratch" build/Release/better_sqlite3.node
mv "$scratch/$name" "$prebuilds/$name"
echo "$prebuilds/$name"
