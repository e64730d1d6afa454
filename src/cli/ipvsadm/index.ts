// ipvsadm 1.31's command line and output over the control library. One entry point, pure with
// respect to the process (no printing, no exit): the daemon runs it for a control-socket client,
// tests run it on a bare Control.
//
//   runIpvsadm(["-A", "-t", "198.18.0.100:80", "-s", "wrr"], control, {})
//     -> { code: 0, stdout: "", stderr: "" }
//
// Exit codes are ipvsadm's: 0; 2 for what ipvsadm's fail() rejects (and for ringvs's refusals of
// what it cannot do: -m, -o, --pe, -6, SCTP, gue/gre, the sync daemon, a DR port of its own); 255
// for a usage error (`Try ipvsadm -h`), a popt error and a refused table change (ipvsadm returns
// libipvs's -1); 1 when a listed service does not exist.
//
// The line is read by parse.ts (the one reader of ipvsadm syntax, which a rules file shares),
// run by execute.ts, and -R is restore.ts.
import type { Control } from "../../control/control.ts";
import { readDirectives } from "../../config/fwmark_directive.ts";
import { execute, NO_PLACES } from "./execute.ts";
import { parseCommand } from "./parse.ts";
import { exitOf, type Exit, type LineProblem } from "./problem.ts";
import { directiveExit, restoreExit, restoreLines, type RestoredLine } from "./restore.ts";
import { isProgramWord } from "./scan.ts";

export type { Exit } from "./problem.ts";

/** A run, with the problems behind its exit. */
export interface IpvsadmRun {
  exit: Exit;
  /** A single command's problems, in ipvsadm's order (the exit shows the first). */
  problems: LineProblem[];
  /** -R: every line that was a command, with its problems. */
  restored: RestoredLine[] | null;
}

/** Runs one ipvsadm command line (a leading `ipvsadm` word is accepted) against `control`.
 *  `io.stdin` is what -R reads. Never throws for bad input; never prints. */
export async function runIpvsadm(argv: string[], control: Control, io: { stdin?: string }): Promise<Exit> {
  const { stream, ...exit } = await runIpvsadmInParts(argv, control, io);
  if (stream) for await (const part of stream) exit.stdout += part;
  return exit;
}

/** runIpvsadm for the control socket: a long listing (-L -c) keeps its rows in `stream`, to be
 *  sent a part at a time, instead of gathering them into stdout. */
export async function runIpvsadmInParts(argv: string[], control: Control, io: { stdin?: string }): Promise<Exit> {
  return (await runIpvsadmReport(argv, control, io)).exit;
}

/** runIpvsadm, and what each problem behind the exit was. */
export async function runIpvsadmReport(argv: string[], control: Control, io: { stdin?: string }): Promise<IpvsadmRun> {
  const args = isProgramWord(argv[0]) ? argv.slice(1) : argv;
  // "list the table if there is no other argument"
  const parsed = parseCommand(args.length === 0 ? ["-L"] : args, false);
  const first = parsed.problems[0];
  if (first || !parsed.entry) return { exit: exitOf(first!.cli), problems: parsed.problems, restored: null };
  if (parsed.entry.command === "restore") {
    const lines = (io.stdin ?? "").split(/\r?\n/);
    const directives = readDirectives(lines);
    const broken = directiveExit(directives);
    if (broken) return { exit: broken, problems: [], restored: [] };
    const { restored, applied } = await restoreLines(lines, control, directives.members, { readOn: false });
    return { exit: restoreExit(restored, applied), problems: [], restored };
  }
  const outcome = await execute(parsed.entry, { control, readingStdin: false, directives: new Map(), places: NO_PLACES });
  const refused = outcome.problems[0];
  return {
    exit: refused
      ? exitOf(refused.cli, outcome.stdout)
      : { code: 0, stdout: outcome.stdout, stderr: "", ...(outcome.stream ? { stream: outcome.stream } : {}) },
    problems: outcome.problems,
    restored: null,
  };
}
