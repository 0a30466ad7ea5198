import type { RunChunkWire, RunResultWire, RunSpecWire } from '../protocol/run-messages.js';
import { sandboxRequestOf } from '../protocol/run-spec.js';
import { startRun } from '../sandbox/runner.js';
import type { SandboxPool } from '../sandbox/sandbox-process.js';

/**
 * The Worker driver's two narrow windows on the world: time (common/clock.ts) and the sandbox, each
 * with a real implementation and an in-memory twin in twins.ts (a manual clock, a scripted program)
 * for tests and the simulator.
 */

/** One piece of a program's output, numbered densely from 0 across its streams. */
export interface SandboxChunk {
  seq: number;
  stream: RunChunkWire['stream'];
  data: Uint8Array;
}

/** A running program's output: consecutive chunks, the stream ending when the program has ended. */
export interface SandboxOutput extends AsyncIterable<SandboxChunk> {
  /** Up to max chunks that are ready now, without waiting (so several travel in one message). */
  takeNow(max: number): SandboxChunk[];
}

/** One program in a sandbox. Its output must be consumed, or the program blocks on write. */
export interface SandboxRun {
  readonly output: SandboxOutput;
  write(data: string): void;
  endInput(): void;
  kill(): void;
  /** How the program ended; rejects only on a fault of the sandbox itself. */
  readonly result: Promise<RunResultWire>;
}

export interface Sandbox {
  /** Starts the run's program; throws if the run cannot start at all (the driver ends it as internal_error). */
  start(run: RunSpecWire): SandboxRun;
}

/** The bwrap sandbox (src/sandbox/runner.ts), drawing ready sandboxes from the Worker's pool. */
export function bwrapSandbox(pool: SandboxPool): Sandbox {
  return {
    start(run) {
      const handle = startRun({ ...sandboxRequestOf(run), pool });
      return {
        // The runner's bounded queue as it is: no copy, no extra hop per chunk.
        output: handle.chunks,
        write: (data) => handle.write(data),
        endInput: () => handle.endInput(),
        kill: () => handle.kill(),
        result: handle.result,
      };
    },
  };
}
