// Independent-client test for keyward's Tezos remote-signer API (the octez-signer HTTP protocol).
//
// The side under test is keyward (at KEYWARD_TEZOS_URL). Everything used to *check* it is
// third-party code or hand-built bytes:
//   - tz1/tz2/tz3 requests go through Taquito's RemoteSigner (@taquito/remote-signer 21.0.0),
//     which itself checks pkh(public key) and verifies every signature it gets back; each
//     signature is then verified again with verifySignature (@taquito/utils 21.0.5) and, for
//     the ECDSA curves, with @noble/curves over blake2b-256 (secp256k1 with the low-S rule that
//     octez enforces);
//   - tz4 (BLS12-381) requests are plain HTTP, because RemoteSigner does not accept BLsig; the
//     BLsig is checked with @noble/curves (min-pk, POP ciphersuite, message = the raw payload);
//   - payloads are Tenderbake block headers (0x11), preattestations (0x12), attestations and
//     attestations with DAL (0x13), BLS-mode (pre)attestations for tz4, built by hand in
//     payloads.mjs and cross-checked against Taquito's LocalForger where it knows the operation;
//     the generic transfer (0x03) is forged by LocalForger.
// Also checked: high watermark refusals (409), the cached signature for identical bytes, policy
// refusals (403), unknown keys (404), malformed bodies (400), all as Tezos error JSON; ?version=
// (tz4: 1 -> AUG, 2/3 -> POP); GET /bls_prove_possession; concurrent conflicting requests.
//
// Env: KEYWARD_TEZOS_URL (required), e.g. http://127.0.0.1:6732; the signer must list its keys
// on GET /known_keys (one tz1, tz2, tz3 and tz4 key) and start with empty high watermarks
// (levels only go up within one run). KEYWARD_TEZOS_CHAIN_ID (default NetXdQprcVkpaWU, mainnet).

import {test, describe, before} from "node:test";
import assert from "node:assert/strict";

import {RemoteSigner} from "@taquito/remote-signer";
import {
  verifySignature,
  getPkhfromPk,
  validateKeyHash,
  ValidationResult,
  b58cencode,
  prefix,
  Prefix,
} from "@taquito/utils";
import {LocalForger} from "@taquito/local-forging";
import {bls12_381} from "@noble/curves/bls12-381";
import {secp256k1} from "@noble/curves/secp256k1";
import {p256} from "@noble/curves/p256";
import {blake2b} from "@noble/hashes/blake2b";

import {
  MAGIC,
  TAG,
  filler,
  toHex,
  b58Strict,
  BLSIG_PREFIX,
  chainIdBytes,
  blockPayload,
  blockLevelRound,
  consensusOperation,
  consensusPayload,
  blsConsensusPayload,
} from "./payloads.mjs";

// ---------------------------------------------------------------------------------------------
// Configuration

const URL_ = (process.env.KEYWARD_TEZOS_URL || "").replace(/\/+$/, "");
if (!URL_) throw new Error("KEYWARD_TEZOS_URL is not set (e.g. KEYWARD_TEZOS_URL=http://127.0.0.1:6732)");
const CHAIN_ID = process.env.KEYWARD_TEZOS_CHAIN_ID || "NetXdQprcVkpaWU";
const CHAIN = chainIdBytes(CHAIN_ID);
if (CHAIN_ID === "NetXdQprcVkpaWU") assert.equal(toHex(CHAIN), "7a06a770", "mainnet chain id bytes");

const BLS_POP_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
const BLS_AUG_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_AUG_";
const BLS_NUL_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_";
const BLS_POP_PROOF_DST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

// A realistic level (mainnet is past 10M levels); every key has its own watermarks.
const L = 10_250_000;

const SIG_PREFIX = {tz1: "edsig", tz2: "spsig1", tz3: "p2sig"};
const PK_PREFIX = {tz1: "edpk", tz2: "sppk", tz3: "p2pk", tz4: "BLpk"};

// ---------------------------------------------------------------------------------------------
// HTTP helpers (raw requests go straight to keyward)

