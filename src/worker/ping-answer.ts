import type { WorkerLoadWire } from '../protocol/load.js';

/**
 * The communicator's answer to the heartbeat thread's latest ping, in memory both threads share.
 *
 * The ping still goes over the Unix domain socket (DESIGN: it wakes the communicator's event loop,
 * which is what it tests); the answer — which ping, and the load with its pressure sample — is
 * written here instead of back over the socket, and the thread reads it when its next heartbeat
 * leaves. An answer over the socket woke the thread once more per heartbeat for nothing it needed
 * before then: on a lab PC that is a wake-up per Worker process per interval, ~0.5 ms of CPU each.
 *
 * One writer (the communicator), one reader (the thread): a sequence lock. The writer makes the
 * version odd, writes, makes it even; a reader that sees an odd version, or a different one after
 * reading, has read a half-written answer and keeps the previous one.
 */
const VERSION = 0;
const SEQ = 1;
const FIELDS = ['psiCpu', 'psiMemory', 'psiIo', 'slotsFree', 'slotsBusy'] as const;

/** What the communicator last answered: the ping's number and the load then. */
export interface PingAnswer {
  seq: number;
  load: WorkerLoadWire;
}

export class PingAnswers {
  private readonly control: Int32Array;
  private readonly values: Float64Array;

  /** 8 bytes of control (version, ping number) and one float per load field. */
  static readonly BYTES = 8 + 8 * FIELDS.length;

  constructor(readonly buffer: SharedArrayBuffer) {
    if (buffer.byteLength < PingAnswers.BYTES) throw new RangeError(`a ping answer needs ${PingAnswers.BYTES} bytes, got ${buffer.byteLength}`);
    this.control = new Int32Array(buffer, 0, 2);
    this.values = new Float64Array(buffer, 8, FIELDS.length);
  }

  static create(): PingAnswers {
    return new PingAnswers(new SharedArrayBuffer(PingAnswers.BYTES));
  }

  /** The communicator answers ping `seq` (a positive int32, wrapping is the caller's concern). */
  write(seq: number, load: WorkerLoadWire): void {
    const v = Atomics.load(this.control, VERSION);
    Atomics.store(this.control, VERSION, (v + 1) | 0);
    Atomics.store(this.control, SEQ, seq);
    FIELDS.forEach((f, i) => (this.values[i] = load[f]));
    Atomics.store(this.control, VERSION, (v + 2) | 0);
  }

  /** The latest whole answer; null before the first, or while one is being written. */
  read(): PingAnswer | null {
    const before = Atomics.load(this.control, VERSION);
    if (before === 0 || (before & 1) === 1) return null;
    const seq = Atomics.load(this.control, SEQ);
    const v = FIELDS.map((_, i) => this.values[i] as number);
    if (Atomics.load(this.control, VERSION) !== before) return null;
    return { seq, load: { psiCpu: v[0] as number, psiMemory: v[1] as number, psiIo: v[2] as number, slotsFree: v[3] as number, slotsBusy: v[4] as number } };
  }
}
