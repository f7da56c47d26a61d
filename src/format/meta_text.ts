/**
 * The text of a dump's meta file, taken only when it gives back the file's bytes
 * exactly: whatever a meta file holds must come back byte for byte on decode, or
 * the dump is refused with the reason.
 *
 * Why each refusal:
 * - Invalid UTF-8: JSON is UTF-8 text; decoding would replace bytes.
 * - A UTF-8 byte order mark: the text decoder drops it (so the restored file
 *   would be 3 bytes shorter), and JSON parsers refuse it (Python's `json.load`
 *   says "Unexpected UTF-8 BOM"); a dumper never writes one.
 * - Arrays or objects nested deeper than {@link MAX_META_NESTING}: no dumper
 *   writes them, and the recursive writers and readers of JSON would exhaust
 *   the stack on them ("Maximum call stack size exceeded" named no file).
 *
 * @module
 */

import { KvbitsFormatError } from "./format_error.ts";

/** Deepest nesting of arrays and objects accepted in a meta file. */
export const MAX_META_NESTING = 64;

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The text of a meta file's bytes, refusing bytes that the text would not give
 * back exactly and nesting deeper than {@link MAX_META_NESTING}.
 *
 * @param bytes The file's content.
 * @returns The text, whose UTF-8 encoding is `bytes`.
 * @throws {KvbitsFormatError} Saying why the bytes are refused.
 *
 * @example
 * ```ts
 * import { exactMetaText } from "./meta_text.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(exactMetaText(new TextEncoder().encode('{"a": [1]}')), '{"a": [1]}');
 * assertThrows(() => exactMetaText(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), Error, "byte order mark");
 * assertThrows(() => exactMetaText(new TextEncoder().encode("[".repeat(100))), Error, "nested deeper than 64");
 * ```
 */
export function exactMetaText(bytes: Uint8Array): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new KvbitsFormatError(
      "meta starts with a UTF-8 byte order mark, which JSON does not allow and which would not be restored",
    );
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new KvbitsFormatError("meta is not UTF-8 text");
  }
  const depth = nestingDepth(bytes);
  if (depth > MAX_META_NESTING) {
    throw new KvbitsFormatError(
      `meta has arrays or objects nested deeper than ${MAX_META_NESTING} levels (${depth})`,
    );
  }
  return text;
}

/** Deepest nesting of `[` and `{` outside strings (an upper bound on bad JSON). */
function nestingDepth(bytes: Uint8Array): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === 0x5c) i++; // a backslash escapes the next byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > deepest) deepest = depth;
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
  return deepest;
}