async function request(method, path, body, {contentType = "application/json"} = {}) {
  const headers = {};
  if (body !== undefined && contentType) headers["Content-Type"] = contentType;
  let res;
  try {
    res = await fetch(`${URL_}${path}`, {method, headers, body});
  } catch (e) {
    throw new Error(`${method} ${path}: transport error: ${e.cause?.message || e.message}`);
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {method, path, body, status: res.status, contentType: res.headers.get("content-type") || "", text, json};
}

function describeExchange(r) {
  return `  request:  ${r.method} ${r.path}${r.body !== undefined ? ` body=${r.body}` : ""}\n` +
    `  response: HTTP ${r.status} (${r.contentType}) ${r.text}`;
}

function expectOkJson(r, what) {
  if (r.status !== 200) throw new Error(`${what}: expected HTTP 200\n${describeExchange(r)}`);
  if (!/^application\/json/i.test(r.contentType)) throw new Error(`${what}: content-type is not application/json\n${describeExchange(r)}`);
  if (r.json === undefined) throw new Error(`${what}: body is not JSON\n${describeExchange(r)}`);
  return r.json;
}

// octez's RPC client decodes error bodies of 4xx/5xx answers as Tezos error JSON; anything
// else is reported as "unexpected content", so the exact shape matters.
function expectTezosError(r, statuses, what) {
  const want = Array.isArray(statuses) ? statuses : [statuses];
  if (!want.includes(r.status)) {
    throw new Error(`${what}: expected HTTP ${want.join(" or ")}\n${describeExchange(r)}`);
  }
  const j = r.json;
  const ok =
    Array.isArray(j) &&
    j.length >= 1 &&
    j.every((e) => e && typeof e === "object" && typeof e.kind === "string" && typeof e.id === "string") &&
    j[0].kind === "temporary" &&
    j[0].id === "failure" &&
    typeof j[0].msg === "string" &&
    j[0].msg.length > 0;
  if (!ok) {
    throw new Error(`${what}: body is not Tezos error JSON [{"kind":"temporary","id":"failure","msg":"…"}]\n${describeExchange(r)}`);
  }
  if (!/^application\/json/i.test(r.contentType)) {
    throw new Error(`${what}: error content-type is not application/json\n${describeExchange(r)}`);
  }
  return j;
}

async function postSign(pkh, payloadHex, query = "") {
  return request("POST", `/keys/${pkh}${query}`, JSON.stringify(payloadHex));
}

// ---------------------------------------------------------------------------------------------
// Verification helpers

function blake2b256(bytes) {
  return blake2b(bytes, {dkLen: 32});
}

function flipLastByte(payload) {
  const c = Uint8Array.from(payload);
  c[c.length - 1] ^= 0x01;
  return c;
}

// Second, independent check of an ECDSA signature with @noble/curves (octez: secp256k1 must be
// low-S; P-256 has no low-S rule).
function nobleEcdsaCheck(type, payload, pk, sig) {
  const pkBytes = b58Strict(pk, prefix[PK_PREFIX[type]], 33);
  const sigBytes = b58Strict(sig, prefix[type === "tz2" ? Prefix.SPSIG : Prefix.P2SIG], 64);
  const digest = blake2b256(payload);
  if (type === "tz2") {
    const s = BigInt("0x" + toHex(sigBytes.slice(32)));
    if (s > secp256k1.CURVE.n / 2n) {
      throw new Error(`tz2 signature is high-S (octez/libsecp256k1 rejects it): ${sig}`);
    }
    return secp256k1.verify(sigBytes, digest, pkBytes, {lowS: true, prehash: false});
  }
  return p256.verify(sigBytes, digest, pkBytes, {lowS: false, prehash: false});
}

const bls = bls12_381.longSignatures; // min-pk: public keys in G1 (48 B), signatures in G2 (96 B)

function blsVerify(sigBytes, message, pkBytes, dst) {
  try {
    return bls.verify(sigBytes, bls.hash(message, dst), pkBytes);
  } catch {
    return false;
  }
}

// Verify a BLsig as octez V2/V3 does; on failure, say which other scheme (if any) matches.
function checkBls(payload, pk, sig, exchange) {
  assert.ok(typeof sig === "string" && sig.startsWith("BLsig"), `not a BLsig: ${sig}\n${exchange}`);
  const pkBytes = b58Strict(pk, prefix[Prefix.BLPK], 48);
  const sigBytes = b58Strict(sig, BLSIG_PREFIX, 96);
  if (blsVerify(sigBytes, payload, pkBytes, BLS_POP_DST)) return;
  const guesses = [
    ["AUG (octez V1: pk || message)", () => blsVerify(sigBytes, Buffer.concat([pkBytes, payload]), pkBytes, BLS_AUG_DST)],
    ["NUL ciphersuite", () => blsVerify(sigBytes, payload, pkBytes, BLS_NUL_DST)],
    ["POP over blake2b-256(message)", () => blsVerify(sigBytes, blake2b256(payload), pkBytes, BLS_POP_DST)],
    ["POP without the magic byte", () => blsVerify(sigBytes, payload.slice(1), pkBytes, BLS_POP_DST)],
  ];
  const matched = guesses.filter(([, f]) => f()).map(([n]) => n);
  throw new Error(
    `BLS signature does NOT verify with the POP ciphersuite over the raw payload` +
      (matched.length ? ` (it does verify as: ${matched.join(", ")})` : " (nor as AUG, NUL, hashed, or without magic)") +
      `\n  pk: ${pk}\n  sig: ${sig}\n${exchange}`
  );
}

function describeTaquitoError(e) {
  const parts = [`${e.name}: ${e.message}`];
  for (const c of [e, e.cause]) {
    if (c && (c.status !== undefined || c.body !== undefined)) parts.push(`HTTP ${c.status} ${c.statusText ?? ""} body=${c.body}`);
  }
  return parts.join("\n  ");
}

// ---------------------------------------------------------------------------------------------
// Deterministic Tezos values

const forger = new LocalForger();

function branchOf(label) {
  return filler(`branch/${label}`);
}
function payloadHashOf(label) {
  return filler(`payload-hash/${label}`);
}
const b58Branch = (b) => b58cencode(b, prefix[Prefix.B]);
const b58PayloadHash = (b) => b58cencode(b, prefix[Prefix.VH]);

// ---------------------------------------------------------------------------------------------
// Discovery

let keysByType = {};

before(async () => {
  const r = await request("GET", "/known_keys");
  const j = expectOkJson(r, "GET /known_keys");
  assert.ok(j && Array.isArray(j.known_keys), `GET /known_keys: no known_keys array\n${describeExchange(r)}`);
  for (const k of j.known_keys) {
    const t = k.slice(0, 3);
    if (!keysByType[t]) keysByType[t] = k;
  }
});

describe("discovery", () => {
  test("GET /known_keys lists valid key hashes, one of each type tz1 tz2 tz3 tz4", async () => {
    const r = await request("GET", "/known_keys");
    const j = expectOkJson(r, "GET /known_keys");
    assert.deepEqual(Object.keys(j), ["known_keys"], `unexpected fields\n${describeExchange(r)}`);
    for (const k of j.known_keys) {
      assert.equal(validateKeyHash(k), ValidationResult.VALID, `invalid pkh ${k} in /known_keys`);
    }
    assert.equal(new Set(j.known_keys).size, j.known_keys.length, "duplicates in /known_keys");
    for (const t of ["tz1", "tz2", "tz3", "tz4"]) {
      assert.ok(keysByType[t], `no ${t} key in GET /known_keys: ${r.text}`);
    }
  });

  test("GET /authorized_keys answers {} (no request authentication in the demo)", async () => {
    const r = await request("GET", "/authorized_keys");
    const j = expectOkJson(r, "GET /authorized_keys");
    assert.ok(j && typeof j === "object" && !Array.isArray(j), `not a JSON object\n${describeExchange(r)}`);
    if ("authorized_keys" in j) {
      assert.ok(Array.isArray(j.authorized_keys), `authorized_keys is not an array\n${describeExchange(r)}`);
      assert.fail(`the signer requires authentication; this test sends unauthenticated requests\n${describeExchange(r)}`);
    }
    assert.deepEqual(j, {});
  });

  test("every known key: GET /keys/<pkh> gives a public key whose hash is the pkh", async () => {
    for (const t of ["tz1", "tz2", "tz3", "tz4"]) {
      const pkh = keysByType[t];
      const r = await request("GET", `/keys/${pkh}`);
      const j = expectOkJson(r, `GET /keys/${pkh}`);
      assert.deepEqual(Object.keys(j), ["public_key"], `unexpected fields\n${describeExchange(r)}`);
      assert.ok(j.public_key.startsWith(PK_PREFIX[t]), `${t}: public key ${j.public_key} should start with ${PK_PREFIX[t]}`);
      assert.equal(getPkhfromPk(j.public_key), pkh, `pkh(public key) != pkh\n${describeExchange(r)}`);
    }
  });
});

describe("payload builders (self-check against Taquito's LocalForger and the documented offsets)", () => {
  test("block header: 198 bytes, level at offset 5, round at 83+F; 202 with a locked round", () => {
    const b = blockPayload({chainId: CHAIN, level: L, round: 2, label: "self"});
    assert.equal(b.length, 198);
    assert.deepEqual(blockLevelRound(b), {level: L, round: 2});
    const b2 = blockPayload({chainId: CHAIN, level: L, round: 3, lockedRound: 1, label: "self"});
    assert.equal(b2.length, 202);
    assert.deepEqual(blockLevelRound(b2), {level: L, round: 3});
  });

  test("attestation and attestation_with_dal bytes equal LocalForger's", async () => {
    const branch = branchOf("self");
    const ph = payloadHashOf("self");
    const att = consensusOperation({tag: TAG.ATTESTATION, branch, slot: 17, level: L, round: 1, payloadHash: ph});
    const forged = await forger.forge({
      branch: b58Branch(branch),
      contents: [{kind: "attestation", slot: 17, level: L, round: 1, block_payload_hash: b58PayloadHash(ph)}],
    });
    assert.equal(toHex(att), forged);
    const dal = consensusOperation({tag: TAG.ATTESTATION_WITH_DAL, branch, slot: 17, level: L, round: 1, payloadHash: ph, dal: 0x10005});
    const forgedDal = await forger.forge({
      branch: b58Branch(branch),
      contents: [{kind: "attestation_with_dal", slot: 17, level: L, round: 1, block_payload_hash: b58PayloadHash(ph), dal_attestation: "65541"}],
    });
    assert.equal(toHex(dal), forgedDal);
    const full = consensusPayload({magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.PREATTESTATION, branch, slot: 17, level: L, round: 1, payloadHash: ph});
    assert.equal(full.length, 80);
    const blsAtt = blsConsensusPayload({magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.BLS_ATTESTATION, branch, level: L, round: 1, payloadHash: ph});
    assert.equal(blsAtt.length, 78);
  });
});

// ---------------------------------------------------------------------------------------------
// tz1 / tz2 / tz3 through Taquito's RemoteSigner

for (const type of ["tz1", "tz2", "tz3"]) {
  describe(`${type} via Taquito RemoteSigner`, () => {
    let pkh;
    let signer;
    let pk;
    const signed = {}; // name -> {payload, sig}

    before(async () => {
      pkh = keysByType[type];
      assert.ok(pkh, `no ${type} key`);
      signer = new RemoteSigner(pkh, URL_);
      pk = await signer.publicKey();
    });

    async function signAndVerify(name, payload) {
      const hex = toHex(payload);
      let res;
      try {
        res = await signer.sign(hex);
      } catch (e) {
        throw new Error(`RemoteSigner.sign(${name}) failed: ${describeTaquitoError(e)}\n  payload: ${hex}`);
      }
      assert.equal(res.bytes, hex);
      const sig = res.prefixSig;
      assert.ok(sig.startsWith(SIG_PREFIX[type]), `${name}: signature ${sig} should start with ${SIG_PREFIX[type]}`);
      assert.equal(verifySignature(hex, pk, sig), true, `${name}: verifySignature failed\n  payload: ${hex}\n  sig: ${sig}`);
      assert.equal(verifySignature(toHex(flipLastByte(payload)), pk, sig), false, `${name}: verifier accepts a changed message`);
      if (type !== "tz1") {
        assert.equal(nobleEcdsaCheck(type, payload, pk, sig), true, `${name}: @noble/curves rejects ${sig}\n  payload: ${hex}`);
      }
      signed[name] = {payload, sig};
      return sig;
    }

    test("publicKey(): prefix and pkh(pk) == pkh", async () => {
      assert.ok(pk.startsWith(PK_PREFIX[type]), `public key ${pk}`);
      assert.equal(getPkhfromPk(pk), pkh);
      assert.equal(await signer.publicKeyHash(), pkh);
    });

    test(`block 0x11 at level ${L} round 0`, async () => {
      await signAndVerify("block r0", blockPayload({chainId: CHAIN, level: L, round: 0, label: type}));
    });

    test(`block 0x11 at level ${L} round 1 (locked round 0, higher round same level)`, async () => {
      await signAndVerify("block r1", blockPayload({chainId: CHAIN, level: L, round: 1, lockedRound: 0, label: type}));
    });

    test(`preattestation 0x12 (tag 0x14) at level ${L} round 1`, async () => {
      const p = consensusPayload({
        magic: MAGIC.PREATTESTATION, chainId: CHAIN, tag: TAG.PREATTESTATION,
        branch: branchOf(`${type}/${L}`), slot: 5, level: L, round: 1, payloadHash: payloadHashOf(`${type}/${L}/1`),
      });
      assert.equal(p.length, 80);
      await signAndVerify("preattestation", p);
    });

    test(`attestation 0x13 (tag 0x15) at level ${L} round 1`, async () => {
      const p = consensusPayload({
        magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.ATTESTATION,
        branch: branchOf(`${type}/${L}`), slot: 5, level: L, round: 1, payloadHash: payloadHashOf(`${type}/${L}/1`),
      });
      assert.equal(p.length, 80);
      await signAndVerify("attestation", p);
    });

    test(`attestation_with_dal 0x13 (tag 0x17) at level ${L + 1} round 0`, async () => {
      const p = consensusPayload({
        magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.ATTESTATION_WITH_DAL,
        branch: branchOf(`${type}/${L + 1}`), slot: 5, level: L + 1, round: 0, payloadHash: payloadHashOf(`${type}/${L + 1}/0`),
        // 40963 -> bytes 83 c0 02: a Zarith natural (Taquito's LocalForger, octez Bitset =
        // Data_encoding.n) that is also a valid non-negative Data_encoding.z (newer octez
        // Bitset), so the payload is well-formed whichever encoding the signer expects.
        dal: 0b1010_0000_0000_0011,
      });
      assert.ok(p.length > 80);
      await signAndVerify("attestation_with_dal", p);
    });

    test("identical bytes again -> identical signature", async () => {
      for (const name of ["attestation_with_dal", "block r1"]) {
        const prev = signed[name];
        assert.ok(prev, `${name} was not signed earlier`);
        const r = await postSign(pkh, toHex(prev.payload));
        const j = expectOkJson(r, `re-sign ${name}`);
        assert.equal(j.signature, prev.sig, `${name}: a second request with the same bytes gave a different signature\n${describeExchange(r)}`);
      }
    });

    test("same level and round, different bytes -> 409 (Tezos error JSON)", async () => {
      const att = consensusPayload({
        magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.ATTESTATION,
        branch: branchOf(`${type}/${L + 1}`), slot: 5, level: L + 1, round: 0, payloadHash: payloadHashOf(`${type}/${L + 1}/other`),
      });
      expectTezosError(await postSign(pkh, toHex(att)), 409, "attestation conflicting with the signed attestation_with_dal");
      const blk = blockPayload({chainId: CHAIN, level: L, round: 1, lockedRound: 0, label: `${type}/conflict`});
      expectTezosError(await postSign(pkh, toHex(blk)), 409, "block conflicting with the signed block");
      const pre = consensusPayload({
        magic: MAGIC.PREATTESTATION, chainId: CHAIN, tag: TAG.PREATTESTATION,
        branch: branchOf(`${type}/${L}`), slot: 6, level: L, round: 1, payloadHash: payloadHashOf(`${type}/${L}/1`),
      });
      expectTezosError(await postSign(pkh, toHex(pre)), 409, "preattestation with another slot at the signed level/round");
    });

    test("below the high watermark -> 409 (Tezos error JSON)", async () => {
      const blk = blockPayload({chainId: CHAIN, level: L - 1, round: 5, label: `${type}/low`});
      expectTezosError(await postSign(pkh, toHex(blk)), 409, "block at a lower level");
      const att = consensusPayload({
        magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.ATTESTATION,
        branch: branchOf(`${type}/${L}`), slot: 5, level: L, round: 7, payloadHash: payloadHashOf(`${type}/${L}/7`),
      });
      expectTezosError(await postSign(pkh, toHex(att)), 409, "attestation at a lower level (higher round)");
    });

    test("?version=2 (as octez-baker sends it) signs and verifies", async () => {
      const p = consensusPayload({
        magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.ATTESTATION,
        branch: branchOf(`${type}/${L + 2}`), slot: 9, level: L + 2, round: 0, payloadHash: payloadHashOf(`${type}/${L + 2}/0`),
      });
      const r = await postSign(pkh, toHex(p), "?version=2");
      const j = expectOkJson(r, "POST ?version=2");
      assert.equal(verifySignature(toHex(p), pk, j.signature), true, `signature does not verify\n${describeExchange(r)}`);
    });

    test("generic operation 0x03 (transfer forged by LocalForger) -> 403 by default policy", async () => {
      const op = await forger.forge({
        branch: b58Branch(branchOf(`${type}/transfer`)),
        contents: [{
          kind: "transaction", source: pkh, fee: "1420", counter: "4242", gas_limit: "1527", storage_limit: "257",
          amount: "1000000", destination: "tz1burnburnburnburnburnburnburjAYjjX",
        }],
      });
      const hex = "03" + op;
      expectTezosError(await postSign(pkh, hex), 403, "generic transfer");
      await assert.rejects(signer.sign(op, Uint8Array.of(0x03)), (e) => {
        assert.match(e.name, /^OperationNotAuthorized(Error)?$/, describeTaquitoError(e));
        return true;
      });
    });

    test("malformed requests -> 400 (Tezos error JSON)", async () => {
      expectTezosError(await postSign(pkh, "zz13"), 400, "non-hex characters");
      expectTezosError(await postSign(pkh, "1301a"), 400, "odd-length hex");
      expectTezosError(await request("POST", `/keys/${pkh}`, '{"data":"13"}'), 400, "body is not a JSON string");
      expectTezosError(await request("POST", `/keys/${pkh}`, '"13'), 400, "body is not valid JSON");
    });
  });
}

// ---------------------------------------------------------------------------------------------
// tz4 (BLS) by hand

describe("tz4 (BLS, POP ciphersuite) by plain HTTP", () => {
  let pkh;
  let pk;
  const signed = {};

  before(async () => {
    pkh = keysByType.tz4;
    assert.ok(pkh, "no tz4 key");
    pk = await new RemoteSigner(pkh, URL_).publicKey(); // GET /keys works for tz4 through Taquito
  });

  async function signBls(name, payload, query = "") {
    const r = await postSign(pkh, toHex(payload), query);
    const j = expectOkJson(r, `sign ${name}`);
    assert.deepEqual(Object.keys(j), ["signature"], `unexpected fields\n${describeExchange(r)}`);
    checkBls(payload, pk, j.signature, describeExchange(r));
    assert.equal(
      blsVerify(b58Strict(j.signature, BLSIG_PREFIX, 96), flipLastByte(payload), b58Strict(pk, prefix[Prefix.BLPK], 48), BLS_POP_DST),
      false,
      "BLS verifier accepts a changed message"
    );
    signed[name] = {payload, sig: j.signature};
    return j.signature;
  }

  test("public key is a BLpk whose hash is the tz4", () => {
    assert.ok(pk.startsWith("BLpk"), pk);
    assert.equal(getPkhfromPk(pk), pkh);
    b58Strict(pk, prefix[Prefix.BLPK], 48);
  });

  test(`block 0x11 at level ${L} round 0`, async () => {
    await signBls("block", blockPayload({chainId: CHAIN, level: L, round: 0, label: "tz4"}));
  });

  test(`BLS-mode preattestation 0x12 (tag 0x28) at level ${L} round 0`, async () => {
    const p = blsConsensusPayload({
      magic: MAGIC.PREATTESTATION, chainId: CHAIN, tag: TAG.BLS_PREATTESTATION,
      branch: branchOf(`tz4/${L}`), level: L, round: 0, payloadHash: payloadHashOf(`tz4/${L}/0`),
    });
    assert.equal(p.length, 78);
    await signBls("preattestation", p);
  });

  test(`BLS-mode attestation 0x13 (tag 0x29) at level ${L} round 0`, async () => {
    const p = blsConsensusPayload({
      magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.BLS_ATTESTATION,
      branch: branchOf(`tz4/${L}`), level: L, round: 0, payloadHash: payloadHashOf(`tz4/${L}/0`),
    });
    assert.equal(p.length, 78);
    await signBls("attestation", p);
  });

  test(`BLS-mode attestation at level ${L + 1} with ?version=2 (what a Seoul+ baker sends)`, async () => {
    const p = blsConsensusPayload({
      magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.BLS_ATTESTATION,
      branch: branchOf(`tz4/${L + 1}`), level: L + 1, round: 0, payloadHash: payloadHashOf(`tz4/${L + 1}/0`),
    });
    await signBls("attestation v2", p, "?version=2");
  });

  test("identical bytes again -> identical signature", async () => {
    for (const name of ["attestation v2", "block"]) {
      const prev = signed[name];
      assert.ok(prev, `${name} was not signed earlier`);
      const r = await postSign(pkh, toHex(prev.payload));
      const j = expectOkJson(r, `re-sign ${name}`);
      assert.equal(j.signature, prev.sig, `${name}: different signature for the same bytes\n${describeExchange(r)}`);
    }
  });

  test("same level and round, different bytes -> 409 (Tezos error JSON)", async () => {
    const p = blsConsensusPayload({
      magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.BLS_ATTESTATION,
      branch: branchOf(`tz4/${L + 1}`), level: L + 1, round: 0, payloadHash: payloadHashOf(`tz4/${L + 1}/other`),
    });
    expectTezosError(await postSign(pkh, toHex(p)), 409, "conflicting BLS attestation");
    const blk = blockPayload({chainId: CHAIN, level: L, round: 0, label: "tz4/conflict"});
    expectTezosError(await postSign(pkh, toHex(blk)), 409, "conflicting block");
  });

  test("?version=1 signs with the AUG ciphersuite (octez signature V1, Paris..Rio), ?version=3 with POP", async () => {
    const pkBytes = b58Strict(pk, prefix[Prefix.BLPK], 48);
    const mk = (level) => blsConsensusPayload({
      magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.BLS_ATTESTATION,
      branch: branchOf(`tz4/${level}`), level, round: 0, payloadHash: payloadHashOf(`tz4/${level}/0`),
    });
    const p1 = mk(L + 2);
    const r1 = await postSign(pkh, toHex(p1), "?version=1");
    const s1 = b58Strict(expectOkJson(r1, "POST ?version=1").signature, BLSIG_PREFIX, 96);
    assert.equal(
      blsVerify(s1, Buffer.concat([pkBytes, p1]), pkBytes, BLS_AUG_DST),
      true,
      `?version=1: not an AUG signature over pk || payload\n${describeExchange(r1)}`
    );
    await signBls("attestation v3", mk(L + 3), "?version=3");
  });

  test("GET /bls_prove_possession/<tz4> (enabled in the demo) gives a proof that verifies", async () => {
    const pkBytes = b58Strict(pk, prefix[Prefix.BLPK], 48);
    const r = await request("GET", `/bls_prove_possession/${pkh}`);
    const j = expectOkJson(r, "GET /bls_prove_possession");
    assert.deepEqual(Object.keys(j), ["bls_prove_possession"], `unexpected fields\n${describeExchange(r)}`);
    const proof = j.bls_prove_possession;
    assert.ok(typeof proof === "string" && proof.startsWith("BLsig"), `not a BLsig\n${describeExchange(r)}`);
    // Proof of possession: the POP DST, message = the 48-byte compressed public key.
    assert.equal(
      blsVerify(b58Strict(proof, BLSIG_PREFIX, 96), pkBytes, pkBytes, BLS_POP_PROOF_DST),
      true,
      `proof of possession does not verify (DST ${BLS_POP_PROOF_DST}, message = pk)\n${describeExchange(r)}`
    );
  });

  test("generic operation 0x03 -> 403", async () => {
    const op = await forger.forge({
      branch: b58Branch(branchOf("tz4/transfer")),
      contents: [{
        kind: "transaction", source: "tz1burnburnburnburnburnburnburjAYjjX", fee: "1420", counter: "1", gas_limit: "1527",
        storage_limit: "257", amount: "1", destination: "tz1burnburnburnburnburnburnburjAYjjX",
      }],
    });
    expectTezosError(await postSign(pkh, "03" + op), 403, "generic transfer for tz4");
  });
});

// ---------------------------------------------------------------------------------------------
// Concurrent requests (a baker signs all its delegates at once; retries can race)

describe("concurrent requests", () => {
  const N = 8;

  test(`tz2: ${N} different attestations at the same level and round at once -> exactly one signed`, async () => {
    const pkh = keysByType.tz2;
    const pk = await new RemoteSigner(pkh, URL_).publicKey();
    const payloads = Array.from({length: N}, (_, i) => consensusPayload({
      magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.ATTESTATION,
      branch: branchOf(`race/${L + 10}`), slot: 100 + i, level: L + 10, round: 0, payloadHash: payloadHashOf(`race/${L + 10}`),
    }));
    const rs = await Promise.all(payloads.map((p) => postSign(pkh, toHex(p))));
    const ok = rs.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, `expected exactly one HTTP 200, got statuses ${rs.map((r) => r.status).join(",")}\n` + rs.map(describeExchange).join("\n"));
    for (const r of rs) if (r.status !== 200) expectTezosError(r, 409, "losing concurrent request");
    const i = rs.indexOf(ok[0]);
    assert.equal(verifySignature(toHex(payloads[i]), pk, ok[0].json.signature), true, `winner does not verify\n${describeExchange(ok[0])}`);
  });

  test(`tz3: the same attestation ${N} times at once -> ${N} identical signatures`, async () => {
    const pkh = keysByType.tz3;
    const pk = await new RemoteSigner(pkh, URL_).publicKey();
    const p = consensusPayload({
      magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.ATTESTATION,
      branch: branchOf(`same/${L + 10}`), slot: 3, level: L + 10, round: 0, payloadHash: payloadHashOf(`same/${L + 10}`),
    });
    const rs = await Promise.all(Array.from({length: N}, () => postSign(pkh, toHex(p))));
    for (const r of rs) expectOkJson(r, "concurrent identical request");
    const sigs = new Set(rs.map((r) => r.json.signature));
    assert.equal(sigs.size, 1, `different signatures for identical bytes: ${[...sigs].join(" ")}`);
    assert.equal(verifySignature(toHex(p), pk, [...sigs][0]), true);
  });
});

