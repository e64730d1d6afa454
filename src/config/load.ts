// The JSON config file front end: text -> DirectorConfig, or a list of errors that say where.
//
// Input enters here, so errors are values: nothing in this file throws for a bad file. JSON is
// parsed by a small scanner of our own rather than JSON.parse because we want (a) the line and
// column of a syntax error (Bun's JSON.parse reports neither) and (b) the line of every key, so a
// schema error can point at `"weight": 70000` on line 14 instead of only naming its path.

import type { DirectorConfig } from "./model.ts";
import { formatPath, validateDirectorConfig, type ConfigIssue, type ConfigPath } from "./schema.ts";

export interface ConfigError {
  /** File name as the caller named it (or any label, e.g. "<stdin>"). */
  source: string;
  /** 1-based; absent when the problem has no single place (e.g. a value given on the command line). */
  line?: number;
  /** 1-based, only for syntax errors. */
  column?: number;
  /** Path of the offending field (`services[0].realServers[1].weight`), or the option of a rules
   *  file line (`-w`); "" when the problem is the document itself. */
  field: string;
  /** The offending value as written, when there is one. */
  value?: unknown;
  message: string;
}

export type ConfigResult = { ok: true; config: DirectorConfig } | { ok: false; errors: ConfigError[] };
export type Result = ConfigResult;

const MAX_SHOWN_VALUE = 60;

function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_SHOWN_VALUE ? `${text.slice(0, MAX_SHOWN_VALUE - 3)}...` : text;
}

/** `ringvs.json:14: services[0].realServers[1].weight: 70000: must be 0..65535`. Strings are shown
 *  quoted so that an empty or space-padded value is visible. */
export function formatConfigError(e: ConfigError): string {
  let where = e.source;
  if (e.line !== undefined) where += `:${e.line}`;
  if (e.line !== undefined && e.column !== undefined) where += `:${e.column}`;
  const parts = [where];
  if (e.field !== "") parts.push(e.field);
  if (e.value !== undefined) parts.push(showValue(e.value));
  parts.push(e.message);
  return parts.join(": ");
}

/** Orders errors by line (errors without one first), keeping the validator's order otherwise. */
export function sortConfigErrors(errors: ConfigError[]): ConfigError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.line ?? 0) - (b.e.line ?? 0) || (a.e.column ?? 0) - (b.e.column ?? 0) || a.i - b.i)
    .map(({ e }) => e);
}

// ---------------------------------------------------------------------------------------------
// JSON with positions (RFC 8259, strict: no comments, no trailing commas).

export interface TextPosition {
  line: number;
  column: number;
}

export type JsonParse =
  | {
      ok: true;
      value: unknown;
      /** formatPath(path) -> where that key (object member) or element (array) starts. */
      positions: Map<string, TextPosition>;
      /** Keys given twice in one object; JSON.parse would silently keep the last one. */
      duplicateKeys: { path: ConfigPath; position: TextPosition }[];
    }
  | { ok: false; position: TextPosition; message: string };

// Deeper than any config needs; stops a hostile file from exhausting the stack.
const MAX_JSON_DEPTH = 64;

class JsonSyntaxError {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

class JsonScanner {
  private i = 0;
  readonly positions = new Map<string, TextPosition>();
  readonly duplicateKeys: { path: ConfigPath; position: TextPosition }[] = [];
  private readonly lineStarts: number[] = [0];

