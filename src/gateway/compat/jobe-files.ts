import { createHash } from 'node:crypto';

/** File ids a Gateway keeps for Jobe clients; past it the least recently used go (a client re-uploads on 404). */
export const JOBE_FILE_IDS_MAX = 4096;
/** Bytes of distinct file contents kept; the same bound's eviction as above. */
export const JOBE_FILE_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Jobe's file cache: a client PUTs a file under an id of its choosing (CodeRunner uses the md5 of
 * the contents) and names it in later runs' file_list. Contents are stored once per SHA-256, however
 * many ids name them; ids and bytes are bounded and the least recently used id goes first. Eviction
 * is safe by protocol: a run naming a missing id gets 404, and CodeRunner then uploads and resubmits.
 */
export class JobeFileStore {
  /** id → content digest, in least-recently-used order (a Map keeps insertion order). */
  private readonly ids = new Map<string, string>();
  private readonly contents = new Map<string, { data: Buffer; refs: number }>();
  private bytes = 0;

  constructor(private readonly idsMax = JOBE_FILE_IDS_MAX, private readonly bytesMax = JOBE_FILE_BYTES_MAX) {}

  put(id: string, data: Buffer): void {
    if (data.length > this.bytesMax) throw new Error(`a file of ${data.length} bytes is over the store's ${this.bytesMax}`);
    const digest = createHash('sha256').update(data).digest('hex');
    if (this.ids.get(id) === digest) {
      this.touch(id, digest);
      return;
    }
    this.remove(id);
    const held = this.contents.get(digest);
    if (held) held.refs++;
    else {
      this.contents.set(digest, { data, refs: 1 });
      this.bytes += data.length;
    }
    this.ids.set(id, digest);
    while (this.ids.size > this.idsMax || this.bytes > this.bytesMax) {
      const oldest = this.ids.keys().next().value as string;
      this.remove(oldest);
    }
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** The file's bytes (and marks it recently used), or undefined. */
  get(id: string): Buffer | undefined {
    const digest = this.ids.get(id);
    if (digest === undefined) return undefined;
    this.touch(id, digest);
    return this.contents.get(digest)?.data;
  }

  get size(): { ids: number; bytes: number } {
    return { ids: this.ids.size, bytes: this.bytes };
  }

  private touch(id: string, digest: string): void {
    this.ids.delete(id);
    this.ids.set(id, digest);
  }

  private remove(id: string): void {
    const digest = this.ids.get(id);
    if (digest === undefined) return;
    this.ids.delete(id);
    const held = this.contents.get(digest);
    if (!held) return;
    held.refs--;
    if (held.refs === 0) {
      this.contents.delete(digest);
      this.bytes -= held.data.length;
    }
  }
}