// ---------------------------------------------------------------------------------------------
// Unknown keys

describe("unknown keys", () => {
  const unknownTz1 = b58cencode(filler("unknown-tz1", 20), prefix[Prefix.TZ1]);
  const unknownTz4 = b58cencode(filler("unknown-tz4", 20), prefix[Prefix.TZ4]);

  test("GET and POST /keys/<unknown pkh> -> 404 (Tezos error JSON)", async () => {
    for (const k of [unknownTz1, unknownTz4]) {
      assert.equal(validateKeyHash(k), ValidationResult.VALID);
      expectTezosError(await request("GET", `/keys/${k}`), 404, `GET /keys/${k}`);
      const att = consensusPayload({
        magic: MAGIC.ATTESTATION, chainId: CHAIN, tag: TAG.ATTESTATION,
        branch: branchOf("unknown"), slot: 1, level: L, round: 0, payloadHash: payloadHashOf("unknown"),
      });
      expectTezosError(await postSign(k, toHex(att)), 404, `POST /keys/${k}`);
    }
  });

  test("RemoteSigner.publicKey() for an unknown pkh -> PublicKeyNotFoundError", async () => {
    await assert.rejects(new RemoteSigner(unknownTz1, URL_).publicKey(), (e) => {
      assert.equal(e.name, "PublicKeyNotFoundError", describeTaquitoError(e));
      return true;
    });
  });
});
