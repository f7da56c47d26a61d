// Type declarations for the parts of the Deno standard library that kvbits uses.
//
// The import map in deno.json points `@std/*` at the npm build of the standard
// library (`npm:deno-std@1.4.0/...`) because JSR cannot be reached here, and that
// build ships JavaScript without types. These declarations restore the types of the
// functions we call. When the import map points at `jsr:@std/*` instead, JSR brings
// its own types: delete the `compilerOptions.types` entry of deno.json as well.

declare module "@std/cli" {
  /** Options of `parseArgs` (subset used by kvbits). */
  export interface ParseOptions {
    boolean?: string[];
    string?: string[];
    collect?: string[];
    alias?: Record<string, string | string[]>;
    default?: Record<string, unknown>;
    stopEarly?: boolean;
    "--"?: boolean;
    unknown?: (arg: string, key?: string, value?: unknown) => unknown;
  }
  /** Parsed flags: named values plus positional arguments in `_`. */
  export interface Args {
    _: Array<string | number>;
    [flag: string]: unknown;
  }
  /** Parses command line arguments. */
  export function parseArgs(args: string[], options?: ParseOptions): Args;
}

declare module "@std/path" {
  export function join(...paths: string[]): string;
  export function resolve(...paths: string[]): string;
  export function relative(from: string, to: string): string;
  export function dirname(path: string): string;
  export function basename(path: string, suffix?: string): string;
  export function extname(path: string): string;
  export function normalize(path: string): string;
  export function isAbsolute(path: string): boolean;
  export function fromFileUrl(url: string | URL): string;
  export function toFileUrl(path: string): URL;
  export const SEPARATOR: string;
}

/** The POSIX functions of `@std/path` (those `src/dump/path.ts` uses). */
declare module "@std/path/posix" {
  export function join(...paths: string[]): string;
  export function resolve(...paths: string[]): string;
  export function dirname(path: string): string;
  export function basename(path: string, suffix?: string): string;
  export function isAbsolute(path: string): boolean;
  export function fromFileUrl(url: string | URL): string;
}

/** The Windows functions of `@std/path` (those `src/dump/path.ts` uses). */
declare module "@std/path/windows" {
  export function join(...paths: string[]): string;
  export function resolve(...paths: string[]): string;
  export function dirname(path: string): string;
  export function basename(path: string, suffix?: string): string;
  export function isAbsolute(path: string): boolean;
  export function fromFileUrl(url: string | URL): string;
}

declare module "@std/assert" {
  export class AssertionError extends Error {}
  export function assert(expr: unknown, msg?: string): asserts expr;
  export function assertEquals<T>(actual: T, expected: T, msg?: string): void;
  export function assertNotEquals<T>(
    actual: T,
    expected: T,
    msg?: string,
  ): void;
  export function assertStrictEquals<T>(
    actual: unknown,
    expected: T,
    msg?: string,
  ): asserts actual is T;
  export function assertExists<T>(
    actual: T,
    msg?: string,
  ): asserts actual is NonNullable<T>;
  export function assertGreater<T>(actual: T, expected: T, msg?: string): void;
  export function assertGreaterOrEqual<T>(
    actual: T,
    expected: T,
    msg?: string,
  ): void;
  export function assertLess<T>(actual: T, expected: T, msg?: string): void;
  export function assertLessOrEqual<T>(
    actual: T,
    expected: T,
    msg?: string,
  ): void;
  export function assertAlmostEquals(
    actual: number,
    expected: number,
    tolerance?: number,
    msg?: string,
  ): void;
  export function assertMatch(
    actual: string,
    expected: RegExp,
    msg?: string,
  ): void;
  export function assertNotMatch(
    actual: string,
    expected: RegExp,
    msg?: string,
  ): void;
  export function assertStringIncludes(
    actual: string,
    expected: string,
    msg?: string,
  ): void;
  export function assertArrayIncludes<T>(
    actual: ArrayLike<T>,
    expected: ArrayLike<T>,
    msg?: string,
  ): void;
  export function assertInstanceOf<
    T extends abstract new (...args: never[]) => unknown,
  >(
    actual: unknown,
    expectedType: T,
    msg?: string,
  ): asserts actual is InstanceType<T>;
  export function assertFalse(expr: unknown, msg?: string): void;
  export function assertThrows<E extends Error = Error>(
    fn: () => unknown,
    ErrorClass?: abstract new (...args: never[]) => E,
    msgIncludes?: string,
    msg?: string,
  ): E;
  export function assertRejects<E extends Error = Error>(
    fn: () => PromiseLike<unknown>,
    ErrorClass?: abstract new (...args: never[]) => E,
    msgIncludes?: string,
    msg?: string,
  ): Promise<E>;
  export function fail(msg?: string): never;
  export function unreachable(msg?: string): never;
}
