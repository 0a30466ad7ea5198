// Images: recognised by their first bytes (never by a name or a declared type), stored by the
// SHA-256 of their bytes, in a folder bounded in total size (least recently used out first).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type ImageType = 'jpeg' | 'png' | 'gif' | 'webp';
export const IMAGE_BYTES_MAX = 5 * 1024 * 1024;
export const HASH_RE = /^[0-9a-f]{64}$/;

export const MIME: Record<ImageType, string> = { jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' };
export const EXT: Record<ImageType, string> = { jpeg: 'jpg', png: 'png', gif: 'gif', webp: 'webp' };

/** The image type the bytes say, or null: video, SVG (script-capable), anything else. */
export function sniffImage(b: Uint8Array): ImageType | null {
  const at = (i: number, ...xs: number[]) => xs.every((x, k) => b[i + k] === x);
  if (b.length >= 3 && at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (b.length >= 8 && at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (b.length >= 6 && (at(0, 0x47, 0x49, 0x46, 0x38, 0x37, 0x61) || at(0, 0x47, 0x49, 0x46, 0x38, 0x39, 0x61))) return 'gif';
  if (b.length >= 12 && at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return null;
}

/** The sentence a refused upload gets (stable code IMAGE_TYPE). */
export function refusal(fileName: string, b: Uint8Array): string {
  const video =
    (b.length >= 8 && b[4] === 0x66 && b[5] === 0x74 && b[6] === 0x79 && b[7] === 0x70) || // ftyp: mp4/mov
    (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3); // EBML: webm/mkv
  return video
    ? `"${fileName}" is a video: blogs take images only (JPEG, PNG, GIF or WebP).`
    : `"${fileName}" is not a JPEG, PNG, GIF or WebP image by its contents (whatever its name says), so it was refused.`;
}

export function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

interface Held {
  bytes: number;
  usedMs: number;
}

/** Content-addressed files `<hash>` in one folder; total bytes bounded, LRU eviction. */
export class ImageStore {
  private readonly held = new Map<string, Held>();
  private total = 0;

  constructor(
    private readonly dir: string,
    readonly bytesMax: number,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      if (!HASH_RE.test(name)) continue;
      const st = statSync(path.join(dir, name));
      this.held.set(name, { bytes: st.size, usedMs: st.mtimeMs });
      this.total += st.size;
    }
  }

  has(hash: string): boolean {
    return this.held.has(hash);
  }

  get(hash: string): Buffer | undefined {
    const h = this.held.get(hash);
    if (h === undefined) return undefined;
    h.usedMs = Date.now();
    return readFileSync(path.join(this.dir, hash));
  }

  /** Stores bytes under their own hash (the caller checked the type); returns the hash. */
  put(bytes: Uint8Array): string {
    const hash = sha256Hex(bytes);
    if (this.held.has(hash)) return hash;
    if (bytes.length > this.bytesMax) throw new Error(`an image of ${bytes.length} bytes does not fit a store of ${this.bytesMax}`);
    while (this.total + bytes.length > this.bytesMax) this.evictOldest();
    const tmp = path.join(this.dir, `.${hash}.tmp`);
    writeFileSync(tmp, bytes);
    renameSync(tmp, path.join(this.dir, hash)); // a reader never sees half a file
    this.held.set(hash, { bytes: bytes.length, usedMs: Date.now() });
    this.total += bytes.length;
    return hash;
  }

  get totalBytes(): number {
    return this.total;
  }

  private evictOldest(): void {
    let oldest: string | undefined;
    let oldestMs = Infinity;
    for (const [k, v] of this.held) if (v.usedMs < oldestMs) [oldest, oldestMs] = [k, v.usedMs];
    if (oldest === undefined) return;
    this.total -= this.held.get(oldest)!.bytes;
    this.held.delete(oldest);
    rmSync(path.join(this.dir, oldest), { force: true });
  }
}
