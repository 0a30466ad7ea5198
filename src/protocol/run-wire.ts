import { RUN_TEXT_MAX } from './run-bounds.js';
import type { PackedChunks, RunChunkWire, RunMessage, RunResultWire, RunWire } from './run-messages.js';

// What the run messages' users need at run time besides the schemas, without zod (a Worker
// process loads no zod; see run-bounds.ts): the unmeasured result, and run output's packed form
// as it travels (the schemas of both forms are in run-messages.ts).

/** A run's end when nothing of the program was measured (killed while waiting, lost, failed). */
export function unmeasuredResult(status: RunResultWire['status'], language: string, message?: string): RunResultWire {
  return { status, exit_code: null, signal: null, cpu_time_ms: 0, wall_time_ms: 0, memory_kb: 0, language, version: '', ...(message ? { message: message.slice(0, RUN_TEXT_MAX) } : {}) };
}

function sizeSum(sizes: number[]): number {
  let n = 0;
  for (const x of sizes) n += x;
  return n;
}

/** Whether b's bytes follow a's in the same memory (then a run's data needs no copy). */
function adjacent(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset + a.byteLength === b.byteOffset;
}

/** Chunks as they travel: runs of consecutive chunks of one stream, each one buffer. */
export function packChunks(chunks: RunChunkWire[]): PackedChunks[] {
  const out: PackedChunks[] = [];
  let i = 0;
  while (i < chunks.length) {
    const first = chunks[i] as RunChunkWire;
    let j = i + 1;
    let contiguous = true;
    while (j < chunks.length) {
      const prev = chunks[j - 1] as RunChunkWire;
      const c = chunks[j] as RunChunkWire;
      if (c.stream !== first.stream || c.seq !== prev.seq + 1) break;
      contiguous &&= adjacent(prev.data, c.data);
      j++;
    }
    const group = chunks.slice(i, j);
    const last = group[group.length - 1] as RunChunkWire;
    const data = contiguous ? new Uint8Array(first.data.buffer, first.data.byteOffset, last.data.byteOffset + last.data.byteLength - first.data.byteOffset) : Buffer.concat(group.map((c) => c.data));
    out.push({ seq: first.seq, stream: first.stream, sizes: group.map((c) => c.data.length), data });
    i = j;
  }
  return out;
}

/** The chunks again, each a view of its run's buffer (no copy). */
export function unpackChunks(packed: PackedChunks[]): RunChunkWire[] {
  const out: RunChunkWire[] = [];
  for (const p of packed) {
    let offset = 0;
    p.sizes.forEach((size, k) => {
      out.push({ seq: p.seq + k, stream: p.stream, data: p.data.subarray(offset, offset + size) as Uint8Array<ArrayBuffer> });
      offset += size;
    });
  }
  return out;
}

/** A run message as it travels: those carrying output have their chunks packed. */
export function runMessageToWire(msg: RunMessage): unknown {
  return msg.type === 'run_output' || msg.type === 'replica_output' ? { ...msg, chunks: packChunks(msg.chunks) } : msg;
}

/** The in-memory form of a run message that passed RunWireSchema. */
export function runMessageFromWire(wire: RunWire): RunMessage {
  // Every other type is the same in both forms.
  return wire.type === 'run_output' || wire.type === 'replica_output' ? { ...wire, chunks: unpackChunks(wire.chunks as PackedChunks[]) } : (wire as RunMessage);
}
