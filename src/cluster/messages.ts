import { z } from 'zod';
import { LoadSchema, type Load } from '../protocol/load.js';
import { NodeNameSchema, type NodeName } from '../protocol/names.js';

// Names and loads are shared with the run, agent and judge messages: defined once in src/protocol/.
export { NODE_NAME_LENGTH_MAX, NodeNameSchema, type NodeName } from '../protocol/names.js';
export { LoadSchema, SLOTS_MAX, ZERO_LOAD, type Load } from '../protocol/load.js';

// Every cluster message, validated once at the edge (the driver calls parseClusterMessage on each
// decoded frame). Every array and string a peer can send has a bound, so a faulty or hostile peer
// cannot make a node allocate without limit; the bounds are named so cores and tests share them.

// The bounds live in protocol/bounds.ts (no zod there: the cluster cores and a Worker's heartbeat
// thread load them without zod); import them from there, not from here.
import {
  ASSIGNERS_MAX,
  GOSSIP_DIGESTS_PER_MESSAGE_MAX,
  GOSSIP_ENTRIES_PER_MESSAGE_MAX,
  GOSSIP_NEWS_PER_MESSAGE_MAX,
  LANGUAGE_NAME_LENGTH_MAX,
  LANGUAGES_PER_NODE_MAX,
  MONITOR_HEARTBEAT_WORKERS_MAX,
  MONITORS_MAX,
  REQUEST_ID_LENGTH_MAX,
} from '../protocol/bounds.js';

const UINT32_MAX = 0xffffffff;

export const RoleSchema = z.enum(['monitor', 'assigner', 'worker', 'empty']);
export const StatusSchema = z.enum(['alive', 'suspect', 'dead']);
const CounterSchema = z.number().int().min(0);

export const LanguagesSchema = z
  .array(z.string().min(1).max(LANGUAGE_NAME_LENGTH_MAX))
  .max(LANGUAGES_PER_NODE_MAX);

/** One row of the Monitors' table as it travels in gossip (lastHeardMs is local, never sent). */
/** An operating-system process id, for operators (the cluster view); protocols never use it. */
const PidSchema = z.number().int().min(1).max(0x7fffffff).optional();

export const EntrySchema = z.object({
  name: NodeNameSchema,
  pid: PidSchema,
  role: RoleSchema,
  incarnation: CounterSchema,
  /** The node's life: the incarnation it booted with (or took on learning it had forgotten a
   * higher one). A refutation raises the incarnation within a life; a restart starts a new life,
   * so only a higher life means the node's state (its runs) is gone. */
  life: CounterSchema,
  status: StatusSchema,
  version: CounterSchema,
  /** The Monitor this node heartbeats to; null for a placeholder nobody has heard from yet. */
  monitor: NodeNameSchema.nullable(),
  load: LoadSchema,
  languages: LanguagesSchema,
  /** An Assigner's buddy (it replicates its runs there); absent or null for other roles. */
  buddy: NodeNameSchema.nullable().optional(),
});

export const DigestSchema = z.object({
  name: NodeNameSchema,
  incarnation: CounterSchema,
  status: StatusSchema,
  version: CounterSchema,
});

/** A place in one Monitor's change log; epoch changes when that Monitor's table is rebuilt. */
export const LogPositionSchema = z.object({
  epoch: z.number().int().min(0).max(UINT32_MAX),
  seq: CounterSchema,
});

/** Order-independent hash of every (name, incarnation, status, version) in a table. */
export const TableHashSchema = z.object({
  h1: z.number().int().min(0).max(UINT32_MAX),
  h2: z.number().int().min(0).max(UINT32_MAX),
  size: CounterSchema,
});

const NamesSchema = (max: number) => z.array(NodeNameSchema).max(max);

export const HeartbeatSchema = z.object({
  type: z.literal('heartbeat'),
  from: NodeNameSchema,
  pid: PidSchema,
  incarnation: CounterSchema,
  life: CounterSchema,
  version: CounterSchema,
  role: RoleSchema,
  monitor: NodeNameSchema,
  load: LoadSchema,
  languages: LanguagesSchema,
  buddy: NodeNameSchema.nullable().optional(),
  /** Hash of the Monitor list this node knows; the ack repeats the list only if it differs. */
  monitorsHash: z.number().int().min(0).max(UINT32_MAX),
});

