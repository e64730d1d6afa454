// ipvsadm -R (restore_table): the lines of an input through the one parser and execute, against a
// control library, as one batch (the lines change the tables one by one, each seeing the previous,
// and the data plane gets them in one apply). As in ipvsadm.c, a line the parser fails ends the
// restore there, the lines before it staying applied, while a refused table change only fails its
// own line and the restore reads on; the exit status is the last line's. A rules file is the same
// restore into a control library without a data plane, reading on past every refused line so that
// all of them are reported (src/config/ipvsadm_rules.ts).
import type { Control, ControlResult, ServiceKey } from "../../control/control.ts";
import type { Directives, MemberOrigin } from "../../config/fwmark_directive.ts";
import { keyIdentity } from "../../config/service.ts";
import { execute, type Context, type Places } from "./execute.ts";
import { entryServiceKey, parseCommand, type CommandEntry, type ParsedCommand } from "./parse.ts";
import type { Exit, LineProblem } from "./problem.ts";
import { lineWords } from "./scan.ts";

/** One line of the input that was a command (or meant to be). */
export interface RestoredLine {
  line: number;
  /** Its words after the program word; `program` is that word, if it had one. */
  words: string[];
  program: string | null;
  /** null for a line that is only the program word. */
  parsed: ParsedCommand | null;
  /** Why it did not take effect; [] when it did. */
  problems: LineProblem[];
  /** The problems are a refused table change (the command ran), not the line's own. */
  ran: boolean;
  stdout: string;
}

export interface RestoreRules {
  /** A rules file reads every line; -R stops where ipvsadm's process would end. */
  readOn: boolean;
  /** A rules file's policy: what does not belong in it is refused before it runs. */
  admit?(words: readonly string[], program: string | null, parsed: ParsedCommand | null): LineProblem[] | null;
}

/** Where the input put each service, real server and member, for messages that point there. */
export class InputPlaces implements Places {
  private readonly services = new Map<string, { line: number; members: readonly MemberOrigin[] | null; dests: Map<string, number> }>();
  /** Firewall marks an -A line that took effect named, whatever came after. */
  readonly marksDefined = new Set<number>();

  constructor(private readonly directives: ReadonlyMap<number, readonly MemberOrigin[]>) {}

  serviceLine(key: ServiceKey): number | null {
    return this.services.get(keyIdentity(key))?.line ?? null;
  }

  destLine(key: ServiceKey, address: string): number | null {
    return this.services.get(keyIdentity(key))?.dests.get(address) ?? null;
  }

  memberOrigins(key: ServiceKey): readonly MemberOrigin[] | null {
    return this.services.get(keyIdentity(key))?.members ?? null;
  }

  /** Notes what a line that took effect changed. */
  took(ce: CommandEntry, line: number): void {
    const key = entryServiceKey(ce);
    if (!key) return;
    const id = keyIdentity(key);
    switch (ce.command) {
      case "add-service": {
        if ("fwmark" in key) this.marksDefined.add(key.fwmark);
        const members = "fwmark" in key && !ce.members ? (this.directives.get(key.fwmark) ?? null) : null;
        this.services.set(id, { line, members, dests: new Map() });
        return;
      }
      case "add-server":
        this.services.get(id)?.dests.set(ce.dest.address!, line);
        return;
      case "delete-service":
        this.services.delete(id);
        return;
      case "delete-server":
        this.services.get(id)?.dests.delete(ce.dest.address!);
        return;
      case "flush":
        this.services.clear();
        return;
    }
  }
}

/** Restores `lines` into `control`; `directives` are the input's `# ringvs: fwmark` members.
 *  `restored` holds the lines that did not take effect or printed something, and the last
 *  command line (whose status is -R's): keeping every line of a 110,000-line rules file, its words
 *  and parsed entry, until the end doubled the time it took to read (the collector walked them
 *  over and over). `places` says where what took effect was written. */
export async function restoreLines(
  lines: readonly string[],
  control: Control,
  directives: ReadonlyMap<number, readonly MemberOrigin[]>,
  rules: RestoreRules,
): Promise<{ restored: RestoredLine[]; applied: ControlResult; places: InputPlaces }> {
  const places = new InputPlaces(directives);
  const ctx: Context = { control, readingStdin: true, directives, places };
  const restored: RestoredLine[] = [];
  /** The last line that ran fine and printed nothing, kept until a later line replaces it. */
  let lastQuiet: RestoredLine | null = null;
  const { applied } = await control.batch(async () => {
    for (const [index, text] of lines.entries()) {
      const line = index + 1;
      const { program, words } = lineWords(text);
      if (words.length === 0 && program === null) continue; // blank, or a comment
      const parsed = words.length > 0 ? parseCommand(words, true) : null;
      const base = { line, words, program, parsed, stdout: "" };
      const refusal = rules.admit?.(words, program, parsed) ?? null;
      if (refusal) {
        restored.push({ ...base, problems: refusal, ran: false });
        lastQuiet = null;
        continue;
      }
      // config_stream_read drops the word "ipvsadm", and a line left empty is no command.
      if (!parsed) continue;
      if (!parsed.entry || parsed.problems.length > 0) {
        restored.push({ ...base, problems: parsed.problems, ran: false });
        lastQuiet = null;
        if (!rules.readOn && parsed.problems[0]!.cli.exits) return;
        continue;
      }
      const outcome = await execute(parsed.entry, ctx);
      // A listing among restored lines (-c) comes in parts; -R prints it whole with the rest.
      let stdout = outcome.stdout;
      if (outcome.stream) for await (const part of outcome.stream) stdout += part;
      const r: RestoredLine = { ...base, problems: outcome.problems, ran: true, stdout };
      if (outcome.problems.length > 0 || stdout !== "") {
        restored.push(r);
        lastQuiet = null;
      } else lastQuiet = r;
      if (outcome.problems.length === 0) places.took(parsed.entry, line);
      // usage_exit, version_exit and a listing of a missing service end ipvsadm's process too.
      const ends = outcome.problems[0]?.cli.exits || parsed.entry.command === "help" || parsed.entry.command === "version";
      if (!rules.readOn && ends) return;
    }
  });
  if (lastQuiet) restored.push(lastQuiet);
  return { restored, applied, places };
}

/** What `ipvsadm -R` prints and exits with. */
export function restoreExit(restored: readonly RestoredLine[], applied: ControlResult): Exit {
  let stdout = "";
  let stderr = "";
  let code = 0;
  for (const r of restored) {
    stdout += r.stdout;
    const first = r.problems[0];
    code = first ? first.cli.code : 0;
    if (first) stderr += `line ${r.line}: ${first.cli.text}\n`;
  }
  if (!applied.ok) {
    return { code: 1, stdout, stderr: `${stderr}ringvs: the restored rules could not be applied, nothing changed: ${applied.error.message}\n` };
  }
  return { code, stdout, stderr };
}

/** -R refuses an input with a broken directive line before it changes anything: the line may
 *  belong to any -f line, before or after it. */
export function directiveExit(directives: Directives): Exit | null {
  const bad = directives.problems[0];
  if (!bad) return null;
  const { field, value, message } = bad.problem;
  return { code: 2, stdout: "", stderr: `line ${bad.line}: ${field}: ${value !== undefined ? `${JSON.stringify(value)}: ` : ""}${message}\n` };
}
