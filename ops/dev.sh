#!/usr/bin/env bash
# README command 1: installs what is missing (ops/deps.sh), builds hookstream, starts the local
# stack (`hookstream dev up`: broker, Postgres, Redis, schema registry, ingest and deliver),
# sends a few typed demo events and reads them back decoded, then prints the URLs.
#
#   ./ops/dev.sh          set up, start, demo
#   ./ops/dev.sh status   each part of the stack, its pid, address and state
#   ./ops/dev.sh down     stop the stack (add --purge to also delete its directory)
#
# Environment: HS_DEV_DIR (stack directory, default .hookstream in the repository),
# HS_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${HS_BUILD_DIR:-build}
dev_dir=${HS_DEV_DIR:-.hookstream}
hs=$build/hookstream

need_binary() {
  [[ -x $hs ]] && return
  echo "dev.sh: $hs is not built yet; run ./ops/dev.sh first" >&2
  exit 1
}

case "${1:-up}" in
  up) ;;
  down) need_binary; exec "$hs" dev down --dir "$dev_dir" "${@:2}" ;;
  status) need_binary; exec "$hs" dev status --dir "$dev_dir" ;;
  -h | --help | help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "usage: ./ops/dev.sh [up|status|down [--purge]]" >&2; exit 2 ;;
esac

./ops/deps.sh

echo "==> building $build"
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" -j2 --target hookstream


"$hs" dev up --dir "$dev_dir"
# shellcheck disable=SC1091
source "$dev_dir/env"

echo
echo "==> demo: a few typed events, produced and read back decoded"
for type in order.placed customer.created payment.succeeded inventory.low; do
  "$hs" produce --type "$type" "$(jq -c . "tests/data/avro/$type/input.json")" >/dev/null
  echo "  produced $type"
done
events=$("$hs" consume hs.events.orders hs.events.customers hs.events.payments \
  hs.events.inventory --since 5m --exit-at-end)
echo "  $(wc -l <<<"$events") event(s) on the topics in the last 5 minutes; the newest ones:"
tail -n 3 <<<"$events" | jq -r '"  \(.topic) [\(.partition)@\(.offset)] \(.type) key=\(.key) "
  + (.value | tostring | .[0:70]) + "..."'

echo
echo "==> hookstream is running"
while IFS='=' read -r name value; do
  name=${name#export }
  value=${value//\'/}
  # a secret stays in the env file rather than in the terminal's scrollback
  [[ $name == HS_DELIVER_TOKEN ]] && value="(admin token, in $dev_dir/env)"
  printf '  %-22s %s\n' "$name" "$value"
  if [[ $value == http://* && $name != HS_DEV_DIR ]]; then
    printf '  %-22s %s/metrics\n' "" "$value"
  fi
done < <(grep '^export ' "$dev_dir/env")
bin_dir=$build
[[ $bin_dir == /* ]] || bin_dir="\$PWD/$build"
cat <<MSG

  use it from a shell:  source $dev_dir/env; export PATH=$bin_dir:\$PATH
  read events:          hookstream consume hs.events.orders --from beginning --exit-at-end
  subscribe a receiver: hookstream endpoints add --url http://127.0.0.1:9999/hook --events 'order.*'
                        (a receiver to try it with: README, "Subscribe an endpoint")
  see the stack:        ./ops/dev.sh status

stop with ./ops/dev.sh down
MSG
