// The ringvs command line's usage text and its error type, shared by the shells in this folder.

export const USAGE = `usage:
  ringvs serve --config FILE [--socket PATH]
  ringvs serve --interface IF [--rules FILE] [--vip-mode auto|local|arp] [--tunnel-source ADDR] [--socket PATH]
               [--workers N] [--cpus C0,C1,...]       N packet workers (PACKET_FANOUT), pinned to CPUs
               without --rules (or with an empty file) it starts with an empty table: add services with -A/-a
               --interface eth0,eth1: receive on several interfaces, each with N workers
  ringvs check --config FILE | --interface IF [--rules FILE] [--vip-mode MODE] [--tunnel-source ADDR]
  ringvs serve --interface IF --keepalived keepalived.conf [...]     virtual_server blocks of keepalived.conf
  ringvs import-keepalived keepalived.conf --interface IF             print them as a JSON config
  ringvs reload [--socket PATH]
  ringvs -A|-E|-D|-C|-a|-e|-d|-L|-Z|-S|-R|--set ...   ipvsadm syntax, against the running director
  ringvs version
The control socket is $RINGVS_SOCKET, or /run/ringvs.sock.`;

/** Bad command-line input: printed with the usage, exit 2. */
export class UsageError extends Error {}
