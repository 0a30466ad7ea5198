import type { Limits } from '../sandbox/limits.js';
import type { RunBackend } from './backend.js';
import type { JobeFiles } from './compat/common.js';
import type { GatewayRole } from './web.js';

export interface AuthToken {
  token: string;
  user: string;
  concurrentRunsMax: number;
}

export interface GatewayOptions {
  backend: RunBackend;
  auth: { enabled: boolean; tokens: AuthToken[] };
  /** Concurrent runs of one user when auth is off (everyone is "anonymous"). */
  anonymousRunsMax?: number;
  limitsMax?: Limits;
  sourceBytesMax?: number;
  runsRetainedMax?: number;
  logger?: boolean;
  /** Key of the resume tokens (deriveResumeKey of the cluster secret): shared by every Gateway of
   * a lab, so a standby that took over honours the old Gateway's tokens. Default: one per process. */
  resumeKey?: Buffer;
  /** How often WebSocket clients are pinged (default WS_PING_MS); tests shorten it. */
  wsPingMs?: number;
  /** Where the judge keeps problems across restarts (src/judge); none: in memory only. */
  stateDir?: string | null;
  /** Gateway URLs the web client fails over to (GET /api/v1/gateways); default none. */
  gateways?: string[];
  /** Epoch and standby of a cluster Gateway, for the lab dashboard. */
  gatewayRole?: () => GatewayRole | null;
  /** Jobe's file store and what to do with a stored file (copy it to the standby); default: a store of its own. */
  jobe?: JobeFiles;
}
