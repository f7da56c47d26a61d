/**
 * A small strict XML parser for tests: enough to prove that the report page and
 * its SVG charts are well-formed and to query their elements. Deno has no
 * DOMParser, and a regex cannot check nesting.
 *
 * Strict means: one root element (after an optional `<!DOCTYPE html>`), every
 * element closed in order, names of the usual XML shape, attribute values quoted
 * and unique per element, no raw `<` in attribute values, every `&` the start of a
 * known entity or a character reference. Comments are allowed; CDATA sections,
 * processing instructions and other doctypes are refused (the report uses none).
 *
 * @module
 */

/** An element: its name, attributes and children (elements and decoded text). */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly (XmlElement | string)[];
}

/** A document that is not well-formed: the message names the offset. */
export class XmlError extends Error {
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = "XmlError";
  }
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/**
 * Parses a document strictly.
 *
 * @throws {XmlError} At the first thing that is not well-formed.
 */
export function parseXml(text: string): XmlElement {
  let at = 0;
  const fail = (message: string): never => {
    throw new XmlError(message, at);
  };
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at])) at++;
  };
  const readName = (): string => {
    NAME.lastIndex = at;
    const match = NAME.exec(text);
    if (!match) fail("expected a name");
    at += match![0].length;
    return match![0];
  };
  const decode = (raw: string, start: number): string =>
    raw.replace(/&([^;&\s]*);?/g, (whole, body: string, index: number) => {
      if (!whole.endsWith(";")) {
        throw new XmlError("'&' that starts no reference", start + index);
      }
      if (body in ENTITIES) return ENTITIES[body];
      const numeric = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(body);
      if (!numeric) {
        throw new XmlError(`unknown entity &${body};`, start + index);
      }
      const code = numeric[1] !== undefined
        ? parseInt(numeric[1], 16)
        : Number(numeric[2]);
      if (code === 0 || code > 0x10ffff) {
        throw new XmlError(`bad character reference &${body};`, start + index);
      }
      return String.fromCodePoint(code);
    });
  const skipMisc = () => {
    for (;;) {
      skipSpace();
      if (text.startsWith("<!--", at)) {
        const end = text.indexOf("-->", at + 4);
        if (end === -1) fail("unclosed comment");
        at = end + 3;
      } else {
        return;
      }
    }
  };

  skipSpace();
  if (/^<!DOCTYPE html>/i.test(text.slice(at, at + 15))) at += 15;
  skipMisc();
  if (text[at] !== "<") fail("expected the root element");

  const stack: {
    name: string;
    attributes: Record<string, string>;
    children: (XmlElement | string)[];
  }[] = [];
  let root: XmlElement | undefined;
  while (at < text.length) {
    if (root && stack.length === 0) {
      skipMisc();
      if (at < text.length) fail("content after the root element");
      break;
    }
    if (text.startsWith("<!--", at)) {
      const end = text.indexOf("-->", at + 4);
      if (end === -1) fail("unclosed comment");
      at = end + 3;
    } else if (text.startsWith("</", at)) {
      at += 2;
      const name = readName();
      skipSpace();
      if (text[at] !== ">") fail(`expected '>' to close </${name}`);
      at++;
      const open = stack.pop();
      if (!open) fail(`</${name}> closes nothing`);
      if (open!.name !== name) fail(`</${name}> closes <${open!.name}>`);
      const element: XmlElement = open!;
      if (stack.length === 0) root = element;
      else stack[stack.length - 1].children.push(element);
    } else if (text.startsWith("<!", at) || text.startsWith("<?", at)) {
      fail("CDATA, doctype or processing instruction not allowed here");
    } else if (text[at] === "<") {
      if (root) fail("a second root element");
      at++;
      const name = readName();
      const attributes: Record<string, string> = {};
      for (;;) {
        const before = at;
        skipSpace();
        if (text.startsWith("/>", at) || text[at] === ">") break;
        if (at === before) {
          fail(`expected a space before an attribute of <${name}>`);
        }
        const attribute = readName();
        if (attribute in attributes) {
          fail(`attribute ${attribute} repeated in <${name}>`);
        }
        skipSpace();
        if (text[at] !== "=") fail(`expected '=' after ${attribute}`);
        at++;
        skipSpace();
        const quote = text[at];
        if (quote !== '"' && quote !== "'") {
          fail(`value of ${attribute} is not quoted`);
        }
        const end = text.indexOf(quote, at + 1);
        if (end === -1) fail(`unclosed value of ${attribute}`);
        const raw = text.slice(at + 1, end);
        if (raw.includes("<")) fail(`'<' in the value of ${attribute}`);
        attributes[attribute] = decode(raw, at + 1);
        at = end + 1;
      }
      const element = { name, attributes, children: [] };
      if (text.startsWith("/>", at)) {
        at += 2;
        if (stack.length === 0) root = element;
        else stack[stack.length - 1].children.push(element);
      } else {
        at++;
        stack.push(element);
      }
    } else {
      const end = text.indexOf("<", at);
      const stop = end === -1 ? text.length : end;
      const raw = text.slice(at, stop);
      if (stack.length === 0) {
        if (raw.trim() !== "") fail("text outside the root element");
      } else {
        stack[stack.length - 1].children.push(decode(raw, at));
      }
      at = stop;
    }
  }
  if (stack.length > 0) {
    fail(`<${stack[stack.length - 1].name}> is never closed`);
  }
  if (!root) fail("no root element");
  return root!;
}

/** Every element below `root` (and `root` itself) with this name, in document order. */
export function findElements(root: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const visit = (element: XmlElement) => {
    if (element.name === name) found.push(element);
    for (const child of element.children) {
      if (typeof child !== "string") visit(child);
    }
  };
  visit(root);
  return found;
}

/** The decoded text of an element and its descendants. */
export function textOf(element: XmlElement): string {
  return element.children.map((child) =>
    typeof child === "string" ? child : textOf(child)
  ).join("");
}
