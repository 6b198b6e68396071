// Hand-built Tezos sign-request payloads (watermark byte included) for the keyward Taquito test.
//
// Layouts (big-endian throughout):
//   0x11 Tenderbake block:  magic | chain_id(4) | level i32 | proto_level u8 | predecessor(32)
//                           | timestamp i64 | validation_passes u8 | operations_hash(32)
//                           | fitness (u32 total length, then u32-length-prefixed items:
//                             version 0x02, level, locked_round (empty or i32),
//                             -1 - predecessor_round, round)
//                           | context(32) | payload_hash(32) | payload_round i32
//                           | proof_of_work_nonce(8) | seed_nonce_hash presence 0x00 | per_block_votes u8
//   0x12 / 0x13 consensus:  magic | chain_id(4) | branch(32) | tag u8 | body
//     tag 0x14 preattestation, 0x15 attestation: slot u16 | level i32 | round i32 | payload_hash(32)
//     tag 0x17 attestation_with_dal: the same, then dal_attestation as a Zarith natural
//     tag 0x28 / 0x29 BLS-mode preattestation / attestation (tz4): level i32 | round i32 | payload_hash(32)
//
// The filler (hashes, nonces) is deterministic: sha256 of a label, so a run is reproducible.

import {createHash} from "node:crypto";
import {b58cdecode, b58cencode, prefix, Prefix} from "@taquito/utils";

export const MAGIC = {BLOCK: 0x11, PREATTESTATION: 0x12, ATTESTATION: 0x13, GENERIC: 0x03};
export const TAG = {
  PREATTESTATION: 0x14,
  ATTESTATION: 0x15,
  ATTESTATION_WITH_DAL: 0x17,
  BLS_PREATTESTATION: 0x28,
  BLS_ATTESTATION: 0x29,
};

export function filler(label, len = 32) {
  const out = new Uint8Array(len);
  let i = 0;
  for (let ctr = 0; i < len; ctr++) {
    const h = createHash("sha256").update(`keyward-taquito/${label}/${ctr}`).digest();
    for (let j = 0; j < h.length && i < len; j++) out[i++] = h[j];
  }
  return out;
}

export const toHex = (b) => Buffer.from(b).toString("hex");
export const fromHex = (h) => new Uint8Array(Buffer.from(h, "hex"));

// Decode a base58check value with Taquito and make sure it really carries the expected prefix
// (Taquito's b58cdecode only strips the prefix length; re-encoding must give the same string).
export function b58Strict(value, prefixBytes, len) {
  const raw = b58cdecode(value, prefixBytes);
  const back = b58cencode(raw, prefixBytes);
  if (back !== value) throw new Error(`${value}: wrong base58 prefix`);
  if (len !== undefined && raw.length !== len) throw new Error(`${value}: payload is ${raw.length} bytes, want ${len}`);
  return new Uint8Array(raw);
}

// Prefixes Taquito 21 does not know (from octez src/lib_crypto/base58.ml).
export const BLSIG_PREFIX = new Uint8Array([0x28, 0xab, 0x40, 0xcf]);

export function chainIdBytes(netId) {
  return b58Strict(netId, prefix[Prefix.NET], 4);
}

class Writer {
  constructor() {
    this.parts = [];
  }
  u8(v) {
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  u16(v) {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v);
    this.parts.push(b);
    return this;
  }
  i32(v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v);
    this.parts.push(b);
    return this;
  }
  u32(v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    this.parts.push(b);
    return this;
  }
  i64(v) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(v));
    this.parts.push(b);
    return this;
  }
  bytes(b) {
    this.parts.push(Uint8Array.from(b));
    return this;
  }
  done() {
    return new Uint8Array(Buffer.concat(this.parts.map((p) => Buffer.from(p))));
  }
}

export function zarithN(value) {
  let v = BigInt(value);
  if (v < 0n) throw new Error("zarithN: negative");
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

function i32Bytes(v) {
  return new Writer().i32(v).done();
}

export function fitness({level, round, lockedRound = null, predecessorRound = 0}) {
  const items = [
    Uint8Array.of(0x02),
    i32Bytes(level),
    lockedRound === null ? new Uint8Array(0) : i32Bytes(lockedRound),
    i32Bytes(-1 - predecessorRound),
    i32Bytes(round),
  ];
  const w = new Writer();
  for (const it of items) w.u32(it.length).bytes(it);
  const body = w.done();
  return new Writer().u32(body.length).bytes(body).done();
}

// Mainnet-like block: 198 bytes without a locked round, 202 with one.
export function blockPayload({chainId, level, round = 0, lockedRound = null, predecessorRound = 0, label, payloadRound = round}) {
  return new Writer()
    .u8(MAGIC.BLOCK)
    .bytes(chainId)
    .i32(level)
    .u8(3) // proto_level
    .bytes(filler(`${label}/predecessor/${level}`))
    .i64(1_763_700_000 + level * 6) // timestamp (seconds)
    .u8(4) // validation_passes
    .bytes(filler(`${label}/operations/${level}/${round}`))
    .bytes(fitness({level, round, lockedRound, predecessorRound}))
    .bytes(filler(`${label}/context/${level}/${round}`))
    .bytes(filler(`${label}/payload/${level}/${round}`))
    .i32(payloadRound)
    .bytes(filler(`${label}/pow/${level}`, 8))
    .u8(0x00) // no seed_nonce_hash
    .u8(0x02) // per_block_votes: liquidity baking "pass"
    .done();
}

// Branch + tag + body of a tz1/tz2/tz3 (pre)attestation, without magic and chain id: this is
// what Taquito's LocalForger produces for an operation with a single consensus content.
export function consensusOperation({tag, branch, slot, level, round, payloadHash, dal = null}) {
  const w = new Writer().bytes(branch).u8(tag).u16(slot).i32(level).i32(round).bytes(payloadHash);
  if (tag === TAG.ATTESTATION_WITH_DAL) w.bytes(zarithN(dal));
  else if (dal !== null) throw new Error("dal content only with tag 0x17");
  return w.done();
}

export function consensusPayload({magic, chainId, ...op}) {
  return new Writer().u8(magic).bytes(chainId).bytes(consensusOperation(op)).done();
}

// tz4 BLS-mode (pre)attestation: no slot, no DAL content (78 bytes with magic and chain id).
export function blsConsensusPayload({magic, chainId, tag, branch, level, round, payloadHash}) {
  return new Writer().u8(magic).bytes(chainId).bytes(branch).u8(tag).i32(level).i32(round).bytes(payloadHash).done();
}

// Offsets a signer reads for its high watermark (tezos.md 1.4), used as a self-check of the builders.
export function blockLevelRound(p) {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const F = dv.getUint32(83);
  return {level: dv.getInt32(5), round: dv.getInt32(83 + F)};
}
