/**
 * The pack's row dictionary: the K and V rows of the tokens a block has coded,
 * so that a later dump can refer to any earlier row (an exact repeat) or predict
 * a K row by rotating an earlier one (RoPE), across dumps and runs.
 *
 * Read me first:
 * - Every token of a dump gets an entry, numbered in coding order from 0 (its
 *   id), holding its K row then its V row in an arena of {@link ARENA_WORDS}
 *   words, and its sequence position. The arena is a ring of chunks of
 *   {@link CHUNK_WORDS}: rows are written at a growing virtual offset (a pair
 *   that would straddle a chunk's end starts at the next chunk), and an entry
 *   stays usable until the ring overwrites it; the entry table is a ring of
 *   {@link ENTRY_CAPACITY} ids. Chunks are allocated when first reached and the
 *   entry table grows by doubling, so memory follows the block until it reaches
 *   about 52 MB (encoder; 56 MB decoder), whatever the block holds.
 * - Encoder and decoder reserve the entries of a whole dump before coding it, so
 *   both agree on which earlier entries survive; a reference must name an entry
 *   that is still usable after that and has the same row length
 *   ({@link PackRowDictionary.usable}), which the decoder checks before reading.
 *   A dump whose rows do not fit in the ring at once uses no dictionary.
 * - Finding repeats is the encoder's business alone: it hashes rows into a table
 *   per kind, two slots per hash (a row replaces the entry it repeats, else the
 *   older of the two; a collision only loses a repeat, every hit is compared
 *   word by word). A table starts at {@link FIRST_TABLE_SLOTS} slots and grows
 *   fourfold (rehashing the rows in the ring) to keep 16 slots per entry, up
 *   to {@link TABLE_SLOTS}: a small block allocates little. The decoder follows
 *   the ids it reads and never hashes.
 * - Ids and virtual offsets are exact integers in doubles (below 2^53).
 *
 * @module
 */

/** Words of the arena: 2^24 (32 MiB). */
export const ARENA_WORDS = 1 << 24;
/** Words of each arena chunk, allocated when first reached: 2^20 (2 MiB). */
export const CHUNK_WORDS = 1 << 20;
/** Entries remembered: 2^20 tokens. */
export const ENTRY_CAPACITY = 1 << 20;
/** Most slots of each hash table (K and V): 2^20, in pairs. */
export const TABLE_SLOTS = 1 << 20;
/** Slots of each hash table at first: 2^12. */
export const FIRST_TABLE_SLOTS = 1 << 12;

const ENTRY_MASK = ENTRY_CAPACITY - 1;

/**
 * Rows of at least this many words are copied with `set` on a view rather
 * than by a loop (about where the two cost the same here).
 */
const VIEW_COPY = 48;

/** The largest id a hash slot holds (as `id + 1` in an Int32Array). */
const MAX_HASHED_ID = 0x7ffffffe;

/**
 * `offset % divisor` for the integer offsets and sizes of a dictionary (below
 * 2^53), without a floating-point remainder (a library call, about 10 ns here,
 * against 1 ns): the floor of their quotient is exact there, since a quotient
 * below an integer by at least 1 / divisor does not round up to it.
 */
function remainder(offset: number, divisor: number): number {
  return offset - Math.floor(offset / divisor) * divisor;
}

/** The FNV-1a offset basis seeded by a row's kind and length. */
function hashSeed(kind: number, length: number): number {
  return Math.imul(0x811c9dc5 ^ kind, 0x01000193) ^ length;
}

/** The last mixing of a row's hash. */
function hashFinish(hash: number): number {
  return (hash ^ (hash >>> 15)) >>> 0;
}

/**
 * The rows of a block's tokens, with lookup of exact repeats (encoder) and
 * bounds-checked access by id (both sides).
 *
 * @example A V row seen in one dump is found again in the next
 * ```ts
 * import { PackRowDictionary } from "./pack_row_dictionary.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dictionary = new PackRowDictionary();
 * const row = Uint16Array.from([5, 6, 7, 8]);
 * const first = dictionary.reserve(1, 4);
 * dictionary.copyRow(first, 1, row, 0, true);
 * dictionary.hashRows(row, row, 0, first);
 * assertEquals(dictionary.findAndRemember(1, row, 0, first), -1);
 * const second = dictionary.reserve(1, 4);
 * dictionary.copyRow(second, 1, row, 0, true);
 * dictionary.hashRows(row, row, 0, second);
 * assertEquals(dictionary.findAndRemember(1, row, 0, second), first);
 * const back = new Uint16Array(4);
 * dictionary.copyRow(first, 1, back, 0, false);
 * assertEquals(back, row);
 * ```
 */
