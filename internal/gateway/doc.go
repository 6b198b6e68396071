// Package gateway is keyward's network-facing compartment: the HTTP APIs, limits, metrics,
// health and logs. It holds no key and cannot sign: it turns untrusted JSON into typed
// requests (package gateway/eth2json), forwards them to the core over the wire protocol,
// and maps the core's typed answers to each API's status codes and error shapes (Inv 8).
//
// It must not import the packages that hold keys or sign (keys, core, secmem, protect,
// sandbox, blst); imports_test.go fails the build if it does. A compromised gateway can
// therefore send the core any request, but the core decides (Inv 2–6).
//
// Clients are authenticated before any signing route runs (auth.go, clients.go): a bearer
// token whose SHA-256 is in clients.toml, or the loopback client, decided by the
// connection's source address and never by a header; 401 otherwise. Each client is scoped
// to key patterns and operation kinds (403 with the reason). Authentication has no "off"
// value: Options.Clients is required.
//
// Limits are explicit: request bodies are bounded (http.MaxBytesReader), the server has
// read, write and idle timeouts, and signing requests in flight are bounded; beyond the
// bound the gateway answers 503 at once (never an unbounded queue).
package gateway
