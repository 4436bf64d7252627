#!/bin/sh
# run.sh FUZZER ARGS...: runs one libFuzzer target quietly. On failure it prints the end of the
# log (the sanitizer report and the crashing input) instead of thousands of progress lines.
log=$(mktemp)
"$@" >"$log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
  tail -n 80 "$log"
else
  grep -E '^(INFO: seed corpus|Done [0-9]+ runs)' "$log"
fi
rm -f "$log"
exit "$rc"
