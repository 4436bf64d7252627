#!/usr/bin/env bash
# `hookstream dev up | status | down` like a user: a stack of its own in a temporary directory
# (not the one ops/test.sh started), its addresses reachable with psql, redis-cli, curl and kcat,
# idempotent up and down, and the bad cases: a busy port, missing binaries, a part that fails.
# deliver runs with keys generated once into D/deliver.secrets (0600, kept across down/up) and
# `hookstream endpoints` works with nothing but D/env.
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
cleanup() {
    for dir in "$tmp"/*/; do "$HOOKSTREAM" dev down --dir "$dir" >/dev/null 2>&1; done
    [ -n "${listener:-}" ] && kill "$listener" 2>/dev/null
    [ -n "${sleeper:-}" ] && kill "$sleeper" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
d=$tmp/stack
parts="broker redis postgres registry ingest deliver workflows invalidator analytics"
# Prometheus is a part only where it is installed (dev.prometheus).
has_prometheus=0
command -v prometheus >/dev/null && has_prometheus=1 && parts="$parts prometheus"

# alive PID: the process exists and is not a zombie waiting for a parent that does not reap
alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pids() { for p in $parts; do cat "$d/run/$p.pid" 2>/dev/null || echo none; done; }

# --- usage ---
expect_rc 2 "dev without a subcommand" -- "$HOOKSTREAM" dev
expect_rc 2 "unknown subcommand" -- "$HOOKSTREAM" dev sideways
expect_match "$ERR" "'sideways' is not a subcommand" "unknown subcommand is named"
expect_rc 2 "--purge outside down" -- "$HOOKSTREAM" dev status --purge
expect_rc 0 "dev --help" -- "$HOOKSTREAM" dev --help
expect_match "$OUT" "usage: hookstream dev up" "help shows the usage"

# --- up ---
expect_rc 0 "dev up" -- "$HOOKSTREAM" dev up --dir "$d"
for want in "kafka bootstrap +127\.0\.0\.1:[0-9]+" "postgresql://postgres@127\.0\.0\.1:[0-9]+/hookstream" \
    "redis://127\.0\.0\.1:[0-9]+" "schema registry +http://127\.0\.0\.1:[0-9]+" \
    "http://127\.0\.0\.1:[0-9]+/metrics \(registry\)" "http://127\.0\.0\.1:[0-9]+/metrics \(broker\)" \
    "deliver admin API +http://127\.0\.0\.1:[0-9]+" "http://127\.0\.0\.1:[0-9]+/metrics \(deliver\)" \
    "workflows API +http://127\.0\.0\.1:[0-9]+" "http://127\.0\.0\.1:[0-9]+/metrics \(workflows\)" \
    "deliver +ready in .*new master key and tokens in deliver\.secrets" \
    "source $d/env" "hookstream dev down"; do
    expect_match "$OUT" "$want" "up prints /$want/"
done
for p in $parts; do expect_match "$OUT" "  $p +ready in" "up reports $p ready"; done
[ -f "$d/env" ] && pass "env written" || fail "no $d/env"
if ((has_prometheus)); then
    expect_match "$OUT" "prometheus +http://127\.0\.0\.1:[0-9]+" "up prints Prometheus's address"
    expect_match "$(cat "$d/env")" "^export HS_PROMETHEUS_URL=" "env exports HS_PROMETHEUS_URL"
    for p in broker registry ingest deliver workflows invalidator analytics; do
        expect_match "$(cat "$d/prometheus/targets/$p.json" 2>&1)" "\"job\": \"$p\"" "a scrape target for $p"
    done
    expect_match "$(cat "$d/prometheus/prometheus.yml")" "scrape_interval: 2000ms" "the dev scrape interval"
fi
for var in HS_KAFKA_BROKERS HS_POSTGRES_DSN HS_REDIS_URL HS_REGISTRY_URL HS_BROKER_CONTROL_URL \
    HS_WEBHOOKS_URL HS_DELIVER_URL HS_DELIVER_TOKEN; do
    expect_match "$(cat "$d/env")" "^export $var=" "env exports $var"
done

[ "$(stat -c %a "$d/env")" = 600 ] && pass "env (it holds the admin token) is 0600" ||
    fail "env mode $(stat -c %a "$d/env")"
[ "$(stat -c %a "$d/deliver.secrets")" = 600 ] && pass "deliver.secrets is 0600" ||
    fail "deliver.secrets mode $(stat -c %a "$d/deliver.secrets")"
secrets=$(cat "$d/deliver.secrets")
expect_match "$secrets" "^master_key=[0-9a-f]{64}$" "a 32-byte master key"
key=$(sed -n 's/^master_key=//p' "$d/deliver.secrets")
grep -q "$key" "/proc/$(cat "$d/run/deliver.pid")/cmdline" && fail "the master key is on a command line" ||
    pass "the master key is not on deliver's command line"
expect_rc 0 "status with everything up" -- "$HOOKSTREAM" dev status --dir "$d"
for p in $parts; do expect_match "$OUT" "^$p +[0-9]+ +ready " "status shows $p ready"; done

before=$(pids)
expect_rc 0 "second up" -- "$HOOKSTREAM" dev up --dir "$d"
expect_match "$OUT" "already up" "second up says already up"
[ "$(pids)" = "$before" ] && pass "second up kept the same processes" ||
    fail "pids changed: $before -> $(pids)"

# --- a part that died: status says so, up starts the stack again ---
kill -9 "$(cat "$d/run/redis.pid")"
for _ in $(seq 50); do alive "$(cat "$d/run/redis.pid")" || break; sleep 0.1; done
expect_rc 1 "status with redis dead" -- "$HOOKSTREAM" dev status --dir "$d"
expect_match "$OUT" "^redis +- +down" "status shows redis down"
expect_rc 0 "up with a part down" -- "$HOOKSTREAM" dev up --dir "$d"
expect_match "$OUT" "partly up" "up says the stack was partly up"
expect_rc 0 "status after the restart" -- "$HOOKSTREAM" dev status --dir "$d"
before=$(pids)

# --- the addresses work with the usual tools ---
(
    source "$d/env"
    expect_rc 0 "psql" -- psql "$HS_POSTGRES_DSN" -tAc "SELECT count(*) > 0 FROM schema_migrations"
    expect_match "$OUT" "^t$" "migrations were applied"
    psql -q "$HS_POSTGRES_DSN" -c "CREATE TABLE dev_stack_probe (x int)" || fail "create table"
    expect_rc 0 "redis-cli" -- redis-cli -u "$HS_REDIS_URL" ping
    expect_match "$OUT" "PONG" "redis answers PING"
    expect_rc 0 "registry subjects" -- curl -sf "$HS_REGISTRY_URL/subjects"
    expect_match "$OUT" "hs\.events\.orders-hookstream\.orders\.OrderPlaced" "built-in schemas registered"
    expect_rc 0 "registry metrics" -- curl -sf "$HS_REGISTRY_URL/metrics"
    expect_match "$OUT" "^# TYPE " "registry serves Prometheus text"
    expect_rc 0 "broker control healthz" -- curl -sf "$HS_BROKER_CONTROL_URL/healthz"
    expect_rc 0 "kcat metadata" -- kcat -b "$HS_KAFKA_BROKERS" -L -t hs.events.orders -m 5
    expect_match "$OUT" 'topic "hs\.events\.orders"' "broker has hs.events.orders"
    expect_rc 0 "deliver readyz" -- curl -sf "$HS_DELIVER_URL/readyz"
    expect_rc 0 "endpoints list with D/env alone" -- "$HOOKSTREAM" endpoints list
    expect_match "$OUT" "^ID +STATE +EVENTS +URL" "endpoints list prints its table"
    expect_rc 0 "endpoints add to a local receiver" -- "$HOOKSTREAM" endpoints add \
        --url http://127.0.0.1:9/hook --events 'order.*' --json
    jq -r .id <<<"$OUT" >"$tmp/endpoint"
    expect_rc 1 "endpoints list with a wrong token" -- "$HOOKSTREAM" endpoints list --token wrong
    expect_match "$ERR" "401" "a wrong token is refused with 401"
    exit "$E2E_FAILS"
) || E2E_FAILS=$?

# --- down ---
ports=$(grep -Eo '127\.0\.0\.1:[0-9]+' "$d/env" | cut -d: -f2 | sort -u)
expect_rc 0 "dev down" -- "$HOOKSTREAM" dev down --dir "$d"
for p in $parts; do expect_match "$OUT" "stopped $p" "down stops $p"; done
for pid in $before; do alive "$pid" && fail "pid $pid still running after down"; done
for port in $ports; do listening "$port" && fail "port $port still listening after down"; done
pass "processes gone and ports free"
[ -z "$(ls "$d/run")" ] && pass "pid files removed" || fail "left in run/: $(ls "$d/run")"
expect_rc 0 "down again" -- "$HOOKSTREAM" dev down --dir "$d"
expect_match "$OUT" "nothing is running in $d" "down again says nothing is running"
expect_rc 3 "status with nothing up" -- "$HOOKSTREAM" dev status --dir "$d"

# A pid file naming someone else's process (pid reuse) is removed, and the process left alone.
sleep 300 & sleeper=$!
echo "$sleeper" >"$d/run/redis.pid"
expect_rc 3 "status does not take a foreign process for redis" -- "$HOOKSTREAM" dev status --dir "$d"
expect_rc 0 "down with a foreign pid" -- "$HOOKSTREAM" dev down --dir "$d"
alive "$sleeper" && pass "foreign process left alone" || fail "down killed a process it did not start"
[ ! -e "$d/run/redis.pid" ] && pass "stale pid file removed" || fail "stale pid file kept"

# --- up again: the Postgres cluster is kept ---
expect_rc 0 "up again" -- "$HOOKSTREAM" dev up --dir "$d"
if grep -q initdb <<<"$OUT"; then fail "initdb ran again"; else pass "cluster reused"; fi
if grep -q "new master key" <<<"$OUT"; then fail "deliver secrets made again"; else
    pass "deliver secrets reused"; fi
[ "$(cat "$d/deliver.secrets")" = "$secrets" ] && pass "deliver.secrets unchanged" ||
    fail "deliver.secrets changed across down/up"
expect_rc 0 "table survived" -- bash -c "source '$d/env' && psql -tAc 'SELECT 1 FROM dev_stack_probe LIMIT 1' \"\$HS_POSTGRES_DSN\""
expect_rc 0 "the endpoint survived with its token" -- bash -c "source '$d/env' && '$HOOKSTREAM' endpoints show $(cat "$tmp/endpoint")"
expect_match "$OUT" "127\.0\.0\.1:9/hook" "endpoint shown after down/up"
# A damaged secrets file stops up (new keys would orphan the endpoints' encrypted secrets).
expect_rc 0 "down before damaging the secrets" -- "$HOOKSTREAM" dev down --dir "$d"
sed -i 's/^master_key=.*/master_key=short/' "$d/deliver.secrets"
expect_rc 1 "up with a damaged deliver.secrets" -- "$HOOKSTREAM" dev up --dir "$d"
expect_match "$ERR" "deliver\.secrets: master_key is missing or not 64 lowercase hex digits" \
    "the damaged file and field are named"
expect_rc 3 "nothing left running after the damaged secrets" -- "$HOOKSTREAM" dev status --dir "$d"
expect_rc 0 "down --purge" -- "$HOOKSTREAM" dev down --purge --dir "$d"
[ ! -e "$d" ] && pass "purge removed the directory" || fail "$d still exists"
mkdir -p "$tmp/notours" && touch "$tmp/notours/keep"
expect_rc 0 "purge of a directory up never made" -- "$HOOKSTREAM" dev down --purge --dir "$tmp/notours"
[ -e "$tmp/notours/keep" ] && pass "foreign directory kept" || fail "purge deleted a foreign directory"

# --- a configured port that is taken ---
busy=$(free_port)
/usr/bin/python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$busy)); s.listen(); time.sleep(300)" &
listener=$!
for _ in $(seq 50); do listening "$busy" && break; sleep 0.1; done
expect_rc 1 "up with a busy port" -- "$HOOKSTREAM" dev up --dir "$tmp/busy" --set dev.pg_port="$busy"
expect_match "$ERR" "port $busy \(postgres\) is in use" "the busy port is named"
expect_rc 3 "nothing started" -- "$HOOKSTREAM" dev status --dir "$tmp/busy"
[ -z "$(ls "$tmp/busy/run" 2>/dev/null)" ] && pass "no pid files" || fail "pid files left"

