#!/usr/bin/env bash
# Independent-client check of keyward's Tezos remote-signer API with Taquito's RemoteSigner,
# verifySignature and LocalForger, and @noble/curves for tz4 (BLS) signatures.
#
# Usage: test/taquito/run.sh PATH/TO/keyward
#   e.g. go build -o /tmp/keyward ./cmd/keyward && test/taquito/run.sh /tmp/keyward
#
# Starts `keyward demo --confinement full` with both listeners on free loopback ports, waits
# for GET /known_keys on the Tezos listener, runs `node --test test/taquito/signer.test.mjs`
# against it, and always stops the demo. Exit status = the test's.
# KEYWARD_TEZOS_CHAIN_ID (optional) is passed through to the test (default: mainnet).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
client_test_setup "$@" "$HERE"

# --- two free loopback ports (held together so they differ) ------------------------------------
read -r ETH_PORT TEZOS_PORT < <(node -e '
  const net = require("net");
  const a = net.createServer(), b = net.createServer();
  a.listen(0, "127.0.0.1", () => b.listen(0, "127.0.0.1", () => {
    console.log(a.address().port + " " + b.address().port);
    a.close(); b.close();
  }));
')
URL="http://127.0.0.1:$TEZOS_PORT"

demo_cleanup_on_exit taquito # sets LOG; stops the demo in DEMO_PID on exit

# --- start the demo signer ---------------------------------------------------------------------
ARGS=(demo --confinement full --eth-listen "127.0.0.1:$ETH_PORT" --tezos-listen "127.0.0.1:$TEZOS_PORT")
echo "run.sh: starting $BIN ${ARGS[*]}" >&2
"$BIN" "${ARGS[@]}" >"$LOG" 2>&1 &
DEMO_PID=$!

up=0
for _ in $(seq 1 120); do # 120 x 0.5 s = 60 s
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then
    echo "run.sh: keyward demo exited before answering GET /known_keys; its log:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  code=$(node -e '
    fetch(process.argv[1]).then(r => console.log(r.status), () => console.log(0));
  ' "$URL/known_keys" 2>/dev/null || echo 0)
  if [[ "$code" == "200" ]]; then up=1; break; fi
  sleep 0.5
done
if [[ $up -ne 1 ]]; then
  echo "run.sh: keyward did not answer 200 on $URL/known_keys within 60 s; its log:" >&2
  cat "$LOG" >&2
  exit 1
fi

# --- run the test ------------------------------------------------------------------------------
set +e
(cd "$HERE/../.." && KEYWARD_TEZOS_URL="$URL" node --test test/taquito/signer.test.mjs)
status=$?
set -e
if [[ $status -ne 0 ]]; then
  echo "run.sh: test failed; keyward demo log:" >&2
  cat "$LOG" >&2
fi
exit "$status"
