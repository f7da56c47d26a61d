/**
 * Reading typed values out of parsed JSON objects, with errors that name the key.
 *
 * @module
 */

import { KvbitsFormatError } from "./format_error.ts";

/** Decoder that refuses invalid UTF-8 instead of replacing it. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The text of a JSON file's bytes, which must be UTF-8 (as JSON requires).
 *
 * @param bytes The file's content.
 * @param what What the file is, for the message ("meta", "codebook").
 * @returns The text.
 * @throws {KvbitsFormatError} When the bytes are not valid UTF-8.
 *
 * @example
 * ```ts
 * import { utf8Text } from "./json_fields.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(utf8Text(new Uint8Array([0x7b, 0x7d]), "meta"), "{}");
 * assertThrows(() => utf8Text(new Uint8Array([0x7b, 0xff]), "meta"), Error, "meta is not UTF-8 text");
 * ```
 */
export function utf8Text(bytes: Uint8Array, what: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new KvbitsFormatError(`${what} is not UTF-8 text`);
  }
}

/**
 * Parses JSON text that must be an object.
 *
 * @param text The JSON text.
 * @param what What the file is, for the message ("meta", "codebook").
 * @returns The object.
 * @throws {KvbitsFormatError} When the text is not valid JSON or not an object.
 *
 * @example
 * ```ts
 * import { parseJsonObject } from "./json_fields.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(parseJsonObject('{"a": 1}', "meta"), { a: 1 });
 * assertThrows(() => parseJsonObject("[1]", "meta"), Error, "not a JSON object");
 * ```
 */
export function parseJsonObject(
  text: string,
  what: string,
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new KvbitsFormatError(
      `${what} is not valid JSON (${(error as Error).message})`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new KvbitsFormatError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Reads a required integer key, at least `minimum`.
 *
 * @param fields The JSON object.
 * @param key The key.
 * @param minimum Smallest allowed value.
 * @returns The value.
 * @throws {KvbitsFormatError} When missing, not a safe integer or too small.
 *
 * @example
 * ```ts
 * import { requireInteger } from "./json_fields.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(requireInteger({ seq_len: 4 }, "seq_len", 0), 4);
 * assertThrows(() => requireInteger({ seq_len: "4" }, "seq_len", 0), Error, 'key "seq_len"');
 * ```
 */
export function requireInteger(
  fields: Readonly<Record<string, unknown>>,
  key: string,
  minimum: number,
): number {
  const value = requireKey(fields, key);
  if (!Number.isSafeInteger(value) || (value as number) < minimum) {
    throw new KvbitsFormatError(
      `key "${key}" must be an integer >= ${minimum}, got ${
        JSON.stringify(value)
      }`,
      key,
    );
  }
  return value as number;
}

/**
 * Reads a required string key.
 *
 * @param fields The JSON object.
 * @param key The key.
 * @returns The value.
 * @throws {KvbitsFormatError} When missing or not a string.
 *
 * @example
 * ```ts
 * import { requireString } from "./json_fields.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(requireString({ stage: "decode" }, "stage"), "decode");
 * ```
 */
export function requireString(
  fields: Readonly<Record<string, unknown>>,
  key: string,
): string {
  const value = requireKey(fields, key);
  if (typeof value !== "string") {
    throw new KvbitsFormatError(
      `key "${key}" must be a string, got ${JSON.stringify(value)}`,
      key,
    );
  }
  return value;
}

/**
 * Reads a required key naming a file below the folder of the JSON file: relative,
 * without `..` segments, so that no output can land outside its folder.
 *
 * @param fields The JSON object.
 * @param key The key.
 * @returns The relative path, with `/` separators.
 * @throws {KvbitsFormatError} When missing, not a string, empty, absolute or
 * containing `..`.
 *
 * @example
 * ```ts
 * import { requireRelativePath } from "./json_fields.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(requireRelativePath({ k_file: "k_t0_8.bin" }, "k_file"), "k_t0_8.bin");
 * assertThrows(() => requireRelativePath({ k_file: "../k.bin" }, "k_file"), Error, "inside");
 * ```
 */
export function requireRelativePath(
  fields: Readonly<Record<string, unknown>>,
  key: string,
): string {
  const value = requireString(fields, key);
  const segments = value.split(/[\\/]/);
  if (
    value === "" || value.startsWith("/") || value.startsWith("\\") ||
    /^[A-Za-z]:/.test(value) ||
    segments.some((segment) => segment === ".." || segment === "")
  ) {
    throw new KvbitsFormatError(
      `key "${key}" must name a file inside the meta file's folder, got ${
        JSON.stringify(value)
      }`,
      key,
    );
  }
  return segments.filter((segment) => segment !== ".").join("/");
}

function requireKey(
  fields: Readonly<Record<string, unknown>>,
  key: string,
): unknown {
  if (!Object.hasOwn(fields, key)) {
    throw new KvbitsFormatError(`key "${key}" is missing`, key);
  }
  return fields[key];
}

/**
 * Reads a required key holding an array of `length` non-negative safe integers.
 *
 * @param fields The JSON object.
 * @param key The key.
 * @param length Required array length.
 * @returns The values.
 * @throws {KvbitsFormatError} When missing, not an array of that length, or an item
 * is not a non-negative safe integer.
 *
 * @example
 * ```ts
 * import { requireCountArray } from "./json_fields.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(requireCountArray({ t: [0, 3] }, "t", 2), [0, 3]);
 * assertThrows(() => requireCountArray({ t: [0, -1] }, "t", 2), Error, "item 1");
 * ```
 */
export function requireCountArray(
  fields: Readonly<Record<string, unknown>>,
  key: string,
  length: number,
): number[] {
  const value = requireKey(fields, key);
  if (!Array.isArray(value) || value.length !== length) {
    throw new KvbitsFormatError(
      `key "${key}" must be an array of ${length} integers, got ${
        Array.isArray(value) ? `${value.length} items` : JSON.stringify(value)
      }`,
      key,
    );
  }
  for (let i = 0; i < length; i++) {
    const item = value[i];
    if (!Number.isSafeInteger(item) || item < 0) {
      throw new KvbitsFormatError(
        `key "${key}" item ${i} must be a non-negative integer, got ${
          JSON.stringify(item)
        }`,
        key,
      );
    }
  }
  return value as number[];
}