# --- missing binaries ---
expect_rc 1 "missing postgres binaries" -- "$HOOKSTREAM" dev up --dir "$tmp/nopg" --set dev.pg_bindir="$tmp/none"
expect_match "$ERR" "postgresql-15.*ops/deps.sh" "message names the package and deps.sh"
expect_rc 1 "missing redis" -- "$HOOKSTREAM" dev up --dir "$tmp/nored" --set dev.redis_server="$tmp/none/redis-server"
expect_match "$ERR" "package redis-server" "message names the redis package"

# Prometheus missing is no failure: the part is off, with how to get it.
expect_rc 3 "status where prometheus is not installed" -- "$HOOKSTREAM" dev status --dir "$tmp/noprom" \
    --set dev.prometheus="$tmp/none/prometheus"
expect_match "$OUT" "^prometheus +- +off +- .*Debian package prometheus" "status shows prometheus off and how to get it"
expect_match "$OUT" "^cache-proxy +- +off +- .*dev\.cache_upstream is not set" "cache-proxy is off without an upstream"
if ((has_prometheus)); then
    expect_rc 1 "up with a bad scrape interval" -- "$HOOKSTREAM" dev up --dir "$tmp/badiv" \
        --set dev.prometheus_scrape_interval=fast
    expect_match "$ERR" "dev\.prometheus_scrape_interval: 'fast' is not a duration" "the bad interval is named"
    expect_rc 3 "nothing started with a bad interval" -- "$HOOKSTREAM" dev status --dir "$tmp/badiv"
