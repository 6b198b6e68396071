// Independent-client test for keyward's Web3Signer-compatible eth2 signing API.
//
// The side under test is keyward (at KEYWARD_URL). Everything used to *check* it is third-party:
//   - requests are sent by Lodestar's own external-signer client (@lodestar/validator 1.5.1,
//     lib/util/externalSignerClient.js) wherever that client knows the message type; the types it
//     lacks (BLOCK v1, AGGREGATE_AND_PROOF_V2, legacy AGGREGATE_AND_PROOF with Electra data) are
//     hand-built JSON in the Web3Signer request shape;
//   - messages are Lodestar SSZ values (@lodestar/types), signing roots come from Lodestar's
//     computeSigningRoot/computeDomain (@lodestar/state-transition) and config.getDomain*
//     (@lodestar/config, mainnet chain config + mainnet genesis validators root);
//   - signatures are verified with @chainsafe/blst against the public key keyward reports.
//
// Env: KEYWARD_URL (required), e.g. http://127.0.0.1:9100. The signer must run on the mainnet
// fork schedule with a fresh slashing-protection database (slots/epochs used here only go up
// within one run; a second run against the same signer will be refused by slashing protection).
// Optional: KEYWARD_EXIT_DEPOSIT_STATUS — comma-separated HTTP statuses accepted for
// VOLUNTARY_EXIT/DEPOSIT (default "200": sign and verify; e.g. "403,412" once refused by policy).

import {test, describe, before, after} from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import {createHash} from "node:crypto";

import {createBeaconConfig} from "@lodestar/config";
import {mainnetChainConfig, genesisData} from "@lodestar/config/networks";
import {
  ForkName,
  ForkSeq,
  SLOTS_PER_EPOCH,
  DOMAIN_BEACON_PROPOSER,
  DOMAIN_BEACON_ATTESTER,
  DOMAIN_RANDAO,
  DOMAIN_DEPOSIT,
  DOMAIN_VOLUNTARY_EXIT,
  DOMAIN_SELECTION_PROOF,
  DOMAIN_AGGREGATE_AND_PROOF,
  DOMAIN_SYNC_COMMITTEE,
  DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF,
  DOMAIN_CONTRIBUTION_AND_PROOF,
  DOMAIN_APPLICATION_BUILDER,
} from "@lodestar/params";
import {
  computeSigningRoot,
  computeDomain,
  computeEpochAtSlot,
  computeStartSlotAtEpoch,
  ZERO_HASH,
} from "@lodestar/state-transition";
import {ssz, sszTypesFor} from "@lodestar/types";
import {BitArray, fromHexString, toHexString} from "@chainsafe/ssz";
import * as blst from "@chainsafe/blst";

// Imported by file path on purpose: the package index of @lodestar/validator 1.5.1 loads an old
// beacon-API client that does not work with current @lodestar/* packages.
const lodestarSigner = await import(
  new URL("./node_modules/@lodestar/validator/lib/util/externalSignerClient.js", import.meta.url)
);
const {externalSignerGetKeys, externalSignerPostSignature, externalSignerUpCheck, SignableMessageType} =
  lodestarSigner;

// ---------------------------------------------------------------------------------------------
// Configuration

const KEYWARD_URL = (process.env.KEYWARD_URL || "").replace(/\/+$/, "");
if (!KEYWARD_URL) {
  throw new Error("KEYWARD_URL is not set (e.g. KEYWARD_URL=http://127.0.0.1:9100)");
}
const EXIT_DEPOSIT_STATUSES = (process.env.KEYWARD_EXIT_DEPOSIT_STATUS || "200")
  .split(",")
  .map((s) => Number(s.trim()));

const MAINNET_GVR = "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95";
assert.equal(genesisData.mainnet.genesisValidatorsRoot, MAINNET_GVR, "Lodestar's mainnet genesis data changed");
const GENESIS_TIME = genesisData.mainnet.genesisTime;
const config = createBeaconConfig(mainnetChainConfig, fromHexString(MAINNET_GVR));

const FORKS = [
  ForkName.phase0,
  ForkName.altair,
  ForkName.bellatrix,
  ForkName.capella,
  ForkName.deneb,
  ForkName.electra,
  ForkName.fulu,
];

function forkEpoch(fork) {
  return fork === ForkName.phase0 ? 0 : config.forks[fork].epoch;
}
function forkStartSlot(fork) {
  return computeStartSlotAtEpoch(forkEpoch(fork));
}

// ---------------------------------------------------------------------------------------------
// Deterministic filler data (realistic-looking, valid where validity could matter)

function bytes(label, len = 32) {
  const out = new Uint8Array(len);
  let i = 0;
  let ctr = 0;
  while (i < len) {
    const h = createHash("sha256").update(`${label}/${ctr++}`).digest();
    for (let j = 0; j < h.length && i < len; j++) out[i++] = h[j];
  }
  return out;
}
// A throw-away local key, used ONLY to produce valid G2 points / G1 points as filler inside
// messages (randao_reveal in a block body, aggregate signatures, selection proofs, ...).
const fillerSk = blst.SecretKey.fromKeygen(bytes("keyward-lodestar-filler-key"));
function fillerSig(label) {
  return fillerSk.sign(bytes(label)).toBytes();
}
function bits(len, ...set) {
  const b = BitArray.fromBitLen(len);
  for (const i of set) b.set(i, true);
  return b;
}
const hex = (b) => toHexString(b);