export class PackRowDictionary {
  /** The ring's size in words: a whole number of chunks. */
  readonly capacity: number;
  /** Words per chunk: {@link CHUNK_WORDS}, or a quarter of a smaller ring. */
  readonly chunkWords: number;
  /** The ring, in chunks allocated when first reached. */
  readonly #chunks: Uint16Array[] = [];
  /** Virtual arena offset of each entry's K row (by `id mod capacity`). */
  #offset = new Float64Array(0);
  /** Row length of each entry. */
  #rowLength = new Int32Array(0);
  /** Sequence position of each entry's token. */
  #position = new Float64Array(0);
  /** Hash of each entry's K row and V row (`2 * slot + kind`; encoder). */
  #hashes = new Int32Array(0);
  /**
   * Per kind (0 K, 1 V): `id + 1` of the newest entry in each hash slot, in 32
   * bits (half the memory of doubles; ids past {@link MAX_HASHED_ID} are not
   * made findable, which no block reaches: a block of 2 GiB holds fewer than
   * 2^29 tokens).
   */
  #slots: readonly Int32Array[] = [];
  /** The largest hash tables so far (K, V), whose memory later tables reuse. */
  #tableSpace: Int32Array[] = [new Int32Array(0), new Int32Array(0)];
  /** Ids handed out so far (the next id). */
  #entries = 0;
  /** One past the newest id made findable (encoder). */
  #remembered = 0;
  /** Virtual arena offset after the last reserved row. */
  #end = 0;

  /**
   * An empty dictionary; it allocates as rows come.
   *
   * @param arenaWords Ring size in words (tests use small rings).
   */
  constructor(arenaWords: number = ARENA_WORDS) {
    this.chunkWords = Math.max(
      1,
      Math.min(CHUNK_WORDS, Math.floor(arenaWords / 4)),
    );
    this.capacity = Math.floor(arenaWords / this.chunkWords) * this.chunkWords;
  }

  /**
   * Empties the dictionary (the start of a new block), keeping its memory: the
   * ring's chunks, entry tables and hash tables are reused as they are reached
   * again, and it behaves as a new one.
   *
   * @example
   * ```ts
   * import { PackRowDictionary } from "./pack_row_dictionary.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const dictionary = new PackRowDictionary();
   * const row = Uint16Array.from([5, 6, 7, 8]);
   * dictionary.copyRow(dictionary.reserve(1, 4), 1, row, 0, true);
   * dictionary.hashRows(row, row, 0, 0);
   * assertEquals(dictionary.findAndRemember(1, row, 0, 0), -1);
   * dictionary.clear();
   * const again = dictionary.reserve(1, 4);
   * dictionary.copyRow(again, 1, row, 0, true);
   * dictionary.hashRows(row, row, 0, again);
   * assertEquals([again, dictionary.findAndRemember(1, row, 0, again)], [0, -1]);
   * ```
   */
  clear(): void {
    this.#entries = 0;
    this.#remembered = 0;
    this.#end = 0;
    this.#slots = [];
  }

  /** Ids handed out so far: the id the next reserved token gets. */
  get entries(): number {
    return this.#entries;
  }

