#!/usr/bin/env bun
// ringvs command line: picks the shell for the command. `serve`/`check` run the daemon
// (serve.ts); ipvsadm syntax (`ringvs -L -n`, `ringvs ipvsadm -A ...`) and `reload` talk to the
// running daemon over its control socket (client.ts). See usage.ts.
import pkg from "../../package.json" with { type: "json" };
import { ipvsadmClient, reloadClient } from "./client.ts";
import { importKeepalived, serve } from "./serve.ts";
import { USAGE, UsageError } from "./usage.ts";

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === "ipvsadm" || (cmd?.startsWith("-") && !["-h", "--help", "--version"].includes(cmd))) {
      return await ipvsadmClient(argv);
    }
    switch (cmd) {
      case "serve":
        return await serve(rest, false);
      case "check":
        return await serve(rest, true);
      case "reload":
        return await reloadClient(rest);
      case "import-keepalived":
        return await importKeepalived(rest);
      case "version":
      case "--version":
        process.stdout.write(`ringvs ${pkg.version}\n`);
        return 0;
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE + "\n");
        return 0;
      default:
        throw new UsageError(cmd ? `unknown command ${cmd}` : "no command given");
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ringvs: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
}

process.exit(await main(process.argv.slice(2)));
