// Running the system tools ringvs drives (iproute2, nft). One place, so every call has the same
// error shape: the command line and what the tool said.

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly result: RunResult) {
    super(`${argv.join(" ")} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

/** Run argv to completion, feeding `input` on stdin. Never throws for a non-zero exit. */
export async function run(argv: string[], input?: string): Promise<RunResult> {
  let proc;
  try {
    proc = Bun.spawn(argv, { stdin: input === undefined ? "ignore" : "pipe", stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    return { code: 127, stdout: "", stderr: `cannot run ${argv[0]}: ${(e as Error).message}` };
  }
  if (input !== undefined && proc.stdin) {
    proc.stdin.write(input);
    proc.stdin.end();
  }
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** Run argv and throw CommandError unless it exits 0. */
export async function runOk(argv: string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) throw new CommandError(argv, r);
  return r.stdout;
}
