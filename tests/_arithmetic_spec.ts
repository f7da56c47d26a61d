/**
 * FORMAT.md §4 word for word, in BigInt, one bit at a time: the arithmetic coder
 * as the format's text states it, with no cleverness, as an oracle for the fast
 * coder and as a stand-in for the reference tools' reader.
 *
 * @module
 */

const HALF = 1n << 31n;
const QUARTER = 1n << 30n;
const MASK = (1n << 32n) - 1n;

function cumulativeOf(frequencies: ArrayLike<number>): bigint[] {
  const cum = [0n];
  for (let s = 0; s < frequencies.length; s++) {
    cum.push(cum[s] + BigInt(frequencies[s]));
  }
  return cum;
}

/** What the literal encoder saw, so that tests can show a path was exercised. */
export interface SpecRun {
  /** The coded bytes. */
  readonly bytes: Uint8Array;
  /** Most pending bits at once. */
  readonly maxPending: number;
  /** Whether some symbol left low == high (32 bits shifted at once). */
  readonly sawEqualBounds: boolean;
}

/** Encodes as FORMAT.md §4 says. */
export function specEncode(
  symbols: ArrayLike<number>,
  frequencies: ArrayLike<number>,
): SpecRun {
  const cum = cumulativeOf(frequencies);
  const total = cum[frequencies.length];
  let low = 0n;
  let high = MASK;
  let pending = 0;
  let maxPending = 0;
  let sawEqualBounds = false;
  const bits: number[] = [];
  const emit = (bit: number) => {
    bits.push(bit);
    for (; pending > 0; pending--) bits.push(1 - bit);
  };
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i];
    const range = high - low + 1n;
    high = low + range * cum[s + 1] / total - 1n;
    low = low + range * cum[s] / total;
    if (low === high) sawEqualBounds = true;
    for (;;) {
      if (high < HALF) {
        emit(0);
      } else if (low >= HALF) {
        emit(1);
        low -= HALF;
        high -= HALF;
      } else if (low >= QUARTER && high < 3n * QUARTER) {
        pending++;
        low -= QUARTER;
        high -= QUARTER;
      } else {
        break;
      }
      low = (2n * low) & MASK;
      high = ((2n * high) & MASK) | 1n;
      maxPending = Math.max(maxPending, pending);
    }
  }
  pending++;
  emit(low < QUARTER ? 0 : 1);
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((bit, i) => (bytes[i >> 3] |= bit << (7 - (i & 7))));
  return { bytes, maxPending, sawEqualBounds };
}

/** Decodes `count` symbols as FORMAT.md §4 says (bits past the end read as 0). */
export function specDecode(
  bytes: Uint8Array,
  count: number,
  frequencies: ArrayLike<number>,
): number[] {
  const cum = cumulativeOf(frequencies);
  const total = cum[frequencies.length];
  let position = 0;
  const nextBit = () => {
    const bit = position < bytes.length * 8
      ? (bytes[position >> 3] >> (7 - (position & 7))) & 1
      : 0;
    position++;
    return BigInt(bit);
  };
  let value = 0n;
  for (let i = 0; i < 32; i++) value = (value << 1n) | nextBit();
  let low = 0n;
  let high = MASK;
  const symbols: number[] = [];
  for (let i = 0; i < count; i++) {
    const range = high - low + 1n;
    const target = ((value - low + 1n) * total - 1n) / range;
    let s = 0;
    while (!(cum[s] <= target && target < cum[s + 1])) s++;
    symbols.push(s);
    high = low + range * cum[s + 1] / total - 1n;
    low = low + range * cum[s] / total;
    for (;;) {
      if (high < HALF) {
        // nothing to subtract
      } else if (low >= HALF) {
        low -= HALF;
        high -= HALF;
        value -= HALF;
      } else if (low >= QUARTER && high < 3n * QUARTER) {
        low -= QUARTER;
        high -= QUARTER;
        value -= QUARTER;
      } else {
        break;
      }
      low = (2n * low) & MASK;
      high = ((2n * high) & MASK) | 1n;
      value = ((2n * value) & MASK) | nextBit();
    }
  }
  return symbols;
}
