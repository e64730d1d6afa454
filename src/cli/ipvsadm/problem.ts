// What is wrong with one ipvsadm line, as a value both of its readers can use. The command line
// (and -R) prints ipvsadm's words and exits with ipvsadm's code, for the first problem only, since
// ipvsadm stops there; a rules file reports every problem of every line in ringvs's words, naming
// the option and the value as they were written.

export const PROGRAM = "ipvsadm";

/** What ipvsadm would have printed and exited with. */
export interface Exit {
  code: number;
  stdout: string;
  stderr: string;
  /** More standard output after `stdout`, produced a part at a time (-L -c over a million
   *  connections): the control socket sends each part once the one before has left. */
  stream?: AsyncIterable<string>;
}

/** How the command line fails on a problem. */
export interface CliFailure {
  code: number;
  /** stderr without its final newline. */
  text: string;
  /** ipvsadm's process ends here (fail(), tryhelp_exit(), a listing's exit(1)): `ipvsadm -R`
   *  stops at this line. A popt error or a refused table change only fails its line, and -R reads
   *  on. */
  exits: boolean;
}

export interface LineProblem {
  /** The option as written ("-w", "--weight"), or the word the problem is about ("extra", "ops"). */
  option: string;
  /** The value as written; the number it was read as when only its range is wrong. */
  value?: string | number;
  /** ringvs's explanation: what a rules file reports. */
  message: string;
  cli: CliFailure;
  /** Where the problem was written when not on the command's own line: a firewall-mark member's
   *  `# ringvs: fwmark` line. */
  writtenOn?: number;
  /** The problems a rules file treats by what they are about, not by their words: a command on a
   *  service whose -A line failed is not also "not defined", and a mark whose directive line is
   *  broken is not also "without members". */
  about?: "undefined-service" | "memberless-mark";
  /** ipvsadm reads every option's value before it checks which options the command takes, so the
   *  command line may stop at the value of an option the command does not take at all; the line's
   *  "illegal option" says it better, and a rules file reports only that. */
  shadowed?: true;
}

/** A problem about an option as written, shown with its value as written unless `value` says what
 *  to show instead. */
export function problemAt(
  at: { written: string; arg?: string },
  message: string,
  cli: CliFailure,
  value: string | number | undefined = at.arg,
  more: Pick<LineProblem, "writtenOn" | "about"> = {},
): LineProblem {
  return { option: at.written, ...(value !== undefined ? { value } : {}), message, cli, ...more };
}

// ipvsadm's ways of failing.

/** fail(2, ...): the message, exit 2. */
export const ipvsadmFails = (text: string): CliFailure => ({ code: 2, text, exits: true });

export const TRY_HELP = `Try \`${PROGRAM} -h' or '${PROGRAM} --help' for more information.`;
/** tryhelp_exit(argv[0], -1): exit(-1) is status 255. */
export const tryHelp = (): CliFailure => ({ code: 255, text: TRY_HELP, exits: true });

/** A popt error: "OPTION: popt's words", parse_options returns -1 (status 255). */
export const poptFails = (word: string, text: string): CliFailure => ({ code: 255, text: `${word}: ${text}`, exits: false });

/** A refused table change: `fprintf(stderr, "%s\n", ipvs_strerror(errno))`, return -1 (status
 *  255). When ringvs knows more than the errno says, that follows on its own line. */
export const kernelRefuses = (strerror: string, detail?: string): CliFailure => ({
  code: 255, text: detail ? `${strerror}\nringvs: ${detail}` : strerror, exits: false,
});

/** A listing of a service that does not exist: ipvsadm prints the error and exit(1)s. */
export const listingFails = (strerror: string): CliFailure => ({ code: 1, text: strerror, exits: true });

/** ringvs refuses what ipvsadm would do (exit 2, as fail()): ipvsadm's own words first when it has
 *  them. While the line is read this ends -R like fail(); once the command runs it is a refused
 *  table change (`ends` false), and -R reads on. */
export function ringvsRefuses(text: string, opts: { ipvsadmSays?: string; ends?: boolean } = {}): CliFailure {
  return { code: 2, text: opts.ipvsadmSays ? `${opts.ipvsadmSays}\nringvs: ${text}` : text, exits: opts.ends ?? true };
}

export function exitOf(failure: CliFailure, stdout = ""): Exit {
  return { code: failure.code, stdout, stderr: `${failure.text}\n` };
}

export const OK: Exit = { code: 0, stdout: "", stderr: "" };
