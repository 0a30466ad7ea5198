import type { LanguageInfo } from '../sandbox/languages.js';
import type { Limits } from '../sandbox/limits.js';
import type { RunResultStatus } from '../protocol/run-status.js';
import type { RunResult } from '../sandbox/runner.js';
import type { ClusterView } from './api-types.js';
import type { StreamName } from '../protocol/output.js';

/** A run as the Gateway accepted it: validated, limits in the runner's units. */
export interface AcceptedRun {
  id: string;
  user: string;
  language: string;
  files: Array<{ name: string; content: string }>;
  /** Name of the main source file among `files`. */
  main: string;
  stdin: string;
  interactive: boolean;
  limits: Limits;
  /** Command-line arguments after the program (Jobe's runargs, Piston's and Judge0's args; a judge's checker gets its files' names). */
  args?: string[];
}

export interface OutputChunk {
  seq: number;
  stream: StreamName;
  data: Buffer;
}

/** Where a backend reports a run's progress. Every run gets exactly one `exit`. */
export interface RunSink {
  queued(position: number): void;
  started(info: { worker: string | null; assigner: string | null }): void;
  output(chunk: OutputChunk): void;
  /** The run's Worker was lost and the run starts again: what it printed so far is void. */
  restarted(attempt: number): void;
  /** The run's Assigner died and its buddy carries the run on. */
  reassigned(assigner: string): void;
  exit(result: BackendResult): void;
}

export type BackendResult = Omit<RunResult, 'limits_mechanism' | 'status'> & {
  status: RunResultStatus;
  limits_mechanism?: RunResult['limits_mechanism'];
};

/** A run an Assigner still holds, found for a Gateway that has no record of it (after a failover). */
export interface AttachedRun {
  run: AcceptedRun;
  phase: 'queued' | 'running' | 'finished';
  worker: string | null;
  assigner: string;
  /** Its placement now (1: the first): the chunks' seqs start again at each. */
  attempt: number;
}

export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';
}

export class NoCapacityError extends Error {
  readonly code = 'NO_CAPACITY';
}

/**
 * The Assigner a Monitor named did not say it holds the run within the ack window, asked twice. It
 * is not a lack of capacity (the Assigner may be alive, overloaded or about to be declared dead),
 * but the client's answer is the same: try again in a moment.
 */
export class AssignerTimeoutError extends Error {
  readonly code = 'ASSIGNER_TIMEOUT';
}

/** The run was not placed now and may be tomorrow: a client (or the judge) retries these. */
export function isRetryableStartError(err: unknown): err is QueueFullError | NoCapacityError | AssignerTimeoutError {
  return err instanceof QueueFullError || err instanceof NoCapacityError || err instanceof AssignerTimeoutError;
}

/**
 * What runs the Gateway's runs: the cluster (Assigners and Workers) in a lab, or this machine's
 * sandbox directly (LocalBackend). The Gateway keeps every chunk itself, so a backend only streams.
 */
export interface RunBackend {
  /**
   * Hands the run on; resolves once it is held (queued or started). Rejects with QueueFullError
   * when no Worker is free and the wait queue is at its bound, NoCapacityError when nothing
   * can take runs at all, or AssignerTimeoutError when the chosen Assigner did not answer.
   */
  start(run: AcceptedRun, sink: RunSink): Promise<void>;
  /**
   * Finds a run this Gateway has no record of (another Gateway accepted it before a failover):
   * asks the Assigners; the one holding it answers, `adopt` makes the sink, and the run's whole
   * output so far, then its live stream, go there. Resolves false when nobody holds it.
   */
  attach?(id: string, adopt: (found: AttachedRun) => RunSink): Promise<boolean>;
  write(id: string, data: string): void;
  endInput(id: string): void;
  kill(id: string): void;
  languages(): Promise<LanguageInfo[]>;
  cluster(): ClusterView;
  queueLength(): number;
  close(): Promise<void>;
}
