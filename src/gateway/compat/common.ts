import type { LanguageInfo } from '../../sandbox/languages.js';
import type { Limits } from '../../sandbox/limits.js';
import type { RunSpec } from '../api-types.js';
import type { RunBackend } from '../backend.js';
import type { RunRecord } from '../run-store.js';
import type { JobeFileStore } from './jobe-files.js';
import { RUN_ARG_BYTES_MAX, RUN_ARGS_MAX } from '../../protocol/run-messages.js';

/**
 * What the peers' dialects (Jobe, Piston, Judge0) use of the Gateway: the same accept() that
 * POST /api/v1/runs uses, so a run through a dialect is an ordinary run — placed, retried after a
 * lost Worker, counted against its user's quota — and nothing here runs anything itself.
 */
export interface GatewayCore {
  accept(spec: RunSpec, who: GatewayUser, interactiveDefault: boolean, extras?: RunExtras): Promise<RunRecord>;
  /** The user a key names (everyone is "anonymous" when auth is off), or null for a wrong key. */
  userByKey(key: string): GatewayUser | null;
  backend: RunBackend;
  limitsMax: Limits;
  sourceBytesMax: number;
  jobe: JobeFiles;
}

/** Jobe's files: where they are kept (beyond one API instance's life) and who hears of a new one. */
export interface JobeFiles {
  files: JobeFileStore;
  /** Called after a client stored a file (the lab's Gateway copies it to its standby). */
  onPut?: (id: string, data: Buffer) => void;
}

export interface GatewayUser {
  token: string;
  user: string;
  concurrentRunsMax: number;
}

/** What the dialects may ask for beyond the public run spec. */
export interface RunExtras {
  args?: string[];
  processesMax?: number;
}

/** An error accept() throws (an OperatingError, src/protocol/errors.ts): an HTTP status and a stable code. */
export interface GatewayFailure {
  statusCode: number;
  code: string;
  message: string;
}

export function isGatewayFailure(err: unknown): err is GatewayFailure {
  return err instanceof Error && typeof (err as Partial<GatewayFailure>).statusCode === 'number' && typeof (err as Partial<GatewayFailure>).code === 'string';
}

/** Runs a batch run to its end: a lost Worker's run starts again elsewhere and only the attempt that finished counts. */
export async function runToEnd(core: GatewayCore, spec: RunSpec, who: GatewayUser, extras: RunExtras = {}): Promise<RunRecord> {
  const rec = await core.accept({ ...spec, interactive: false }, who, false, extras);
  await rec.done();
  return rec;
}

/** Checks command-line arguments against the wire's bounds; returns a sentence naming the problem, or null. */
export function argsProblem(args: unknown, field: string): string | null {
  if (!Array.isArray(args)) return `${field} must be an array of strings`;
  if (args.length > RUN_ARGS_MAX) return `${field} has ${args.length} arguments, over the ${RUN_ARGS_MAX} allowed`;
  for (const a of args) {
    if (typeof a !== 'string') return `${field} must be an array of strings`;
    if (Buffer.byteLength(a) > RUN_ARG_BYTES_MAX) return `an argument in ${field} is over ${RUN_ARG_BYTES_MAX} bytes`;
    if (a.includes('\0')) return `an argument in ${field} holds a NUL byte`;
  }
  return null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text, or null when they are not valid UTF-8. */
export function utf8OrNull(bytes: Buffer): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** The version number in a toolchain's version line ("gcc (Debian 12.2.0-14) 12.2.0" → "12.2.0"). */
export function versionNumber(info: LanguageInfo): string {
  return /\d+(?:\.\d+)+/.exec(info.version)?.[0] ?? info.version;
}

/** A number clamped into [min, max]. */
export function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
