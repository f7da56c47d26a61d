/**
 * SHA-256 (FIPS 180-4), synchronous, for fingerprints of predictor tensors: a
 * decode must refuse a predictor that differs from the one the encoder used by
 * even one bit, and the coders that need the check run synchronously (Web
 * Crypto's `crypto.subtle.digest` only answers through a promise).
 *
 * Read me first:
 * - {@link Sha256} hashes in pieces (`update` any number of times, then
 *   `digest`), {@link sha256} in one call. Words are big-endian as the standard
 *   says; the message schedule and the eight working variables stay int32, so the
 *   rounds are integer arithmetic only.
 * - Checked against the standard's examples and against `crypto.subtle.digest`
 *   on random inputs of every length around the block boundaries
 *   (`tests/sha256_test.ts`).
 *
 * @module
 */

/** The round constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const K = Int32Array.from([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

/** The initial hash value: the first 32 bits of the fractional parts of the square roots of the first 8 primes. */
const INITIAL = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];

/** Bytes of a message block. */
const BLOCK = 64;

/**
 * An incremental SHA-256.
 *
 * @example Hashing in pieces gives the one-call digest
 * ```ts
 * import { Sha256, sha256 } from "./sha256.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = new TextEncoder().encode("abc");
 * const hash = new Sha256();
 * hash.update(bytes.subarray(0, 1));
 * hash.update(bytes.subarray(1));
 * assertEquals(hash.digest(), sha256(bytes));
 * ```
 */
export class Sha256 {
  readonly #state = Int32Array.from(INITIAL);
  readonly #schedule = new Int32Array(64);
  readonly #buffer = new Uint8Array(BLOCK);
  #buffered = 0;
  #length = 0;
  #done = false;

  /**
   * Hashes more bytes.
   *
   * @param bytes The next bytes of the message.
   * @throws {TypeError} After {@link Sha256.digest}.
   */
  update(bytes: Uint8Array): void {
    if (this.#done) {
      throw new TypeError("Cannot update a SHA-256 after its digest");
    }
    this.#length += bytes.length;
    let at = 0;
    if (this.#buffered > 0) {
      const take = Math.min(BLOCK - this.#buffered, bytes.length);
      this.#buffer.set(bytes.subarray(0, take), this.#buffered);
      this.#buffered += take;
      at = take;
      if (this.#buffered < BLOCK) return;
      this.#blocks(this.#buffer, 0, BLOCK);
      this.#buffered = 0;
    }
    const whole = at + Math.floor((bytes.length - at) / BLOCK) * BLOCK;
    this.#blocks(bytes, at, whole);
    this.#buffer.set(bytes.subarray(whole));
    this.#buffered = bytes.length - whole;
  }

  /**
   * Finishes the hash.
   *
   * @returns The 32-byte digest.
   * @throws {TypeError} When called twice.
   */
  digest(): Uint8Array {
    if (this.#done) {
      throw new TypeError("Cannot take the digest of a SHA-256 twice");
    }
    const bits = this.#length * 8;
    const tail = new Uint8Array(
      this.#buffered + 9 <= BLOCK ? BLOCK : 2 * BLOCK,
    );
    tail.set(this.#buffer.subarray(0, this.#buffered));
    tail[this.#buffered] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    this.#blocks(tail, 0, tail.length);
    this.#done = true;
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setInt32(4 * i, this.#state[i]);
    return out;
  }

  /** Runs the compression function over `bytes[from..to)`, whole blocks. */
  #blocks(bytes: Uint8Array, from: number, to: number): void {
    const w = this.#schedule;
    const s = this.#state;
    let h0 = s[0], h1 = s[1], h2 = s[2], h3 = s[3];
    let h4 = s[4], h5 = s[5], h6 = s[6], h7 = s[7];
    for (let at = from; at < to; at += BLOCK) {
      for (let i = 0; i < 16; i++) {
        const j = at + 4 * i;
        w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) |
          bytes[j + 3];
      }
      for (let i = 16; i < 64; i++) {
        const x = w[i - 15];
        const y = w[i - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^
          (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^
          (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      for (let i = 0; i < 64; i++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
          ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
          ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) | 0;
        h = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0;
      h1 = (h1 + b) | 0;
      h2 = (h2 + c) | 0;
      h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0;
      h5 = (h5 + f) | 0;
      h6 = (h6 + g) | 0;
      h7 = (h7 + h) | 0;
    }
    s[0] = h0;
    s[1] = h1;
    s[2] = h2;
    s[3] = h3;
    s[4] = h4;
    s[5] = h5;
    s[6] = h6;
    s[7] = h7;
  }
}

/**
 * The SHA-256 digest of some bytes.
 *
 * @param bytes The message.
 * @returns Its 32-byte digest.
 *
 * @example The standard's example "abc"
 * ```ts
 * import { sha256 } from "./sha256.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
 * assertEquals(
 *   hex(sha256(new TextEncoder().encode("abc"))),
 *   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * );
 * ```
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  const hash = new Sha256();
  hash.update(bytes);
  return hash.digest();
}
