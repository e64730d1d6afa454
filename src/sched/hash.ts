// The hash functions the kernel's hashing schedulers use, bit for bit, on host-order u32 values.
//
//   hash_32 (include/linux/hash.h): the multiplicative hash dh, sh, lblc and lblcr put an IPv4
//     address through. x86-64 and most architectures use the generic form, val * GOLDEN_RATIO_32
//     keeping the top `bits` bits (m68k and microblaze have their own __hash_32; ignored).
//   hsiphash (lib/siphash.c): what mh hashes with. On 64-bit kernels it is SipHash-1-3 with
//     64-bit key words ("HalfSipHash1-3 actually be SipHash1-3, for performance reasons"); on
//     32-bit kernels it is the real HalfSipHash-1-3 and gives other values. ringvs reproduces the
//     64-bit form, the one every x86-64 director runs. mh hashes a 4-byte u32 stored in host
//     order, which x86 reads back little-endian, so the message word is the value itself.
//
// Both run per decision, so they work on int32 halves and allocate nothing.

/** The kernel's GOLDEN_RATIO_32 (2^32 / phi, negated): the multiplier of hash_32. */
export const GOLDEN_RATIO_32 = 0x61c88647;

/** hash_32(val, bits): the top `bits` bits of the 32-bit product val * GOLDEN_RATIO_32. */
export function hash32(val: number, bits: number): number {
  return Math.imul(val, GOLDEN_RATIO_32) >>> (32 - bits);
}

/** A 64-bit key word pair of hsiphash_key_t, each as (hi, lo) u32 halves. */
export interface HsiphashKey {
  readonly k0hi: number;
  readonly k0lo: number;
  readonly k1hi: number;
  readonly k1lo: number;
}

/** hsiphash_key_t from two unsigned longs (each below 2^53). */
export function hsiphashKey(k0: number, k1: number): HsiphashKey {
  return {
    k0hi: Math.floor(k0 / 2 ** 32) >>> 0,
    k0lo: k0 >>> 0,
    k1hi: Math.floor(k1 / 2 ** 32) >>> 0,
    k1lo: k1 >>> 0,
  };
}

// "somepseudorandomlygeneratedbytes", SIPHASH_CONST_0..3, as (hi, lo).
const C0H = 0x736f6d65, C0L = 0x70736575;
const C1H = 0x646f7261, C1L = 0x6e646f6d;
const C2H = 0x6c796765, C2L = 0x6e657261;
const C3H = 0x74656462, C3L = 0x79746573;

/** hsiphash(&v, sizeof(u32), key) of a 64-bit little-endian kernel: SipHash-1-3 of the four
 *  bytes of `v`, truncated to its low 32 bits. Returns a u32. */
export function hsiphashU32(v: number, key: HsiphashKey): number {
  // PREAMBLE(4): v0..v3 = consts ^ key words; b = len << 56 | the message (< 8 bytes, so it all
  // goes into b and there is no compression round before the finalisation).
  let v0h = C0H ^ key.k0hi, v0l = C0L ^ key.k0lo;
  let v1h = C1H ^ key.k1hi, v1l = C1L ^ key.k1lo;
  let v2h = C2H ^ key.k0hi, v2l = C2L ^ key.k0lo;
  let v3h = C3H ^ key.k1hi, v3l = C3L ^ key.k1lo;
  const bh = 4 << 24;
  const bl = v | 0;
  // HPOSTAMBLE: v3 ^= b; round; v0 ^= b; v2 ^= 0xff; three rounds.
  v3h ^= bh;
  v3l ^= bl;
  let t: number, th: number, tl: number;
  for (let r = 0; r < 4; r++) {
    if (r === 1) {
      v0h ^= bh;
      v0l ^= bl;
      v2l ^= 0xff;
    }
    // SIPHASH_PERMUTATION(v0, v1, v2, v3), 64-bit adds with carry, rotations on halves.
    // v0 += v1; v1 = rol64(v1, 13); v1 ^= v0; v0 = rol64(v0, 32);
    t = (v0l + v1l) | 0;
    v0h = (v0h + v1h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
    v0l = t;
    th = (v1h << 13) | (v1l >>> 19);
    tl = (v1l << 13) | (v1h >>> 19);
    v1h = th ^ v0h;
    v1l = tl ^ v0l;
    t = v0h;
    v0h = v0l;
    v0l = t;
    // v2 += v3; v3 = rol64(v3, 16); v3 ^= v2;
    t = (v2l + v3l) | 0;
    v2h = (v2h + v3h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
    v2l = t;
    th = (v3h << 16) | (v3l >>> 16);
    tl = (v3l << 16) | (v3h >>> 16);
    v3h = th ^ v2h;
    v3l = tl ^ v2l;
    // v0 += v3; v3 = rol64(v3, 21); v3 ^= v0;
    t = (v0l + v3l) | 0;
    v0h = (v0h + v3h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
    v0l = t;
    th = (v3h << 21) | (v3l >>> 11);
    tl = (v3l << 21) | (v3h >>> 11);
    v3h = th ^ v0h;
    v3l = tl ^ v0l;
    // v2 += v1; v1 = rol64(v1, 17); v1 ^= v2; v2 = rol64(v2, 32);
    t = (v2l + v1l) | 0;
    v2h = (v2h + v1h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
    v2l = t;
    th = (v1h << 17) | (v1l >>> 15);
    tl = (v1l << 17) | (v1h >>> 15);
    v1h = th ^ v2h;
    v1l = tl ^ v2l;
    t = v2h;
    v2h = v2l;
    v2l = t;
  }
  // (v0 ^ v1) ^ (v2 ^ v3), returned as u32: the low half.
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}