export const HeartbeatAckSchema = z.object({
  type: z.literal('heartbeat_ack'),
  from: NodeNameSchema,
  /** What this Monitor's table says about the heartbeating node, so it can refute. */
  yourIncarnation: CounterSchema,
  yourStatus: StatusSchema,
  yourVersion: CounterSchema,
  /** The Monitor this one thinks the node should report to (rendezvous over live Monitors). */
  preferredMonitor: NodeNameSchema.nullable(),
  /** The live Monitors; empty when the heartbeat's monitorsHash showed the node has them. */
  monitors: NamesSchema(MONITORS_MAX),
  leader: z.object({ name: NodeNameSchema, term: CounterSchema }).nullable(),
});

export const GossipPushSchema = z.object({
  type: z.literal('gossip_push'),
  from: NodeNameSchema,
  epoch: LogPositionSchema.shape.epoch,
  /** The digests cover the sender's log in (afterSeq, upToSeq]. */
  afterSeq: CounterSchema,
  upToSeq: CounterSchema,
  /** The sender's newest log position: a receiver whose table hash matches can skip to it. */
  headSeq: CounterSchema,
  tableHash: TableHashSchema,
  /** How far the sender has received the receiver's log, so the reply only sends what is newer. */
  haveOfYou: LogPositionSchema.nullable(),
  digests: z.array(DigestSchema).max(GOSSIP_DIGESTS_PER_MESSAGE_MAX),
  news: z.array(DigestSchema).max(GOSSIP_NEWS_PER_MESSAGE_MAX),
});

const PushRangeSchema = z.object({ epoch: LogPositionSchema.shape.epoch, afterSeq: CounterSchema, upToSeq: CounterSchema });

export const GossipPullSchema = z.object({
  type: z.literal('gossip_pull'),
  from: NodeNameSchema,
  epoch: LogPositionSchema.shape.epoch,
  /** The entries include the sender's log in (afterSeq, upToSeq]. */
  afterSeq: CounterSchema,
  upToSeq: CounterSchema,
  /** How far the sender has received the pusher's log (after this exchange, if want is empty). */
  ackOfYou: LogPositionSchema.nullable(),
  /** The push this answers, echoed so the pusher's gossip_entries can carry it back. */
  push: PushRangeSchema,
  want: NamesSchema(GOSSIP_ENTRIES_PER_MESSAGE_MAX),
  entries: z.array(EntrySchema).max(GOSSIP_ENTRIES_PER_MESSAGE_MAX),
});

export const GossipEntriesSchema = z.object({
  type: z.literal('gossip_entries'),
  from: NodeNameSchema,
  push: PushRangeSchema,
  entries: z.array(EntrySchema).max(GOSSIP_ENTRIES_PER_MESSAGE_MAX),
});

export const WorkerLoadSchema = z.object({
  name: NodeNameSchema,
  incarnation: CounterSchema,
  life: CounterSchema,
  load: LoadSchema,
  languages: LanguagesSchema,
});

/** What the Monitors' table says of one Assigner: Assigners learn their buddy's fate from it. */
export const AssignerStateSchema = z.object({
  name: NodeNameSchema,
  incarnation: CounterSchema,
  life: CounterSchema,
  status: StatusSchema,
  buddy: NodeNameSchema.nullable(),
});

export const MonitorHeartbeatSchema = z.object({
  type: z.literal('monitor_heartbeat'),
  from: NodeNameSchema,
  /** The newest leader term this Monitor knows; Assigners fence stale Monitors with it. */
  term: CounterSchema,
  intervalMs: z.number().int().min(1).max(60_000),
  workers: z.array(WorkerLoadSchema).max(MONITOR_HEARTBEAT_WORKERS_MAX),
  /** Workers this Monitor declared dead lately: Assigners end their runs at once (absence from
   * \`workers\` alone may only mean a Worker is moving to another Monitor). */
  deadWorkers: z.array(z.object({ name: NodeNameSchema, incarnation: CounterSchema })).max(MONITOR_HEARTBEAT_WORKERS_MAX).optional(),
  /** Every Assigner the table holds, dead ones included (a buddy takes over a dead one's runs). */
  assigners: z.array(AssignerStateSchema).max(ASSIGNERS_MAX).optional(),
});