  constructor(private readonly text: string) {
    for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) === 10) this.lineStarts.push(k + 1);
  }

  positionOf(offset: number): TextPosition {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }

  document(): unknown {
    if (this.text.charCodeAt(0) === 0xfeff) this.i = 1; // a BOM some editors write
    this.skipSpace();
    if (this.i >= this.text.length) this.fail("the document is empty");
    const value = this.value([], 0);
    this.skipSpace();
    if (this.i < this.text.length) this.fail(`unexpected ${this.describe()} after the end of the document`);
    return value;
  }

  private fail(message: string, offset = this.i): never {
    throw new JsonSyntaxError(offset, message);
  }

  private describe(): string {
    if (this.i >= this.text.length) return "end of file";
    const c = this.text[this.i];
    return c === "\n" || c === "\r" ? "end of line" : `'${c}'`;
  }

  private skipSpace(): void {
    for (;;) {
      const c = this.text[this.i];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") this.i++;
      else if (c === "/" && (this.text[this.i + 1] === "/" || this.text[this.i + 1] === "*"))
        this.fail("comments are not allowed in JSON");
      else return;
    }
  }

  private value(path: ConfigPath, depth: number): unknown {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
    const c = this.text[this.i];
    if (c === "{") return this.object(path, depth);
    if (c === "[") return this.array(path, depth);
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    if (c === "'") this.fail("strings must use double quotes");
    this.fail(`expected a value, found ${this.describe()}`);
  }

  private object(path: ConfigPath, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++; // {
    this.skipSpace();
    if (this.text[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      if (this.text[this.i] !== '"') {
        this.fail(
          this.text[this.i] === "}" ? "trailing comma before '}'" : `expected a key in double quotes, found ${this.describe()}`,
        );
      }
      const keyOffset = this.i;
      const key = this.string();
      const keyPath = [...path, key];
      const position = this.positionOf(keyOffset);
      if (Object.prototype.hasOwnProperty.call(out, key)) this.duplicateKeys.push({ path: keyPath, position });
      this.positions.set(formatPath(keyPath), position);
      this.skipSpace();
      if (this.text[this.i] !== ":") this.fail(`expected ':' after the key, found ${this.describe()}`);
      this.i++;
      this.skipSpace();
      // defineProperty, not assignment: a key named "__proto__" must stay a plain (unknown) key.
      Object.defineProperty(out, key, {
        value: this.value(keyPath, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipSpace();
      if (this.text[this.i] === ",") {
        this.i++;
        this.skipSpace();
        continue;
      }
      if (this.text[this.i] === "}") {
        this.i++;
        return out;
      }
      this.fail(`expected ',' or '}' after an object member, found ${this.describe()}`);
    }
  }

  private array(path: ConfigPath, depth: number): unknown[] {
    const out: unknown[] = [];
    this.i++; // [
    this.skipSpace();
    if (this.text[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      if (this.text[this.i] === "]") this.fail("trailing comma before ']'");
      const elementPath = [...path, out.length];
      this.positions.set(formatPath(elementPath), this.positionOf(this.i));
      out.push(this.value(elementPath, depth + 1));
      this.skipSpace();
      if (this.text[this.i] === ",") {
        this.i++;
        this.skipSpace();
        continue;
      }
      if (this.text[this.i] === "]") {
        this.i++;
        return out;
      }
      this.fail(`expected ',' or ']' after an array element, found ${this.describe()}`);
    }
  }

  private string(): string {
    const start = this.i;
    this.i++; // opening quote
    let out = "";
    for (;;) {
      if (this.i >= this.text.length) this.fail("unterminated string", start);
      const c = this.text[this.i];
      const code = c.charCodeAt(0);
      if (c === '"') {
        this.i++;
        return out;
      }
      if (code === 10 || code === 13) this.fail("unterminated string (strings cannot span lines)", start);
      if (code < 0x20) this.fail("control character in string");
      if (c !== "\\") {
        out += c;
        this.i++;
        continue;
      }
      const e = this.text[this.i + 1];
      const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (e !== undefined && e in simple) {
        out += simple[e];
        this.i += 2;
      } else if (e === "u" && /^[0-9A-Fa-f]{4}$/.test(this.text.slice(this.i + 2, this.i + 6))) {
        out += String.fromCharCode(parseInt(this.text.slice(this.i + 2, this.i + 6), 16));
        this.i += 6;
      } else {
        this.fail("invalid escape in string");
      }
    }
  }

  private number(): number {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (!m) this.fail("invalid number");
    const next = this.text[this.i + m[0].length];
    if (next !== undefined && /[0-9A-Za-z_.]/.test(next)) this.fail("invalid number");
    this.i += m[0].length;
    return Number(m[0]);
  }
}

/** Parses JSON, recording where every key and element starts. Never throws. */
export function parseJsonWithPositions(text: string): JsonParse {
  const scanner = new JsonScanner(text);
  try {
    const value = scanner.document();
    return { ok: true, value, positions: scanner.positions, duplicateKeys: scanner.duplicateKeys };
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, position: scanner.positionOf(e.offset), message: e.message };
    throw e; // a bug in the scanner, not bad input
  }
}

/** Line of the nearest key on `path` that the document spells out. The document itself (root)
 *  has no useful line, so an issue about a missing top-level key gets none. */
function lineOf(positions: Map<string, TextPosition>, path: ConfigPath): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const p = positions.get(formatPath(path.slice(0, n)));
    if (p) return p.line;
  }
  return undefined;
}

/** Validates the text of a JSON config file. `sourceName` only labels the errors. */
export function parseConfigText(text: string, sourceName: string): ConfigResult {
  const json = parseJsonWithPositions(text);
  if (!json.ok) {
    return {
      ok: false,
      errors: [{ source: sourceName, ...json.position, field: "", message: `invalid JSON: ${json.message}` }],
    };
  }
  const errors: ConfigError[] = json.duplicateKeys.map(({ path, position }) => ({
    source: sourceName,
    line: position.line,
    field: formatPath(path),
    message: "key given twice in the same object",
  }));
  const checked = validateDirectorConfig(json.value);
  if (checked.ok && errors.length === 0) return { ok: true, config: checked.config };
  if (!checked.ok) {
    for (const issue of checked.issues) errors.push(issueToError(issue, sourceName, lineOf(json.positions, issue.path)));
  }
  return { ok: false, errors: sortConfigErrors(errors) };
}

function issueToError(issue: ConfigIssue, source: string, line: number | undefined): ConfigError {
  const e: ConfigError = { source, field: issue.field, message: issue.message };
  if (line !== undefined) e.line = line;
  if (issue.value !== undefined) e.value = issue.value;
  return e;
}

/** Reads and validates a JSON config file. A file that cannot be read is an error value too. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await Bun.file(path).text();
  } catch (e) {
    const reason = e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.message) : String(e);
    return { ok: false, errors: [{ source: path, field: "", message: `cannot read the file: ${reason}` }] };
  }
  return parseConfigText(text, path);
}
