import type { LeastLoadedAssignerReply } from '../cluster/messages.js';
import type { LabConfig, NodeConfig } from '../config/index.js';
import type { RunMessage } from '../protocol/run-messages.js';
import type { WireMessage } from './wire-messages.js';
import type { AddressBook } from './address-book.js';
import type { AgentMessage } from './agent-messages.js';
import type { ClusterDriver } from './driver.js';
import type { Logger } from './log.js';
import type { GatewayBoundMessage, Routed } from './routes.js';
import type { StateFile } from './driver.js';
import type { PeerLinks } from './peers.js';

// What a role's service is given and what it offers the agent. Apart from agent.ts so that the
// roles (gateway/, assigner/, worker/) can depend on these shapes without depending on the agent
// that starts them: that was an import circle (agent.ts -> gateway/ -> agent.ts).

/** What a role adds to a node beyond membership (Gateway, Assigner, Worker host). */
export interface RoleService {
  /** A returned promise holds back further messages from that link until it settles (back-pressure). */
  handle(from: string, msg: RunMessage | AgentMessage | LeastLoadedAssignerReply): void | Promise<void>;
  stop(): Promise<void>;
  /** The node leaves this role: hand held work on (or finish it) before stop(). */
  drain?(): Promise<void>;
  /** The role's own load for the table (an Assigner: runs held, room left, runs queued). */
  load?(): { slotsFree: number; slotsBusy: number; queued?: number };
}

export interface AgentContext {
  config: LabConfig;
  /** The config file (Worker processes read it too); null for an in-memory config. */
  configPath: string | null;
  stateDir: string;
  self: NodeConfig;
  book: AddressBook;
  peers: PeerLinks<WireMessage>;
  driver: ClusterDriver;
  log: Logger;
}

export type RoleServiceFactory = (role: string, ctx: AgentContext) => Promise<RoleService | null>;

/**
 * A service every agent runs whatever its role: the Gateway standby protocol, which serves the
 * Gateway's API where this node holds the Gateway's epoch (roles/gateway.ts builds it).
 */
export interface StandingService {
  /** The standby protocol's messages, the serving Gateway's data, the judge's problem copies. */
  receive(from: string, routed: Extract<Routed, { route: 'gateway_standby' | 'gateway_data' | 'judge_sync' }>): void;
  /** The Gateway API's handler while this node serves it or holds it warm; null otherwise. */
  gateway(): { handle(from: string, msg: GatewayBoundMessage): void | Promise<void> } | null;
  stop(): Promise<void>;
}

export type StandingServiceFactory = (ctx: AgentContext, stateFile: StateFile) => StandingService;

/** The PC's pressure (PSI fractions) that a node reports with its load. */
export interface PressureSampler {
  sample(nowMs: number): { cpu: number; memory: number; io: number };
}

export type PressureSamplerFactory = (config: LabConfig, self: NodeConfig) => PressureSampler;