export const LeastLoadedAssignerRequestSchema = z.object({
  type: z.literal('least_loaded_assigner_request'),
  from: NodeNameSchema,
  requestId: z.string().min(1).max(REQUEST_ID_LENGTH_MAX),
});

export const LeastLoadedAssignerReplySchema = z.object({
  type: z.literal('least_loaded_assigner_reply'),
  from: NodeNameSchema,
  requestId: z.string().min(1).max(REQUEST_ID_LENGTH_MAX),
  assigner: NodeNameSchema.nullable(),
});

export const VoteRequestSchema = z.object({
  type: z.literal('vote_request'),
  from: NodeNameSchema,
  term: CounterSchema,
  /** The newest term in which the candidate followed or was a leader (Raft's log up-to-dateness). */
  lastTerm: CounterSchema,
});

export const VoteReplySchema = z.object({
  type: z.literal('vote_reply'),
  from: NodeNameSchema,
  term: CounterSchema,
  granted: z.boolean(),
});

export const LeaderHeartbeatSchema = z.object({
  type: z.literal('leader_heartbeat'),
  from: NodeNameSchema,
  term: CounterSchema,
});

export const LeaderHeartbeatReplySchema = z.object({
  type: z.literal('leader_heartbeat_reply'),
  from: NodeNameSchema,
  term: CounterSchema,
  /** false: the replier is in a newer term and the sender must step down. */
  ok: z.boolean(),
});

export const OrderRoleSchema = z.object({
  type: z.literal('order_role'),
  from: NodeNameSchema,
  /** The issuing leader's term; (term, seq) orders a leader's successive orders within a term. */
  term: CounterSchema,
  seq: CounterSchema,
  target: NodeNameSchema,
  role: RoleSchema,
  /** For role 'assigner': the buddy to pair with (an order may only re-pair, role unchanged). */
  buddy: NodeNameSchema.nullable().optional(),
});

/** The Hydra (src/cluster/hydra.ts): Assigners electing replacement Monitors. */
export const HydraVoteRequestSchema = z.object({
  type: z.literal('hydra_vote_request'),
  from: NodeNameSchema,
  /** The Hydra's own term (not the Monitor leader's): one vote per term per Assigner. */
  term: CounterSchema,
  /** The Monitors the candidate missed missedLimit heartbeats of in a row: a voter grants only
   * if it misses every one of them too. */
  silent: NamesSchema(MONITORS_MAX).min(1),
});

export const HydraVoteReplySchema = z.object({
  type: z.literal('hydra_vote_reply'),
  from: NodeNameSchema,
  term: CounterSchema,
  granted: z.boolean(),
  /** The newest Monitor leader term this voter knows: the winner starts the new Monitors above it. */
  leaderTerm: CounterSchema,
  /** Monitors of the request this voter knows were already replaced: the candidate stands down. */
  replaced: NamesSchema(MONITORS_MAX),
});

/** The winner's commit: it switches role once a majority of its electorate acknowledged this. */
export const HydraWonSchema = z.object({
  type: z.literal('hydra_won'),
  from: NodeNameSchema,
  term: CounterSchema,
  /** The silent Monitors this win replaces: no Assigner elects for them again. */
  replaced: NamesSchema(MONITORS_MAX),
  /** The new Monitors (the winner and its buddy): Assigners add them to their Monitor list. */
  monitors: NamesSchema(MONITORS_MAX),
});

export const HydraWonAckSchema = z.object({
  type: z.literal('hydra_won_ack'),
  from: NodeNameSchema,
  term: CounterSchema,
  /** false: this voter voted in a newer term since, or acknowledged a newer commit. */
  ok: z.boolean(),
  leaderTerm: CounterSchema,
});