// ---------------------------------------------------------------------------------------------
// A pass-through recorder placed between Lodestar's client and keyward, so that a failure
// report can show the exact JSON Lodestar sent, the status and body keyward returned, and the
// headers (Accept) Lodestar sends. Raw requests in this file go straight to keyward.

function startRecorder(target) {
  const t = new URL(target);
  const mod = t.protocol === "https:" ? https : http;
  const log = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const entry = {method: req.method, path: req.url, headers: {...req.headers}, body: body.toString("utf8")};
      log.push(entry);
      const headers = {...req.headers, host: t.host};
      delete headers.connection;
      const up = mod.request(
        {protocol: t.protocol, hostname: t.hostname, port: t.port, path: req.url, method: req.method, headers},
        (ur) => {
          const rc = [];
          ur.on("data", (c) => rc.push(c));
          ur.on("end", () => {
            const rb = Buffer.concat(rc);
            entry.status = ur.statusCode;
            entry.responseHeaders = {...ur.headers};
            entry.responseBody = rb.toString("utf8");
            const rh = {...ur.headers};
            delete rh["transfer-encoding"];
            delete rh.connection;
            rh["content-length"] = String(rb.length);
            res.writeHead(ur.statusCode, rh);
            res.end(rb);
          });
        }
      );
      up.on("error", (e) => {
        entry.status = 502;
        entry.responseBody = `recorder: upstream error: ${e.message}`;
        res.writeHead(502, {"content-type": "text/plain"});
        res.end(entry.responseBody);
      });
      up.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({url: `http://127.0.0.1:${server.address().port}`, log, close: () => server.close()});
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Verification helpers

function verifyOrThrow(pubkeyHex, signingRoot, signatureHex, context) {
  let ok = false;
  let why = "";
  try {
    assert.match(signatureHex, /^0x[0-9a-fA-F]{192}$/, "signature is not 0x + 96 bytes hex");
    const pk = blst.PublicKey.fromHex(pubkeyHex, true);
    const sig = blst.Signature.fromHex(signatureHex, true);
    ok = blst.verify(signingRoot, pk, sig);
  } catch (e) {
    why = ` (${e.message})`;
  }
  if (!ok) {
    throw new Error(
      `signature does NOT verify${why}\n  pubkey:       ${pubkeyHex}\n  expected root: ${hex(signingRoot)}\n` +
        `  signature:    ${signatureHex}\n  request JSON: ${context}`
    );
  }
}

let rec; // recorder
let keys; // pubkeys reported by keyward

// Sign through Lodestar's own client and verify against the root Lodestar computed.
async function signViaLodestar(pubkey, signingRoot, signingSlot, signableMessage) {
  const mark = rec.log.length;
  let sig;
  try {
    sig = await externalSignerPostSignature(config, rec.url, pubkey, signingRoot, signingSlot, signableMessage);
  } catch (e) {
    const ent = rec.log.slice(mark).find((x) => x.method === "POST");
    throw new Error(
      `Lodestar externalSignerPostSignature failed: ${e.message}\n  HTTP ${ent?.status} ${ent?.responseHeaders?.["content-type"] ?? ""}: ${ent?.responseBody}\n  request JSON: ${ent?.body}`
    );
  }
  const ent = rec.log.slice(mark).find((x) => x.method === "POST");
  verifyOrThrow(pubkey, signingRoot, sig, ent?.body);
  return {sig, request: ent};
}

async function postRaw(pubkey, body, {accept = "application/json"} = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const headers = {"Content-Type": "application/json"};
  if (accept !== null) headers.Accept = accept;
  const res = await fetch(`${KEYWARD_URL}/api/v1/eth2/sign/${pubkey}`, {method: "POST", headers, body: text});
  const resText = await res.text();
  return {status: res.status, contentType: res.headers.get("content-type") || "", text: resText, request: text};
}

// Send a hand-built Web3Signer request and verify the JSON answer.
async function signRaw(pubkey, body, signingRoot) {
  const r = await postRaw(pubkey, body);
  if (r.status !== 200) {
    throw new Error(`HTTP ${r.status} (${r.contentType}): ${r.text}\n  request JSON: ${r.request}`);
  }
  assert.match(r.contentType, /^application\/json/i, `content-type for Accept: application/json\n  request JSON: ${r.request}`);
  const sig = JSON.parse(r.text).signature;
  verifyOrThrow(pubkey, signingRoot, sig, r.request);
  return sig;
}

async function expectStatus(pubkey, body, statuses, what) {
  const r = await postRaw(pubkey, body);
  const want = Array.isArray(statuses) ? statuses : [statuses];
  if (!want.includes(r.status)) {
    throw new Error(`${what}: expected HTTP ${want.join(" or ")}, got ${r.status}: ${r.text}\n  request JSON: ${r.request}`);
  }
  return r;
}

// fork_info as a beacon state's `fork` (activation epoch) — the shape Teku/Lighthouse send.
// Lodestar's client instead sends fork.epoch = epoch of the signing slot; both are exercised.
function stateForkInfo(fork, gvr = MAINNET_GVR) {
  const fi = config.forks[fork];
  return {
    fork: {
      previous_version: hex(fi.prevVersion),
      current_version: hex(fi.version),
      epoch: String(forkEpoch(fork)),
    },
    genesis_validators_root: gvr,
  };
}
// fork_info exactly as Lodestar's client computes it for a signing slot.
function lodestarForkInfo(signingSlot, gvr = MAINNET_GVR) {
  const fi = config.getForkInfo(signingSlot);
  return {
    fork: {
      previous_version: hex(fi.prevVersion),
      current_version: hex(fi.version),
      epoch: String(computeEpochAtSlot(signingSlot)),
    },
    genesis_validators_root: gvr,
  };
}

// ---------------------------------------------------------------------------------------------
// Message builders (Lodestar SSZ values: defaultValue() then fill)

function attestationData(slot, sourceEpoch, targetEpoch, label, index = 0) {
  const d = ssz.phase0.AttestationData.defaultValue();
  d.slot = slot;
  d.index = index;
  d.beaconBlockRoot = bytes(`${label}/bbr`);
  d.source = {epoch: sourceEpoch, root: bytes(`${label}/src`)};
  d.target = {epoch: targetEpoch, root: bytes(`${label}/tgt`)};
  return d;
}

function attestation(fork, data, label) {
  const a = sszTypesFor(fork).Attestation.defaultValue();
  a.data = data;
  a.signature = fillerSig(`${label}/att-sig`);
  if (ForkSeq[fork] >= ForkSeq.electra) {
    // Electra: data.index is 0, committees flagged in committee_bits; bits span the committees.
    a.data = {...data, index: 0};
    a.committeeBits = bits(64, 3, 17);
    a.aggregationBits = bits(2 * 128, 0, 5, 130, 255);
  } else {
    a.aggregationBits = bits(128, 1, 2, 64, 127);
  }
  return a;
}

function aggregateAndProof(fork, slot, targetEpoch, aggregatorIndex, label) {
  const ap = sszTypesFor(fork).AggregateAndProof.defaultValue();
  ap.aggregatorIndex = aggregatorIndex;
  ap.aggregate = attestation(fork, attestationData(slot, targetEpoch - 1, targetEpoch, label, 7), label);
  ap.selectionProof = fillerSig(`${label}/selection`);
  return ap;
}

function beaconBlock(fork, slot, proposerIndex, label) {
  const types = sszTypesFor(fork);
  const b = types.BeaconBlock.defaultValue();
  b.slot = slot;
  b.proposerIndex = proposerIndex;
  b.parentRoot = bytes(`${label}/parent`);
  b.stateRoot = bytes(`${label}/state`);
  const body = b.body;
  body.randaoReveal = fillerSig(`${label}/randao`);
  body.eth1Data = {depositRoot: bytes(`${label}/dr`), depositCount: 1234567n, blockHash: bytes(`${label}/eth1bh`)};
  body.graffiti = new Uint8Array(32);
  body.graffiti.set(new TextEncoder().encode(`keyward lodestar test ${fork}`.slice(0, 32)));
  const epoch = computeEpochAtSlot(slot);
  body.attestations = [
    attestation(fork, attestationData(slot - 1, Math.max(epoch - 1, 0), epoch, `${label}/body-att`, 3), `${label}/body-att`),
  ];
  const exit = {epoch: Math.max(epoch - 1, 0), validatorIndex: 4242};
  body.voluntaryExits = [{message: exit, signature: fillerSig(`${label}/exit`)}];
  if (ForkSeq[fork] >= ForkSeq.altair) {
    body.syncAggregate = {
      syncCommitteeBits: bits(512, 0, 1, 2, 100, 511),
      syncCommitteeSignature: fillerSig(`${label}/syncagg`),
    };
  }
  if (ForkSeq[fork] >= ForkSeq.bellatrix) {
    const p = body.executionPayload;
    p.parentHash = bytes(`${label}/el-parent`);
    p.feeRecipient = bytes(`${label}/fee`, 20);
    p.stateRoot = bytes(`${label}/el-state`);
    p.receiptsRoot = bytes(`${label}/el-receipts`);
    p.logsBloom = bytes(`${label}/bloom`, 256);
    p.prevRandao = bytes(`${label}/prevrandao`);
    p.blockNumber = 15_537_394 + slot;
    p.gasLimit = 30_000_000;
    p.gasUsed = 12_345_678;
    p.timestamp = GENESIS_TIME + slot * 12;
    p.extraData = new TextEncoder().encode("keyward");
    p.baseFeePerGas = 7_000_000_000n;
    p.blockHash = bytes(`${label}/el-hash`);
    p.transactions = [bytes(`${label}/tx0`, 120), bytes(`${label}/tx1`, 33)];
    if (ForkSeq[fork] >= ForkSeq.capella) {
      p.withdrawals = [
        {index: 1000 + slot, validatorIndex: 77, address: bytes(`${label}/wd`, 20), amount: 12_345n},
      ];
      body.blsToExecutionChanges = [
        {
          message: {validatorIndex: 88, fromBlsPubkey: fillerSk.toPublicKey().toBytes(), toExecutionAddress: bytes(`${label}/bls2el`, 20)},
          signature: fillerSig(`${label}/bls2el-sig`),
        },
      ];
    }
    if (ForkSeq[fork] >= ForkSeq.deneb) {
      p.blobGasUsed = 131_072n * 3n;
      p.excessBlobGas = 0n;
      body.blobKzgCommitments = [fillerSk.toPublicKey().toBytes(), blst.SecretKey.fromKeygen(bytes(`${label}/kzg`)).toPublicKey().toBytes()];
    }
    if (ForkSeq[fork] >= ForkSeq.electra) {
      body.executionRequests = {
        deposits: [],
        withdrawals: [{sourceAddress: bytes(`${label}/wr`, 20), validatorPubkey: fillerSk.toPublicKey().toBytes(), amount: 1_000_000_000n}],
        consolidations: [],
      };
    }
  }
  return b;
}

function blockHeaderOf(fork, block) {
  return {
    slot: block.slot,
    proposerIndex: block.proposerIndex,
    parentRoot: block.parentRoot,
    stateRoot: block.stateRoot,
    bodyRoot: sszTypesFor(fork).BeaconBlockBody.hashTreeRoot(block.body),
  };
}

function proposerRoot(fork, block) {
  const domain = config.getDomain(block.slot, DOMAIN_BEACON_PROPOSER);
  return computeSigningRoot(sszTypesFor(fork).BeaconBlock, block, domain);
}
function attesterRoot(data) {
  const signingSlot = computeStartSlotAtEpoch(data.target.epoch);
  return computeSigningRoot(ssz.phase0.AttestationData, data, config.getDomain(signingSlot, DOMAIN_BEACON_ATTESTER));
}
function exitDomain(signingSlot) {
  // What Lodestar's validator (ValidatorStore.signVoluntaryExit) and state-transition
  // (getVoluntaryExitSignatureSet) use: EIP-7044 pins Deneb+ to the Capella fork version.
  return config.getDomainForVoluntaryExit(signingSlot, signingSlot);
}

// ---------------------------------------------------------------------------------------------
// Key roles (distinct keys so slashing protection never refuses a legitimate request)

const K = {
  block: 0, // all positive BLOCK/BLOCK_V2, slots strictly increasing across forks
  att: 1, // all positive ATTESTATIONs, source/target increasing across forks
  misc: [2, 3, 4], // non-slashable types, rotated
  negBlock: 5, // double-proposal / lower-slot checks
  negAtt: 6, // double vote / surround checks
  misc2: 7, // content negotiation and error-code checks
};
const NEEDED_KEYS = 8;
let miscCounter = 0;
function miscKey() {
  return keys[K.misc[miscCounter++ % K.misc.length]];
}
function indexOfKey(pk) {
  return 100 + keys.indexOf(pk); // pretend validator index
}

// ---------------------------------------------------------------------------------------------

let keysError; // why externalSignerGetKeys failed, if it did
let getKeysHeaders; // request headers Lodestar's externalSignerGetKeys sent

before(async () => {
  rec = await startRecorder(KEYWARD_URL);
  // Load the keys once, up front, so that any subset of tests (--test-name-pattern) can run.
  const mark = rec.log.length;
  try {
    keys = await externalSignerGetKeys(rec.url);
  } catch (e) {
    const ent = rec.log[mark];
    keysError = `${e.message} (HTTP ${ent?.status}, content-type ${ent?.responseHeaders?.["content-type"]}, body ${JSON.stringify(ent?.responseBody)})`;
  }
  getKeysHeaders = rec.log[mark]?.headers;
});
function needKeys() {
  assert.ok(Array.isArray(keys), `Lodestar externalSignerGetKeys failed: ${keysError ?? "no array returned"}`);
  assert.ok(keys.length >= NEEDED_KEYS, `need at least ${NEEDED_KEYS} keys, keyward reports ${keys.length}`);
}
after(() => rec?.close());

describe("keyward basics", () => {
  test("GET /upcheck answers 200", async () => {
    const res = await fetch(`${KEYWARD_URL}/upcheck`);
    const body = await res.text();
    assert.equal(res.status, 200, `upcheck body: ${body}`);
  });

  test("Lodestar externalSignerUpCheck (diagnostic only)", async (t) => {
    const mark = rec.log.length;
    let outcome;
    try {
      outcome = `returned ${await externalSignerUpCheck(rec.url)}`;
    } catch (e) {
      outcome = `threw: ${e.message}`;
    }
    const ent = rec.log[mark];
    t.diagnostic(`externalSignerUpCheck request headers: ${JSON.stringify(ent?.headers)}`);
    t.diagnostic(
      `externalSignerUpCheck response: HTTP ${ent?.status} content-type=${ent?.responseHeaders?.["content-type"]} body=${JSON.stringify(ent?.responseBody)}; client ${outcome}`
    );
  });

  test("externalSignerGetKeys and GET /api/v1/eth2/publicKeys agree", async (t) => {
    t.diagnostic(`externalSignerGetKeys request headers: ${JSON.stringify(getKeysHeaders)}`);
    needKeys();
    for (const k of keys) {
      assert.match(k, /^0x[0-9a-f]{96}$/, `pubkey format: ${k}`);
      blst.PublicKey.fromHex(k, true); // throws if not a valid G1 point
    }
    assert.equal(new Set(keys).size, keys.length, "duplicate keys");
    const res = await fetch(`${KEYWARD_URL}/api/v1/eth2/publicKeys`, {headers: {Accept: "application/json"}});
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") || "", /^application\/json/i);
    assert.deepEqual(await res.json(), keys);
  });
});

// Every fork, every type that applies at it, in chronological order.
for (const fork of FORKS) {
  const seq = ForkSeq[fork];
  const E = forkEpoch(fork);
  const S = forkStartSlot(fork);
  const VERSION = fork.toUpperCase();

  describe(`${fork} (mainnet epoch ${E}, slot ${S})`, () => {
    before(() => needKeys());

    // ---- blocks (key K.block, slots strictly increasing) ----
    if (fork === ForkName.phase0) {
      test("BLOCK (v1, hand-built)", async () => {
        const block = beaconBlock(fork, S + 1, indexOfKey(keys[K.block]), `${fork}/block-v1`);
        const root = proposerRoot(fork, block);
        await signRaw(
          keys[K.block],
          {
            type: "BLOCK",
            fork_info: stateForkInfo(fork),
            signingRoot: hex(root),
            block: ssz.phase0.BeaconBlock.toJson(block),
          },
          root
        );
      });
    }

    const blockSlots = fork === ForkName.phase0 ? [S + 2, S + 5 * SLOTS_PER_EPOCH + 3] : [S, S + 5 * SLOTS_PER_EPOCH + 3];
    for (const [i, slot] of blockSlots.entries()) {
      test(`BLOCK_V2 via Lodestar (${seq >= ForkSeq.bellatrix ? "block_header" : "full block"}, slot ${slot}${i === 0 && seq > 0 ? ", first slot of fork" : ""})`, async () => {
        const block = beaconBlock(fork, slot, indexOfKey(keys[K.block]), `${fork}/block-v2/${i}`);
        const root = proposerRoot(fork, block);
        // The root of the header equals the root of the block: cross-check Lodestar's types.
        assert.deepEqual(
          ssz.phase0.BeaconBlockHeader.hashTreeRoot(blockHeaderOf(fork, block)),
          sszTypesFor(fork).BeaconBlock.hashTreeRoot(block)
        );
        const {request} = await signViaLodestar(keys[K.block], root, slot, {type: SignableMessageType.BLOCK_V2, data: block});
        const sent = JSON.parse(request.body);
        assert.equal(sent.beacon_block.version, VERSION);
        assert.ok(seq >= ForkSeq.bellatrix ? sent.beacon_block.block_header : sent.beacon_block.block);
      });
    }

    // ---- attestations (key K.att) ----
    if (seq > 0) {
      test(`ATTESTATION via Lodestar (fork boundary: source ${E - 1} -> target ${E})`, async () => {
        const data = attestationData(S + 1, E - 1, E, `${fork}/att-boundary`, 2);
        await signViaLodestar(keys[K.att], attesterRoot(data), computeStartSlotAtEpoch(data.target.epoch), {
          type: SignableMessageType.ATTESTATION,
          data,
        });
      });
    }
    test(`ATTESTATION via Lodestar (source ${E + 1} -> target ${E + 2})`, async () => {
      const data = attestationData(computeStartSlotAtEpoch(E + 2) + 5, E + 1, E + 2, `${fork}/att`, 11);
      await signViaLodestar(keys[K.att], attesterRoot(data), computeStartSlotAtEpoch(data.target.epoch), {
        type: SignableMessageType.ATTESTATION,
        data,
      });
    });
    test("ATTESTATION hand-built with state-style fork_info", async () => {
      const data = attestationData(computeStartSlotAtEpoch(E + 3) + 9, E + 2, E + 3, `${fork}/att-raw`, 4);
      const root = attesterRoot(data);
      await signRaw(
        keys[K.att],
        {type: "ATTESTATION", fork_info: stateForkInfo(fork), signingRoot: hex(root), attestation: ssz.phase0.AttestationData.toJson(data)},
        root
      );
    });

    // ---- aggregation ----
    const aggSlot = computeStartSlotAtEpoch(E + 2) + 6;
    test(`AGGREGATION_SLOT via Lodestar (slot ${aggSlot})`, async () => {
      const root = computeSigningRoot(ssz.Slot, aggSlot, config.getDomain(aggSlot, DOMAIN_SELECTION_PROOF));
      await signViaLodestar(miscKey(), root, aggSlot, {type: SignableMessageType.AGGREGATION_SLOT, data: {slot: aggSlot}});
    });

    if (seq < ForkSeq.electra) {
      test("AGGREGATE_AND_PROOF (legacy, phase0 data) via Lodestar", async () => {
        const pk = miscKey();
        const ap = aggregateAndProof(fork, aggSlot, E + 2, indexOfKey(pk), `${fork}/agg-legacy`);
        const root = computeSigningRoot(ssz.phase0.AggregateAndProof, ap, config.getDomain(aggSlot, DOMAIN_AGGREGATE_AND_PROOF));
        await signViaLodestar(pk, root, aggSlot, {type: SignableMessageType.AGGREGATE_AND_PROOF, data: ap});
      });
    } else {
      test("AGGREGATE_AND_PROOF (legacy, Electra data inline with committee_bits, hand-built)", async () => {
        const pk = miscKey();
        const ap = aggregateAndProof(fork, aggSlot, E + 2, indexOfKey(pk), `${fork}/agg-legacy`);
        const type = sszTypesFor(fork).AggregateAndProof;
        const root = computeSigningRoot(type, ap, config.getDomain(aggSlot, DOMAIN_AGGREGATE_AND_PROOF));
        const json = type.toJson(ap);
        assert.ok(json.aggregate.committee_bits, "Electra aggregate must carry committee_bits");
        await signRaw(pk, {type: "AGGREGATE_AND_PROOF", fork_info: stateForkInfo(fork), signingRoot: hex(root), aggregate_and_proof: json}, root);
      });
    }

    test(`AGGREGATE_AND_PROOF_V2 {version: ${VERSION}} (hand-built)`, async () => {
      const pk = miscKey();
      const ap = aggregateAndProof(fork, aggSlot, E + 2, indexOfKey(pk), `${fork}/agg-v2`);
      const type = sszTypesFor(fork).AggregateAndProof;
      const root = computeSigningRoot(type, ap, config.getDomain(aggSlot, DOMAIN_AGGREGATE_AND_PROOF));
      await signRaw(
        pk,
        {
          type: "AGGREGATE_AND_PROOF_V2",
          fork_info: stateForkInfo(fork),
          signingRoot: hex(root),
          aggregate_and_proof: {version: VERSION, data: type.toJson(ap)},
        },
        root
      );
    });

    // ---- randao ----
    test("RANDAO_REVEAL via Lodestar", async () => {
      const slot = computeStartSlotAtEpoch(E + 3) + 4;
      const epoch = computeEpochAtSlot(slot);
      const root = computeSigningRoot(ssz.Epoch, epoch, config.getDomain(slot, DOMAIN_RANDAO));
      await signViaLodestar(miscKey(), root, slot, {type: SignableMessageType.RANDAO_REVEAL, data: {epoch}});
    });

    // ---- voluntary exit ----
    test(`VOLUNTARY_EXIT via Lodestar (exit epoch ${E + 4}${seq >= ForkSeq.deneb ? ", EIP-7044 Capella domain" : ""})`, async () => {
      const pk = miscKey();
      const exitEpoch = E + 4;
      const signingSlot = computeStartSlotAtEpoch(exitEpoch);
      const exit = {epoch: exitEpoch, validatorIndex: indexOfKey(pk)};
      const domain = exitDomain(signingSlot);
      if (seq >= ForkSeq.deneb) {
        assert.deepEqual(domain, computeDomain(DOMAIN_VOLUNTARY_EXIT, config.CAPELLA_FORK_VERSION, fromHexString(MAINNET_GVR)));
      } else {
        assert.deepEqual(domain, computeDomain(DOMAIN_VOLUNTARY_EXIT, config.forks[fork].version, fromHexString(MAINNET_GVR)));
      }
      const root = computeSigningRoot(ssz.phase0.VoluntaryExit, exit, domain);
      if (EXIT_DEPOSIT_STATUSES.includes(200)) {
        await signViaLodestar(pk, root, signingSlot, {type: SignableMessageType.VOLUNTARY_EXIT, data: exit});
      } else {
        await expectStatus(pk, {type: "VOLUNTARY_EXIT", fork_info: stateForkInfo(fork), signingRoot: hex(root), voluntary_exit: ssz.phase0.VoluntaryExit.toJson(exit)}, EXIT_DEPOSIT_STATUSES, "VOLUNTARY_EXIT policy");
      }
    });
    if (seq >= ForkSeq.deneb) {
      test("VOLUNTARY_EXIT hand-built with fork_info = Capella fork (EIP-7044)", async () => {
        const pk = miscKey();
        const exitEpoch = E + 5;
        const exit = {epoch: exitEpoch, validatorIndex: indexOfKey(pk)};
        const root = computeSigningRoot(ssz.phase0.VoluntaryExit, exit, exitDomain(computeStartSlotAtEpoch(exitEpoch)));
        const body = {type: "VOLUNTARY_EXIT", fork_info: stateForkInfo(ForkName.capella), signingRoot: hex(root), voluntary_exit: ssz.phase0.VoluntaryExit.toJson(exit)};
        if (EXIT_DEPOSIT_STATUSES.includes(200)) await signRaw(pk, body, root);
        else await expectStatus(pk, body, EXIT_DEPOSIT_STATUSES, "VOLUNTARY_EXIT policy");
      });
    }

    // ---- deposit (fork-independent: GENESIS_FORK_VERSION, zero genesis validators root) ----
    test("DEPOSIT via Lodestar (no fork_info)", async () => {
      const pk = miscKey();
      const data = {
        pubkey: fromHexString(pk),
        withdrawalCredentials: Uint8Array.from([0x01, ...new Uint8Array(11), ...bytes(`${fork}/wc`, 20)]),
        amount: 32_000_000_000 + seq,
        genesisForkVersion: config.GENESIS_FORK_VERSION,
      };
      const domain = computeDomain(DOMAIN_DEPOSIT, config.GENESIS_FORK_VERSION, ZERO_HASH);
      const root = computeSigningRoot(ssz.phase0.DepositMessage, {pubkey: data.pubkey, withdrawalCredentials: data.withdrawalCredentials, amount: data.amount}, domain);
      if (EXIT_DEPOSIT_STATUSES.includes(200)) {
        const {request} = await signViaLodestar(pk, root, S, {type: SignableMessageType.DEPOSIT, data});
        assert.equal(JSON.parse(request.body).fork_info, undefined);
      } else {
        await expectStatus(pk, {type: "DEPOSIT", signingRoot: hex(root), deposit: {pubkey: pk, withdrawal_credentials: hex(data.withdrawalCredentials), amount: String(data.amount), genesis_fork_version: hex(data.genesisForkVersion)}}, EXIT_DEPOSIT_STATUSES, "DEPOSIT policy");
      }
    });

    // ---- sync committee (Altair+) ----
    if (seq >= ForkSeq.altair) {
      const syncSlot = computeStartSlotAtEpoch(E + 6) + 9;
      test("SYNC_COMMITTEE_MESSAGE via Lodestar", async () => {
        const beaconBlockRoot = bytes(`${fork}/sync-bbr`);
        const root = computeSigningRoot(ssz.Root, beaconBlockRoot, config.getDomain(syncSlot, DOMAIN_SYNC_COMMITTEE));
        await signViaLodestar(miscKey(), root, syncSlot, {
          type: SignableMessageType.SYNC_COMMITTEE_MESSAGE,
          data: {beaconBlockRoot, slot: syncSlot},
        });
      });
      test("SYNC_COMMITTEE_SELECTION_PROOF via Lodestar", async () => {
        const data = {slot: syncSlot, subcommitteeIndex: 2};
        const root = computeSigningRoot(ssz.altair.SyncAggregatorSelectionData, data, config.getDomain(syncSlot, DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF));
        await signViaLodestar(miscKey(), root, syncSlot, {type: SignableMessageType.SYNC_COMMITTEE_SELECTION_PROOF, data});
      });
      test("SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF via Lodestar", async () => {
        const pk = miscKey();
        const cp = ssz.altair.ContributionAndProof.defaultValue();
        cp.aggregatorIndex = indexOfKey(pk);
        cp.selectionProof = fillerSig(`${fork}/sync-sel`);
        cp.contribution = {
          slot: syncSlot,
          beaconBlockRoot: bytes(`${fork}/sync-bbr`),
          subcommitteeIndex: 3,
          aggregationBits: bits(128, 0, 9, 77, 127),
          signature: fillerSig(`${fork}/contrib`),
        };
        const root = computeSigningRoot(ssz.altair.ContributionAndProof, cp, config.getDomain(syncSlot, DOMAIN_CONTRIBUTION_AND_PROOF));
        await signViaLodestar(pk, root, syncSlot, {type: SignableMessageType.SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF, data: cp});
      });
    }

    // ---- builder registration (Bellatrix+) ----
    if (seq >= ForkSeq.bellatrix) {
      test("VALIDATOR_REGISTRATION via Lodestar (builder domain, no fork_info)", async () => {
        const pk = miscKey();
        const slot = computeStartSlotAtEpoch(E + 7);
        const reg = {
          feeRecipient: bytes(`${fork}/fee-recipient`, 20),
          gasLimit: 36_000_000,
          timestamp: GENESIS_TIME + slot * 12,
          pubkey: fromHexString(pk),
        };
        const domain = computeDomain(DOMAIN_APPLICATION_BUILDER, config.GENESIS_FORK_VERSION, ZERO_HASH);
        const root = computeSigningRoot(ssz.bellatrix.ValidatorRegistrationV1, reg, domain);
        const {request} = await signViaLodestar(pk, root, slot, {type: SignableMessageType.VALIDATOR_REGISTRATION, data: reg});
        assert.equal(JSON.parse(request.body).fork_info, undefined);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Content negotiation and error codes

describe("response content negotiation", () => {
  before(() => needKeys());
  const fork = ForkName.fulu;
  const slot = forkStartSlot(fork) + 1000 * SLOTS_PER_EPOCH + 1;
  const epoch = computeEpochAtSlot(slot);
  const root = computeSigningRoot(ssz.Epoch, epoch, config.getDomain(slot, DOMAIN_RANDAO));
  const body = () => ({type: "RANDAO_REVEAL", fork_info: stateForkInfo(fork), signingRoot: hex(root), randao_reveal: {epoch: String(epoch)}});

  test("Accept: application/json -> {\"signature\":\"0x…\"} as application/json", async () => {
    const r = await postRaw(keys[K.misc2], body(), {accept: "application/json"});
    assert.equal(r.status, 200, r.text);
    assert.match(r.contentType, /^application\/json/i);
    const j = JSON.parse(r.text);
    assert.deepEqual(Object.keys(j), ["signature"]);
    verifyOrThrow(keys[K.misc2], root, j.signature, r.request);
  });
  test("Accept: text/plain -> bare 0x-hex signature as text/plain", async () => {
    const r = await postRaw(keys[K.misc2], body(), {accept: "text/plain"});
    assert.equal(r.status, 200, r.text);
    assert.match(r.contentType, /^text\/plain/i);
    assert.match(r.text, /^0x[0-9a-f]{192}$/);
    verifyOrThrow(keys[K.misc2], root, r.text, r.request);
  });
  test("Accept: */* -> JSON (what Lodestar 1.5.1's client sends and requires)", async () => {
    const r = await postRaw(keys[K.misc2], body(), {accept: "*/*"});
    assert.equal(r.status, 200, r.text);
    assert.match(r.contentType, /^application\/json/i);
    verifyOrThrow(keys[K.misc2], root, JSON.parse(r.text).signature, r.request);
  });
  test("request without the optional signingRoot is signed correctly", async () => {
    const b = body();
    delete b.signingRoot;
    await signRaw(keys[K.misc2], b, root);
  });
  test("headers sent by Lodestar's externalSignerPostSignature (diagnostic)", async (t) => {
    const mark = rec.log.length;
    try {
      await signViaLodestar(keys[K.misc2], root, slot, {type: SignableMessageType.RANDAO_REVEAL, data: {epoch}});
    } finally {
      const ent = rec.log.slice(mark).find((x) => x.method === "POST");
      t.diagnostic(`externalSignerPostSignature request headers: ${JSON.stringify(ent?.headers)}`);
      t.diagnostic(`keyward answered: HTTP ${ent?.status} content-type=${ent?.responseHeaders?.["content-type"]}`);
    }
  });
});

describe("fork_info shapes", () => {
  before(() => needKeys());
  // Web3Signer's Fork has previous_version/current_version/epoch. Teku and Lighthouse send the
  // beacon state's fork (epoch = fork activation epoch); Lodestar sends epoch = epoch of the
  // signing slot (still >= the activation epoch, so get_domain picks current_version). Both
  // must give the same domain and therefore the same signature.
  const fork = ForkName.electra;
  const slot = forkStartSlot(fork) + 500 * SLOTS_PER_EPOCH + 17;
  const epoch = computeEpochAtSlot(slot);
  const root = computeSigningRoot(ssz.Epoch, epoch, config.getDomain(slot, DOMAIN_RANDAO));
  test("fork.epoch = fork activation epoch (Teku/Lighthouse shape)", async () => {
    await signRaw(keys[K.misc2], {type: "RANDAO_REVEAL", fork_info: stateForkInfo(fork), signingRoot: hex(root), randao_reveal: {epoch: String(epoch)}}, root);
  });
  test("fork.epoch = epoch of the signing slot (Lodestar shape)", async () => {
    await signRaw(keys[K.misc2], {type: "RANDAO_REVEAL", fork_info: lodestarForkInfo(slot), signingRoot: hex(root), randao_reveal: {epoch: String(epoch)}}, root);
  });
});

describe("refusals", () => {
  before(() => needKeys());
  const fork = ForkName.fulu;
  const base = forkStartSlot(fork) + 2000 * SLOTS_PER_EPOCH;

  test("block: second, different block at the same slot -> 412; lower slot -> 412", async () => {
    const pk = keys[K.negBlock];
    const slot = base + 7;
    const b1 = beaconBlock(fork, slot, indexOfKey(pk), "neg/b1");
    const r1 = proposerRoot(fork, b1);
    const req = (b, r) => ({
      type: "BLOCK_V2",
      fork_info: stateForkInfo(fork),
      signingRoot: hex(r),
      beacon_block: {version: "FULU", block_header: ssz.phase0.BeaconBlockHeader.toJson(blockHeaderOf(fork, b))},
    });
    await signRaw(pk, req(b1, r1), r1);
    const b2 = beaconBlock(fork, slot, indexOfKey(pk), "neg/b2"); // different parent/state/body
    await expectStatus(pk, req(b2, proposerRoot(fork, b2)), 412, "double proposal");
    const b0 = beaconBlock(fork, slot - 1, indexOfKey(pk), "neg/b0");
    await expectStatus(pk, req(b0, proposerRoot(fork, b0)), 412, "block below the signed slot");
  });

  test("attestation: double vote -> 412; surround vote -> 412", async () => {
    const pk = keys[K.negAtt];
    const e = computeEpochAtSlot(base) + 10;
    const req = (d) => ({
      type: "ATTESTATION",
      fork_info: stateForkInfo(fork),
      signingRoot: hex(attesterRoot(d)),
      attestation: ssz.phase0.AttestationData.toJson(d),
    });
    const a1 = attestationData(computeStartSlotAtEpoch(e) + 3, e - 2, e, "neg/a1");
    await signRaw(pk, req(a1), attesterRoot(a1));
    const a1b = attestationData(computeStartSlotAtEpoch(e) + 3, e - 2, e, "neg/a1-other-root"); // same target, different root
    await expectStatus(pk, req(a1b), 412, "double vote");
    const a2 = attestationData(computeStartSlotAtEpoch(e + 1) + 3, e - 1, e + 1, "neg/a2");
    await signRaw(pk, req(a2), attesterRoot(a2));
    const sur = attestationData(computeStartSlotAtEpoch(e + 2) + 3, e - 3, e + 2, "neg/surround"); // surrounds a1 and a2
    await expectStatus(pk, req(sur), 412, "surround vote");
  });

  const rslot = base + 50 * SLOTS_PER_EPOCH;
  const repoch = computeEpochAtSlot(rslot);
  const rroot = computeSigningRoot(ssz.Epoch, repoch, config.getDomain(rslot, DOMAIN_RANDAO));

  test("signingRoot that does not match the data -> 400", async () => {
    await expectStatus(
      keys[K.misc2],
      {type: "RANDAO_REVEAL", fork_info: stateForkInfo(fork), signingRoot: hex(bytes("not-the-root")), randao_reveal: {epoch: String(repoch)}},
      400,
      "signingRoot mismatch"
    );
  });
  test("fork_info with a wrong genesis_validators_root -> 400", async () => {
    await expectStatus(
      keys[K.misc2],
      {type: "RANDAO_REVEAL", fork_info: stateForkInfo(fork, hex(bytes("other-chain-gvr"))), randao_reveal: {epoch: String(repoch)}},
      400,
      "wrong genesis_validators_root"
    );
  });
  test("unknown pubkey -> 404", async () => {
    const stranger = blst.SecretKey.fromKeygen(bytes("keyward-lodestar-stranger")).toPublicKey().toHex();
    assert.ok(!keys.includes(stranger));
    await expectStatus(
      stranger,
      {type: "RANDAO_REVEAL", fork_info: stateForkInfo(fork), signingRoot: hex(rroot), randao_reveal: {epoch: String(repoch)}},
      404,
      "unknown pubkey"
    );
  });
});
