#!/usr/bin/env bash
# Independent-client check of keyward with Lodestar's external-signer client, Lodestar's own
# signing-root computation and @chainsafe/blst verification.
#
# Usage: test/lodestar/run.sh PATH/TO/keyward
#   e.g. go build -o /tmp/keyward ./cmd/keyward && test/lodestar/run.sh /tmp/keyward
#
# Starts `keyward demo --network mainnet --keys 8` on a free loopback port, waits for /upcheck,
# runs `node --test test/lodestar/` against it, and always stops the demo. Exit status = the test's.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
client_test_setup "$@" "$HERE"

# --- free loopback port ------------------------------------------------------------------------
PORT=$(node -e '
  const s = require("net").createServer();
  s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
')
URL="http://127.0.0.1:$PORT"

demo_cleanup_on_exit lodestar # sets LOG; stops the demo in DEMO_PID on exit

# --- start the demo signer ---------------------------------------------------------------------
echo "run.sh: starting $BIN demo --network mainnet --keys 8 --confinement full --eth-listen 127.0.0.1:$PORT" >&2
"$BIN" demo --network mainnet --keys 8 --confinement full --eth-listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
DEMO_PID=$!

up=0
for _ in $(seq 1 120); do # 120 x 0.5 s = 60 s
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then
    echo "run.sh: keyward demo exited before answering /upcheck; its log:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  code=$(node -e '
    fetch(process.argv[1]).then(r => console.log(r.status), () => console.log(0));
  ' "$URL/upcheck" 2>/dev/null || echo 0)
  if [[ "$code" == "200" ]]; then up=1; break; fi
  sleep 0.5
done
if [[ $up -ne 1 ]]; then
  echo "run.sh: keyward did not answer 200 on $URL/upcheck within 60 s; its log:" >&2
  cat "$LOG" >&2
  exit 1
fi

# --- run the test ------------------------------------------------------------------------------
set +e
(cd "$HERE/../.." && KEYWARD_URL="$URL" node --test test/lodestar/)
status=$?
set -e
exit "$status"
