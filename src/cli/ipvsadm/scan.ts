// popt, as far as ipvsadm uses it: one line's words -> tokens. Short clusters (`-Ln`), values
// attached (`-r10.0.0.1`, `--weight=3`), `-p` with an optional value, `--` ending the options, and
// the words that are no option's value (`--set`'s timeouts, strays). popt stops at its first
// error; this scan reads on, so that a rules file can name every problem of a line.
//
// Also the words of one input line as ipvsadm -R reads them (config_stream_read): split at blanks,
// a word starting with '#' starts a comment, and a leading `ipvsadm` (or a path to it) is dropped,
// as a shell line or an ipvsadm-save line may carry it.

import type { IpvsadmOptionDef } from "../../config/ipvsadm_syntax.ts";
import { POPT_TABLE } from "./options.ts";
import { PROGRAM } from "./problem.ts";

export type Token =
  /** `written` is how a message names it ("-w", "--weight"); `word` is the word it came in
   *  ("-gw", "--weight=3"), which popt's own errors quote. */
  | { kind: "option"; def: IpvsadmOptionDef; written: string; word: string; arg?: string }
  | { kind: "argument"; word: string }
  /** `popt` is popt's words, `message` ringvs's; `value` a value given to an option that takes none. */
  | { kind: "error"; written: string; word: string; value?: string; popt: string; message: string };

const BY_SHORT = new Map(POPT_TABLE.filter((o) => o.short).map((o) => [o.short!, o]));
const BY_LONG = new Map<string, IpvsadmOptionDef>();
for (const o of POPT_TABLE) if (!BY_LONG.has(o.long)) BY_LONG.set(o.long, o);

export function scan(argv: readonly string[]): Token[] {
  const tokens: Token[] = [];
  let k = 0;
  let rawArgs = false;

  const withValue = (def: IpvsadmOptionDef, written: string, word: string, attached: string | undefined): Token => {
    if (attached !== undefined) return { kind: "option", def, written, word, arg: attached };
    const next = argv[k];
    if (def.arg === "optional") {
      // POPT_ARGFLAG_OPTIONAL: the next word, unless there is none or it starts with '-'.
      if (next === undefined || next.startsWith("-")) return { kind: "option", def, written, word };
      k++;
      return { kind: "option", def, written, word, arg: next };
    }
    if (next === undefined) return { kind: "error", written, word, popt: "missing argument", message: "option requires a value" };
    k++;
    return { kind: "option", def, written, word, arg: next };
  };

  while (k < argv.length) {
    const w = argv[k++]!;
    if (rawArgs || w === "-" || !w.startsWith("-")) {
      tokens.push({ kind: "argument", word: w });
      continue;
    }
    if (w === "--") {
      rawArgs = true;
      continue;
    }
    if (w.startsWith("--")) {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
      const attached = eq < 0 ? undefined : w.slice(eq + 1);
      const written = `--${name}`;
      const def = BY_LONG.get(name);
      if (!def) tokens.push({ kind: "error", written, word: w, popt: "unknown option", message: "unknown option" });
      else if (def.arg !== "none") tokens.push(withValue(def, written, w, attached));
      else if (attached === undefined) tokens.push({ kind: "option", def, written, word: w });
      else tokens.push({ kind: "error", written, word: w, value: attached, popt: "option does not take an argument", message: "option takes no value" });
      continue;
    }
    // A cluster such as -Ln or -r10.0.0.1: flags until one that takes a value, which gets the rest.
    for (let c = 1; c < w.length; c++) {
      const written = `-${w[c]}`;
      const def = BY_SHORT.get(w[c]!);
      if (!def) {
        tokens.push({ kind: "error", written, word: w, popt: "unknown option", message: "unknown option" });
        break;
      }
      if (def.arg === "none") {
        tokens.push({ kind: "option", def, written, word: w });
        continue;
      }
      const rest = w.slice(c + 1);
      tokens.push(withValue(def, written, w, rest === "" ? undefined : rest));
      break;
    }
  }
  return tokens;
}

/** `ipvsadm` or a path to it, as the first word of a shell line. */
export function isProgramWord(word: string | undefined): boolean {
  return word !== undefined && (word === PROGRAM || word.endsWith(`/${PROGRAM}`));
}

/** One input line's words: `program` is the leading `ipvsadm` word, if there was one. */
export function lineWords(text: string): { program: string | null; words: string[] } {
  const words: string[] = [];
  for (const w of text.split(/\s+/)) {
    if (w === "") continue;
    if (w.startsWith("#")) break;
    words.push(w);
  }
  return isProgramWord(words[0]) ? { program: words[0]!, words: words.slice(1) } : { program: null, words };
}