export const HydraPromoteSchema = z.object({
  type: z.literal('hydra_promote'),
  from: NodeNameSchema,
  /** The Hydra term the sender won. */
  term: CounterSchema,
  /** The role change's fence: it counts as order (orderTerm, 0) — the first order of the Monitor
   * leader term after the newest one the winner knew — so no leader of that term or older undoes it. */
  orderTerm: CounterSchema,
  target: NodeNameSchema,
  /** The Monitors the new Monitor starts its table with and gossips to. */
  monitors: NamesSchema(MONITORS_MAX),
});

/** New Monitors telling nodes where to heartbeat when no old Monitor survived to say so. */
export const MonitorAnnounceSchema = z.object({
  type: z.literal('monitor_announce'),
  from: NodeNameSchema,
  monitors: NamesSchema(MONITORS_MAX).min(1),
});

export const ClusterMessageSchema = z.discriminatedUnion('type', [
  HeartbeatSchema,
  HeartbeatAckSchema,
  GossipPushSchema,
  GossipPullSchema,
  GossipEntriesSchema,
  MonitorHeartbeatSchema,
  LeastLoadedAssignerRequestSchema,
  LeastLoadedAssignerReplySchema,
  VoteRequestSchema,
  VoteReplySchema,
  LeaderHeartbeatSchema,
  LeaderHeartbeatReplySchema,
  OrderRoleSchema,
  HydraVoteRequestSchema,
  HydraVoteReplySchema,
  HydraWonSchema,
  HydraWonAckSchema,
  HydraPromoteSchema,
  MonitorAnnounceSchema,
]);

export type Role = z.infer<typeof RoleSchema>;
export type Status = z.infer<typeof StatusSchema>;
export type WireEntry = z.infer<typeof EntrySchema>;
export type Digest = z.infer<typeof DigestSchema>;
export type LogPosition = z.infer<typeof LogPositionSchema>;
export type TableHash = z.infer<typeof TableHashSchema>;
export type WorkerLoad = z.infer<typeof WorkerLoadSchema>;
export type AssignerState = z.infer<typeof AssignerStateSchema>;
export type Heartbeat = z.infer<typeof HeartbeatSchema>;
export type HeartbeatAck = z.infer<typeof HeartbeatAckSchema>;
export type GossipPush = z.infer<typeof GossipPushSchema>;
export type GossipPull = z.infer<typeof GossipPullSchema>;
export type GossipEntries = z.infer<typeof GossipEntriesSchema>;
export type MonitorHeartbeat = z.infer<typeof MonitorHeartbeatSchema>;
export type LeastLoadedAssignerRequest = z.infer<typeof LeastLoadedAssignerRequestSchema>;
export type LeastLoadedAssignerReply = z.infer<typeof LeastLoadedAssignerReplySchema>;
export type VoteRequest = z.infer<typeof VoteRequestSchema>;
export type VoteReply = z.infer<typeof VoteReplySchema>;
export type LeaderHeartbeat = z.infer<typeof LeaderHeartbeatSchema>;
export type LeaderHeartbeatReply = z.infer<typeof LeaderHeartbeatReplySchema>;
export type OrderRole = z.infer<typeof OrderRoleSchema>;
export type HydraVoteRequest = z.infer<typeof HydraVoteRequestSchema>;
export type HydraVoteReply = z.infer<typeof HydraVoteReplySchema>;
export type HydraWon = z.infer<typeof HydraWonSchema>;
export type HydraWonAck = z.infer<typeof HydraWonAckSchema>;
export type HydraPromote = z.infer<typeof HydraPromoteSchema>;
export type MonitorAnnounce = z.infer<typeof MonitorAnnounceSchema>;
export type ClusterMessage = z.infer<typeof ClusterMessageSchema>;
export type ClusterMessageType = ClusterMessage['type'];

export const ROLES: readonly Role[] = RoleSchema.options;


export type ParseResult = { ok: true; message: ClusterMessage } | { ok: false; error: string };

/**
 * Validates a decoded frame. `from` is the peer the authenticated transport says sent it: a message
 * claiming another sender is refused, so one node cannot speak for another.
 */
export function parseClusterMessage(raw: unknown, from: NodeName): ParseResult {
  const parsed = ClusterMessageSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) };
  if (parsed.data.from !== from) {
    return { ok: false, error: `message claims sender ${parsed.data.from} but came from ${from}` };
  }
  return { ok: true, message: parsed.data };
}
