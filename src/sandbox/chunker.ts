import assert from 'node:assert/strict';

import { CHUNK_BYTES_MAX, type StreamName } from '../protocol/output.js';

export { CHUNK_BYTES_MAX, type StreamName } from '../protocol/output.js';

export interface Chunk {
  /** Dense from 0 across all streams of a run. */
  seq: number;
  stream: StreamName;
  data: Buffer;
}

/** Cuts a run's output into numbered chunks of at most CHUNK_BYTES_MAX bytes. */
export class Chunker {
  private nextSeq = 0;

  constructor(private readonly chunkBytesMax = CHUNK_BYTES_MAX) {
    assert.ok(chunkBytesMax > 0);
  }

  get seq(): number {
    return this.nextSeq;
  }

  cut(stream: StreamName, data: Buffer): Chunk[] {
    const out: Chunk[] = [];
    for (let off = 0; off < data.length; off += this.chunkBytesMax) {
      out.push({ seq: this.nextSeq++, stream, data: data.subarray(off, off + this.chunkBytesMax) });
    }
    return out;
  }
}
