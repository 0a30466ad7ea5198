import { readlinkSync } from 'node:fs';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { ClusterNode } from '../cluster/node.js';
import type { ClusterMessage, Load } from '../cluster/bounds.js';
import { AddressBook } from '../agent/address-book.js';
import { ClusterDriver, nowMs, osRandom, StateFile } from '../agent/driver.js';
import { createLogger } from '../agent/log.js';
import type { LabConfig } from '../config/index.js';
import type { WireMessage } from '../agent/wire-messages.js';
import { PeerLinks } from '../agent/peers.js';
import { heartbeatThreadForm } from './heartbeat-form.js';
import { PingAnswers } from './ping-answer.js';

/**
 * A Worker's heartbeat thread: it runs the Worker's cluster membership (heartbeats to its
 * Monitor) and pings the communicator (the main thread) over a Unix domain socket. It heartbeats
 * only while the communicator answers within ANSWER_DEADLINE_MS: a Worker whose event loop is
 * stalled must look dead, since it cannot serve its runs.
 *
 * One wake-up per heartbeat interval where it can: the ping leaves with every other heartbeat (no
 * timer of its own), the answer is read from shared memory (ping-answer.ts) when the next one leaves, and
 * the Monitor's ack comes back on the link the heartbeat went out on (PeerLinks.replyVia) — not
 * through the main thread's listener.
 */
export interface HeartbeatThreadData {
  /** The config the communicator loaded: the thread does not load the config loader (and YAML) again. */
  config: LabConfig;
  name: string;
  socketPath: string;
  /** Where the communicator writes its answers to the pings (PingAnswers). */
  answers: SharedArrayBuffer;
  statePath: string;
  languages: string[];
}

const data = workerData as HeartbeatThreadData;
const config = data.config;
const log = createLogger(`${data.name}/heartbeat`);
const book = new AddressBook(config);
/**
 * A ping leaves with every other heartbeat: each one wakes the communicator, and waking another
 * thread is most of what a ping costs here (the write that wakes it, ~0.5 ms on a VM; see
 * bench/RESULTS.md). The pressure, sampled per ping, still moves every second over its 2 s window.
 */
const PING_EVERY_MS = 2 * config.heartbeat.intervalMs;
/**
 * The communicator must have answered a ping sent at most three intervals ago: when a heartbeat
 * leaves, the newest answered ping may be the one sent two intervals before (the one sent with the
 * previous heartbeat but one), so a stalled communicator stops heartbeats within three intervals.
 */
const ANSWER_DEADLINE_MS = 3 * config.heartbeat.intervalMs;
const answers = new PingAnswers(data.answers);
/** When each recent ping left, by number: an answer counts only for a ping sent within the deadline. */
const pingsSent = new Map<number, number>();
const PINGS_REMEMBERED = 4;
let pingSeq = 0;
let lastPingMs = Number.NEGATIVE_INFINITY;
let lastAnswerSeq = 0;
let healthy = false;
let pingSocket: net.Socket | null = null;

const node = new ClusterNode({
  config: {
    name: data.name,
    pid: process.pid,
    role: 'worker',
    seedMonitors: config.nodes.filter((n) => n.role === 'monitor').map((n) => n.name),
    languages: data.languages,
    timing: { heartbeatIntervalMs: config.heartbeat.intervalMs, missedLimit: config.heartbeat.missedLimit },
  },
  persisted: new StateFile(data.statePath).load(),
  rng: osRandom,
  nowMs: nowMs(),
});
// Not memberLinks (agent/links.ts): that checks every message type with zod. This thread acts on
// two types and checks those by hand (heartbeat-form.ts), so it loads no zod (~8 MB per isolate).
const peers = new PeerLinks<WireMessage>({
  name: data.name,
  secret: config.cluster.secret as string,
  schema: heartbeatThreadForm,
  logger: log,
  resolve: (p) => book.resolve(p),
  onMessage: (from, msg) => {
    if (msg.type === 'heartbeat_ack' || msg.type === 'order_role') driver.receive(from, msg);
  },
});
// Checked when each heartbeat leaves: a stall is seen at the deadline itself.
const driver = new ClusterDriver(node, peers, new StateFile(data.statePath), log, (m) => m.message.type !== 'heartbeat' || beforeHeartbeat());

/** Reads the communicator's latest answer, pings it again, and says whether it answers. */
function beforeHeartbeat(): boolean {
  const now = nowMs();
  const answer = answers.read();
  if (answer !== null && answer.seq !== lastAnswerSeq) {
    lastAnswerSeq = answer.seq;
    // After this step: the load goes out with the next heartbeat.
    queueMicrotask(() => driver.setLoad(answer.load));
  }
  const sentAt = pingsSent.get(lastAnswerSeq);
  const wasHealthy = healthy;
  healthy = sentAt !== undefined && now - sentAt <= ANSWER_DEADLINE_MS;
  if (wasHealthy !== healthy) log.warn({ event: 'communicator', healthy }, healthy ? 'communicator answers again: heartbeating' : 'communicator stalled: heartbeats withheld');
  // Half an interval of slack: heartbeats on a fixed beat leave a little early or late.
  if (now - lastPingMs >= PING_EVERY_MS - config.heartbeat.intervalMs / 2) ping(now);
  return healthy;
}

function ping(now: number): void {
  if (pingSocket === null) return;
  lastPingMs = now;
  pingSeq = pingSeq >= 0x7fff_ffff ? 1 : pingSeq + 1;
  pingsSent.set(pingSeq, now);
  for (const seq of pingsSent.keys()) if (pingsSent.size > PINGS_REMEMBERED) pingsSent.delete(seq);
  // "ping <life> <n>": the communicator learns the Worker's life (its offer replies name it).
  pingSocket.write(`ping ${node.life} ${pingSeq}\n`);
}

// Cluster messages that reach the Worker's listener (in the main thread) come here.
parentPort?.on('message', (m: { from: string; msg: ClusterMessage }) => driver.receive(m.from, m.msg));

function connectPing(): void {
  const sock = net.connect(data.socketPath);
  // Nothing comes back on the socket (the answers are in shared memory); a first ping at once, so
  // the first heartbeats need not wait an interval for one.
  sock.on('connect', () => {
    pingSocket = sock;
    ping(nowMs());
  });
  sock.on('error', () => {});
  sock.on('close', () => {
    if (pingSocket === sock) pingSocket = null;
    setTimeout(connectPing, 200);
  });
}

connectPing();
// A Worker is never a Monitor: no table to watch, so no 100 ms timer waking this thread.
driver.start({ watchTable: false });
// The thread's own id (/proc/thread-self names it): the footprint bench reads this thread's CPU
// and wake-ups from /proc/PID/task/TID.
function ownThreadId(): number {
  try {
    return Number(/task\/(\d+)/.exec(readlinkSync('/proc/thread-self'))?.[1] ?? 0);
  } catch {
    return 0; // no /proc: the bench has nothing to read anyway
  }
}
log.info({ event: 'heartbeat_thread', tid: ownThreadId() }, 'heartbeat thread started');
