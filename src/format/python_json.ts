/**
 * JSON text exactly as Python's `json.dumps(value)` writes it with default options.
 *
 * The MNN dumper and the reference tools write their meta files with Python's
 * defaults: `", "` between items, `": "` after keys, no newline at the end, and
 * every character outside printable ASCII escaped (`ensure_ascii`). kvbits restores
 * a dump's meta file in that style, so that a restored folder equals the original
 * byte for byte; when an original is not in that style, the encoder stores its text
 * verbatim instead (see `bitstream_meta.ts`).
 *
 * @module
 */

/**
 * Serializes a JSON value as Python's `json.dumps` does with default options.
 *
 * Numbers are written as JavaScript writes them, which matches Python for integers
 * and for most floats; a float that Python would write differently (`1.0`, `1e-05`)
 * makes the original text differ from this output, which callers detect by
 * comparing.
 *
 * @param value A JSON value (object, array, string, number, boolean or null).
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import { pythonJsonDumps } from "./python_json.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   pythonJsonDumps({ layer_id: 0, stage: "prefill", ok: true, shape: [2, 64], note: "é" }),
 *   '{"layer_id": 0, "stage": "prefill", "ok": true, "shape": [2, 64], "note": "\\u00e9"}',
 * );
 * ```
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return Number.isFinite(value)
        ? String(value)
        : Number.isNaN(value)
        ? "NaN"
        : value > 0
        ? "Infinity"
        : "-Infinity";
    case "string":
      return pythonJsonString(value);
    case "object": {
      if (Array.isArray(value)) {
        return "[" + value.map(pythonJsonDumps).join(", ") + "]";
      }
      const entries = Object.entries(value as Record<string, unknown>);
      return "{" +
        entries.map(([key, item]) =>
          pythonJsonString(key) + ": " + pythonJsonDumps(item)
        ).join(", ") + "}";
    }
    default:
      throw new TypeError(
        `Cannot serialize a value of type ${typeof value} as JSON`,
      );
  }
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** Characters `pythonJsonString` must escape. */
const NEEDS_ESCAPE = /[\\"]|[^\x20-\x7e]/;

/** A string in double quotes, everything outside printable ASCII as `\uXXXX`. */
function pythonJsonString(text: string): string {
  // Most keys and values need no escape: skip the replacement (twice as fast).
  if (!NEEDS_ESCAPE.test(text)) return '"' + text + '"';
  return '"' +
    text.replace(/[\\"]|[^\x20-\x7e]/g, (char) =>
      SHORT_ESCAPES[char] ??
        "\\u" + char.charCodeAt(0).toString(16).padStart(4, "0")) +
    '"';
}