  /** Grows the entry tables to hold ids below `entries`. */
  #growEntries(entries: number): void {
    if (entries <= this.#offset.length) return;
    let length = Math.max(1024, this.#offset.length);
    while (length < entries && length < ENTRY_CAPACITY) length *= 2;
    const offset = new Float64Array(length);
    offset.set(this.#offset);
    this.#offset = offset;
    const rowLength = new Int32Array(length);
    rowLength.set(this.#rowLength);
    this.#rowLength = rowLength;
    const position = new Float64Array(length);
    position.set(this.#position);
    this.#position = position;
    const hashes = new Int32Array(2 * length);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
  }

  /**
   * Whether `tokens` rows of `rowLength` words (K and V each) fit in the ring
   * at once: otherwise the dump uses no dictionary.
   *
   * @param tokens Tokens of the dump.
   * @param rowLength Words per row.
   * @returns True when they fit.
   */
  fits(tokens: number, rowLength: number): boolean {
    const pair = 2 * rowLength;
    if (pair > this.chunkWords || tokens > ENTRY_CAPACITY) return false;
    const perChunk = Math.floor(this.chunkWords / pair);
    return (Math.ceil(tokens / perChunk) + 1) * this.chunkWords <=
      this.capacity;
  }

  /**
   * Reserves the entries of a dump's tokens, in order; call only when
   * {@link fits} says so.
   *
   * @param tokens Tokens of the dump.
   * @param rowLength Words per row.
   * @param firstPosition Sequence position of the first token.
   * @returns The id of the first token (the others follow).
   */
  reserve(tokens: number, rowLength: number, firstPosition = 0): number {
    const first = this.#entries;
    const chunk = this.chunkWords;
    const pair = 2 * rowLength;
    this.#growEntries(first + tokens);
    for (let t = 0; t < tokens; t++) {
      let at = this.#end;
      const within = remainder(at, chunk);
      if (within + pair > chunk) at += chunk - within;
      const slot = (first + t) & ENTRY_MASK;
      this.#offset[slot] = at;
      this.#rowLength[slot] = rowLength;
      this.#position[slot] = firstPosition + t;
      this.#end = at + pair;
      const index = Math.floor(remainder(at, this.capacity) / chunk);
      if (this.#chunks.length <= index) {
        this.#chunks.push(new Uint16Array(chunk));
      }
    }
    this.#entries = first + tokens;
    if (this.#slots.length > 0) this.#growTables();
    return first;
  }

  /**
   * Whether entry `id` can be read by a token reserved as `user`: it is earlier,
   * its rows are still in the ring, and it has the same row length.
   *
   * @param id The entry referred to.
   * @param user The referring token's id.
   * @param rowLength The referring row's length.
   * @returns True when the reference is valid.
   */
  usable(id: number, user: number, rowLength: number): boolean {
    if (!(id >= 0 && id < user && this.#entries - id <= ENTRY_CAPACITY)) {
      return false;
    }
    const slot = id & ENTRY_MASK;
    return this.#rowLength[slot] === rowLength &&
      this.#end - this.#offset[slot] <= this.capacity;
  }

  /**
   * The chunk that holds entry `id`'s rows.
   *
   * @param id A usable entry.
   * @returns The chunk; {@link rowStart} says where in it.
   */
  rowChunk(id: number): Uint16Array {
    const at = remainder(this.#offset[id & ENTRY_MASK], this.capacity);
    return this.#chunks[Math.floor(at / this.chunkWords)];
  }

  /**
   * Where entry `id`'s row of `kind` starts in {@link rowChunk}.
   *
   * @param id A usable entry.
   * @param kind 0 for K, 1 for V.
   * @returns The index in the chunk.
   */
  rowStart(id: number, kind: number): number {
    const slot = id & ENTRY_MASK;
    return remainder(
      remainder(this.#offset[slot], this.capacity),
      this.chunkWords,
    ) + kind * this.#rowLength[slot];
  }

  /**
   * Sequence position of entry `id`'s token.
   *
   * @param id An entry.
   * @returns Its position.
   */
  position(id: number): number {
    return this.#position[id & ENTRY_MASK];
  }

  /**
   * Copies a row into entry `id` (`into` true) or entry `id`'s row out.
   *
   * @param id The entry.
   * @param kind 0 for K, 1 for V.
   * @param words The tensor.
   * @param start Where the row starts in it.
   * @param into Whether to store the row (else read it).
   */
  copyRow(
    id: number,
    kind: number,
    words: Uint16Array,
    start: number,
    into: boolean,
  ): void {
    const chunk = this.rowChunk(id);
    const at = this.rowStart(id, kind);
    const length = this.#rowLength[id & ENTRY_MASK];
    // A view costs an allocation (about 30 ns here), a loop about 1 ns a
    // word: set(subarray(...)) from VIEW_COPY words on (kv-real's rows
    // of 128 and 256 words copy 3.5 and 7 times faster), a loop below.
    if (length >= VIEW_COPY) {
      if (into) chunk.set(words.subarray(start, start + length), at);
      else words.set(chunk.subarray(at, at + length), start);
    } else if (into) {
      for (let i = 0; i < length; i++) chunk[at + i] = words[start + i];
    } else {
      for (let i = 0; i < length; i++) words[start + i] = chunk[at + i];
    }
  }

  /**
   * Hashes token `user`'s K and V rows (FNV-1a over the words, seeded by kind
   * and length) for {@link findAndRemember}, and with `pair` those of token
   * `user + 1` (its rows follow in `k` and `v`): all in one loop, whose
   * chains of multiplications run side by side (measured: two rows at once
   * take 55% of the time of one after the other, rows of 256 words; four,
   * about 60% of two pairs one after the other).
   *
   * @param k The tensor holding the K row.
   * @param v The tensor holding the V row.
   * @param start Where the rows start in `k` and `v`.
   * @param user The token's id.
   * @param pair Whether to hash token `user + 1`'s rows too (reserved with
   * the same row length).
   */
  hashRows(
    k: Uint16Array,
    v: Uint16Array,
    start: number,
    user: number,
    pair = false,
  ): void {
    const length = this.#rowLength[user & ENTRY_MASK];
    // Alone, the rows are hashed twice: one loop serves both cases.
    const next = pair ? start + length : start;
    let kHash = hashSeed(0, length), vHash = hashSeed(1, length);
    let kNext = kHash, vNext = vHash;
    for (let i = 0; i < length; i++) {
      kHash = Math.imul(kHash ^ k[start + i], 0x01000193);
      vHash = Math.imul(vHash ^ v[start + i], 0x01000193);
      kNext = Math.imul(kNext ^ k[next + i], 0x01000193);
      vNext = Math.imul(vNext ^ v[next + i], 0x01000193);
    }
    this.#hashes[2 * (user & ENTRY_MASK)] = hashFinish(kHash);
    this.#hashes[2 * (user & ENTRY_MASK) + 1] = hashFinish(vHash);
    if (pair) {
      this.#hashes[2 * ((user + 1) & ENTRY_MASK)] = hashFinish(kNext);
      this.#hashes[2 * ((user + 1) & ENTRY_MASK) + 1] = hashFinish(vNext);
    }
  }

  /**
   * The newest usable entry before `user` whose row of `kind` equals the given
   * row, or -1; then makes the row findable as `user`'s (encoder only: call for
   * each token in order, after storing its rows and {@link hashRows}).
   *
   * @param kind 0 for K, 1 for V.
   * @param words The tensor holding the row.
   * @param start Where the row starts in `words`.
   * @param user The id of the token looking.
   * @returns The entry id, or -1.
   */
  findAndRemember(
    kind: number,
    words: Uint16Array,
    start: number,
    user: number,
  ): number {
    const rowLength = this.#rowLength[user & ENTRY_MASK];
    if (user > MAX_HASHED_ID) return -1;
    if (this.#slots.length === 0) this.#growTables();
    this.#remembered = Math.max(this.#remembered, user + 1);
    const slots = this.#slots[kind];
    const slot = this.#hashes[2 * (user & ENTRY_MASK) + kind] &
      (slots.length - 1);
    // Two slots per hash: the newer candidate is tried first, and the new row
    // replaces the one it repeats, else the older.
    const a = slots[slot] - 1, b = slots[slot ^ 1] - 1;
    const newer = a > b ? slot : slot ^ 1;
    let found = -1;
    let replace = newer ^ 1;
    if (this.#equals(slots[newer] - 1, user, kind, words, start, rowLength)) {
      found = slots[newer] - 1;
      replace = newer;
    } else if (
      this.#equals(slots[newer ^ 1] - 1, user, kind, words, start, rowLength)
    ) {
      found = slots[newer ^ 1] - 1;
    }
    slots[replace] = user + 1;
    return found;
  }

  /** The oldest id still in the entry ring. */
  #oldestRemembered(): number {
    return Math.max(0, this.#entries - ENTRY_CAPACITY);
  }

  /**
   * Sizes the tables for the entries reserved (16 slots per entry, a power of
   * 4 times {@link FIRST_TABLE_SLOTS}, at most {@link TABLE_SLOTS}) and puts
   * back the rows remembered so far when they grow.
   */
  #growTables(): void {
    const live = this.#entries - this.#oldestRemembered();
    let length = this.#slots.length === 0
      ? FIRST_TABLE_SLOTS
      : this.#slots[0].length;
    const old = length;
    while (16 * live > length && length < TABLE_SLOTS) length *= 4;
    if (length === old && this.#slots.length > 0) return;
    this.#slots = [this.#table(0, length), this.#table(1, length)];
    const until = this.#remembered;
    for (let id = this.#oldestRemembered(); id < until; id++) {
      const rowLength = this.#rowLength[id & ENTRY_MASK];
      if (!this.usable(id, this.#entries, rowLength)) continue;
      for (let kind = 0; kind < 2; kind++) {
        const slots = this.#slots[kind];
        const slot = this.#hashes[2 * (id & ENTRY_MASK) + kind] & (length - 1);
        slots[slots[slot] <= slots[slot ^ 1] ? slot : slot ^ 1] = id + 1;
      }
    }
  }

  /** An empty hash table of `length` slots, in the space of `kind`'s. */
  #table(kind: number, length: number): Int32Array {
    if (this.#tableSpace[kind].length < length) {
      return this.#tableSpace[kind] = new Int32Array(length);
    }
    return this.#tableSpace[kind].subarray(0, length).fill(0);
  }

  #equals(
    id: number,
    user: number,
    kind: number,
    words: Uint16Array,
    start: number,
    rowLength: number,
  ): boolean {
    if (!this.usable(id, user, rowLength)) return false;
    const chunk = this.rowChunk(id);
    const at = this.rowStart(id, kind);
    for (let i = 0; i < rowLength; i++) {
      if (chunk[at + i] !== words[start + i]) return false;
    }
    return true;
  }
}