fi

# --- a part that fails: named, its log shown, what was started is stopped ---
mkdir -p "$tmp/fakepg" && chmod 755 "$tmp" "$tmp/fakepg"
printf '#!/bin/sh\necho "initdb: disk on fire" >&2\nexit 1\n' >"$tmp/fakepg/initdb"
cp "$tmp/fakepg/initdb" "$tmp/fakepg/postgres" && chmod 755 "$tmp/fakepg"/*
expect_rc 1 "a part that fails" -- "$HOOKSTREAM" dev up --dir "$tmp/fail" --set dev.pg_bindir="$tmp/fakepg"
expect_match "$ERR" "postgres: .*initdb.* exited with status 1" "failing part and step are named"
expect_match "$ERR" "disk on fire" "its log is shown"
expect_rc 3 "nothing left running" -- "$HOOKSTREAM" dev status --dir "$tmp/fail"
if pgrep -f -- "--bootstrap-file $tmp/fail/" >/dev/null; then fail "broker left running"; else
    pass "broker stopped after the failure"; fi
left=""
for p in $(pgrep -x redis-server); do
    [[ $(readlink "/proc/$p/cwd") == "$tmp/fail/"* ]] && left="$left $p"
done
[ -z "$left" ] && pass "redis stopped after the failure" || fail "redis left running:$left"
finish
