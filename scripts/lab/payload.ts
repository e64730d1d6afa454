// Deterministic payload for transfer tests: the lab HTTP server streams it and a
// test recomputes its SHA-256 locally instead of trusting the wire.
//
// Definition (independent of chunking): word k (k = 0, 1, ...) is the k-th
// output of xorshift32 (13, 17, 5) started from PAYLOAD_SEED; byte i of the
// payload is byte (i mod 4) of word floor(i / 4) in little-endian order. Any
// prefix of the stream of length N is "the payload of N bytes".

/** Nonzero seed (xorshift32 is stuck at 0); the value itself is arbitrary. */
export const PAYLOAD_SEED = 0x9e3779b9;

/** Default chunk size: big enough that per-chunk overhead vanishes, small enough to stream. */
export const PAYLOAD_CHUNK = 256 * 1024;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Stateful generator; `fill` continues exactly where the previous call stopped. */
export class PayloadGenerator {
  private state = PAYLOAD_SEED >>> 0;
  // Bytes of the current word not yet handed out (when a fill ended mid-word).
  private pending = 0;
  private pendingWord = 0;

  private next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  /** Fills `out` with the next out.length payload bytes and returns it. */
  fill(out: Uint8Array): Uint8Array {
    let i = 0;
    const n = out.length;
    while (this.pending > 0 && i < n) {
      out[i++] = (this.pendingWord >>> (8 * (4 - this.pending))) & 0xff;
      this.pending--;
    }
    // Fast path: whole words through a Uint32Array view when aligned.
    const off = out.byteOffset + i;
    if (LITTLE_ENDIAN && off % 4 === 0) {
      const words = (n - i) >>> 2;
      const view = new Uint32Array(out.buffer, off, words);
      for (let k = 0; k < words; k++) view[k] = this.next();
      i += words * 4;
    }
    while (i < n) {
      const w = this.next();
      const take = Math.min(4, n - i);
      for (let b = 0; b < take; b++) out[i++] = (w >>> (8 * b)) & 0xff;
      if (take < 4) {
        this.pendingWord = w;
        this.pending = 4 - take;
      }
    }
    return out;
  }
}

/** Yields the payload of `total` bytes in chunks of at most `chunk` bytes (fresh buffers). */
export function* payloadChunks(total: number, chunk = PAYLOAD_CHUNK): Generator<Uint8Array> {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`payload size ${total}`);
  const gen = new PayloadGenerator();
  for (let left = total; left > 0; ) {
    const n = Math.min(chunk, left);
    yield gen.fill(new Uint8Array(n));
    left -= n;
  }
}

/** The whole payload of `total` bytes in memory; for small sizes and tests. */
export function payloadBytes(total: number): Uint8Array {
  return new PayloadGenerator().fill(new Uint8Array(total));
}

/** Hex SHA-256 of the payload of `total` bytes, computed without holding it in memory. */
export function payloadSha256(total: number): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const c of payloadChunks(total)) h.update(c);
  return h.digest("hex");
}

/** A byte stream of the payload, pulled chunk by chunk (backpressure-friendly). */
export function payloadStream(total: number, chunk = PAYLOAD_CHUNK): ReadableStream<Uint8Array> {
  const it = payloadChunks(total, chunk);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const r = it.next();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
  });
}
