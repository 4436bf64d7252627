#!/usr/bin/env bash
# Installs the Debian 12 packages hookstream needs to build, test and run its dev stack.
# Idempotent and non-interactive: asks dpkg which packages are missing and runs apt-get only
# for those, so on a ready machine it does not touch apt at all. Root runs apt-get directly;
# anyone else goes through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  librdkafka-dev libavro-dev libpq-dev libjansson-dev libcurl4-openssl-dev libssl-dev
  libmicrohttpd-dev libhiredis-dev libfyaml-dev libxxhash-dev uuid-dev libcriterion-dev
  postgresql-15 postgresql-client-15 redis-server prometheus
  kcat curl jq wrk
  python3 python3-confluent-kafka python3-avro
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages are installed"
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "deps: missing ${missing[*]}; run this script as root or install sudo" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps: installed ${#missing[@]} package(s)"
