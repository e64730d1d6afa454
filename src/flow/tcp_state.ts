// IPVS's TCP state machine as a director that sees only the client's packets runs it (DR and TUN:
// the kernel's TCP_DIR_INPUT_ONLY table in net/netfilter/ipvs/ip_vs_proto_tcp.c), with the
// kernel's per-state timeouts. Only ESTABLISHED counts as an active connection.
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../dataplane/layout.ts";
import type { TimeoutConfig } from "../config/model.ts";

export const enum TcpState {
  None = 0, Established = 1, SynSent = 2, SynRecv = 3, FinWait = 4, TimeWait = 5,
  Close = 6, CloseWait = 7, LastAck = 8, Listen = 9, SynAck = 10,
}

/** Names as ipvsadm -c prints them. */
export const TCP_STATE_NAMES = [
  "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
  "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK",
] as const;

const sNO = TcpState.None, sES = TcpState.Established, sSS = TcpState.SynSent, sSR = TcpState.SynRecv,
  sFW = TcpState.FinWait, sTW = TcpState.TimeWait, sCL = TcpState.Close, sCW = TcpState.CloseWait,
  sLA = TcpState.LastAck, sLI = TcpState.Listen, sSA = TcpState.SynAck;
void sNO;

/** next[event * 11 + state]; events: 0 syn, 1 fin, 2 ack, 3 rst (tcp_state_idx order). */
const NEXT = new Uint8Array([
  /*        sNO  sES  sSS  sSR  sFW  sTW  sCL  sCW  sLA  sLI  sSA */
  /*syn*/ sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR,
  /*fin*/ sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW,
  /*ack*/ sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES,
  /*rst*/ sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL,
]);

/** The kernel's tcp_state_idx: RST wins, then SYN, FIN, ACK; -1 = no state change. */
export function tcpEvent(flags: number): number {
  if (flags & TCP_RST) return 3;
  if (flags & TCP_SYN) return 0;
  if (flags & TCP_FIN) return 1;
  if (flags & TCP_ACK) return 2;
  return -1;
}

export function nextTcpState(state: number, flags: number): number {
  const ev = tcpEvent(flags);
  return ev < 0 ? state : NEXT[ev * 11 + state]!;
}

/** Seconds per state: the kernel's tcp_timeouts, with ESTABLISHED and FIN_WAIT from --set. */
export function tcpTimeouts(t: TimeoutConfig): Uint32Array {
  const s = new Uint32Array(11);
  s[TcpState.None] = 2;
  s[TcpState.Established] = t.tcp;
  s[TcpState.SynSent] = 120;
  s[TcpState.SynRecv] = 60;
  s[TcpState.FinWait] = t.tcpFin;
  s[TcpState.TimeWait] = 120;
  s[TcpState.Close] = 10;
  s[TcpState.CloseWait] = 60;
  s[TcpState.LastAck] = 30;
  s[TcpState.Listen] = 120;
  s[TcpState.SynAck] = 120;
  return s;
}

/** IPVS conn_reuse_mode 1: a SYN on a connection in TIME_WAIT or CLOSE is a new connection (the
 *  old one is expired and the SYN scheduled afresh), unless a persistence template controls it. */
export function reusableForNewSyn(state: number): boolean {
  return state === TcpState.TimeWait || state === TcpState.Close;
}
