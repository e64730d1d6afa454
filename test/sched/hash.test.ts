import { describe, expect, test } from "bun:test";
import { hash32, hsiphashKey, hsiphashU32 } from "../../src/sched/hash.ts";

// An independent, slow SipHash-c-d on BigInt over arbitrary bytes, straight from the paper's
// definition. Checked against the paper's own test vector, then used to check the fast
// int32-halves hsiphashU32.
const MASK = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK;
function siphashRef(c: number, d: number, k0: bigint, k1: bigint, msg: Uint8Array): bigint {
  let v0 = 0x736f6d6570736575n ^ k0;
  let v1 = 0x646f72616e646f6dn ^ k1;
  let v2 = 0x6c7967656e657261n ^ k0;
  let v3 = 0x7465646279746573n ^ k1;
  const round = (): void => {
    v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const word = (at: number, len: number): bigint => {
    let w = 0n;
    for (let i = len - 1; i >= 0; i--) w = (w << 8n) | BigInt(msg[at + i]);
    return w;
  };
  const full = msg.length - (msg.length % 8);
  for (let at = 0; at < full; at += 8) {
    const m = word(at, 8);
    v3 ^= m;
    for (let i = 0; i < c; i++) round();
    v0 ^= m;
  }
  const b = (BigInt(msg.length & 0xff) << 56n) | word(full, msg.length - full);
  v3 ^= b;
  for (let i = 0; i < c; i++) round();
  v0 ^= b;
  v2 ^= 0xffn;
  for (let i = 0; i < d; i++) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

describe("hash_32 (include/linux/hash.h)", () => {
  test("is the top bits of val * 0x61C88647", () => {
    for (const v of [0, 1, 0x0a000001, 0xc0a80001, 0xffffffff, 123456789]) {
      const want = Number(((BigInt(v) * 0x61c88647n) & 0xffffffffn) >> 24n);
      expect(hash32(v, 8)).toBe(want);
      expect(hash32(v, 10)).toBe(Number(((BigInt(v) * 0x61c88647n) & 0xffffffffn) >> 22n));
    }
    // Literals used by the dh/sh tests.
    expect([hash32(0xc0a80001, 8), hash32(0x0a000001, 8), hash32(0x0a000002, 8)]).toEqual([192, 39, 137]);
  });
});

describe("hsiphash, 64-bit kernel form (SipHash-1-3 truncated to u32)", () => {
  test("the reference SipHash-2-4 gives the paper's test vector", () => {
    // SipHash paper, appendix A: key 00..0f, message 00..0e.
    const key = Uint8Array.from({ length: 16 }, (_, i) => i);
    const k0 = new DataView(key.buffer).getBigUint64(0, true);
    const k1 = new DataView(key.buffer).getBigUint64(8, true);
    const msg = Uint8Array.from({ length: 15 }, (_, i) => i);
    expect(siphashRef(2, 4, k0, k1, msg)).toBe(0xa129ca6149be45e5n);
  });

  test("matches the reference SipHash-1-3 of the four little-endian bytes", () => {
    const key = hsiphashKey(2654435761, 2654435761);
    let x = 0x12345678;
    for (let i = 0; i < 500; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, x, true);
      const want = Number(siphashRef(1, 3, 2654435761n, 2654435761n, bytes) & 0xffffffffn);
      expect(hsiphashU32(x, key)).toBe(want);
    }
  });

  test("gives the values of a C transcription of lib/siphash.c with ip_vs_mh's keys", () => {
    // Printed by gcc from the kernel's SIPHASH_PERMUTATION / HPREAMBLE / HPOSTAMBLE macros with
    // key words 2654435761 (hash1) and 2654446892 (hash2) as in generate_hash_secret().
    const h1 = hsiphashKey(2654435761, 2654435761);
    const h2 = hsiphashKey(2654446892, 2654446892);
    const rows: [number, number, number][] = [
      [0, 492468162, 4169286463],
      [1, 384591538, 2182130385],
      [0x0a000001, 50859236, 1224331457],
      [0xc0a80001, 2201249422, 377725421],
      [0xffffffff, 583391001, 4149874525],
      [12345678, 662517665, 1747911032],
    ];
    for (const [v, a, b] of rows) expect([hsiphashU32(v, h1), hsiphashU32(v, h2)]).toEqual([a, b]);
  });
});
