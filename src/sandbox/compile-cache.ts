import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What a compile left in the sandbox's work dir (a tar of it) and what the compiler printed, keyed
 * by a hash of everything that decides the result: language, compile command, file names and
 * contents. A judge submission's tests are ordinary batch runs that carry the same source, so the
 * first compiles and the rest unpack its binary (compile once per submission, per Worker host).
 *
 * Held in memory (bounded LRU) and, when a directory is configured (the Worker host's state dir,
 * shared by its Worker processes), on disk, bounded by entry count: a host's processes share one
 * compile. Interactive runs never use it (a student re-running edited code always compiles).
 */
export interface CompiledArtifact {
  tar: Buffer;
  compileOutput: Buffer;
}

export interface CompileCacheOptions {
  entriesMax: number;
  /** Memory held by the in-memory copies together. */
  memoryBytesMax: number;
  /** One artifact; a larger build is not cached (it compiles every time). */
  artifactBytesMax: number;
  dir: string | null;
}

export const COMPILE_CACHE_DEFAULTS: CompileCacheOptions = {
  entriesMax: 256, // a class of 200 students plus checkers
  memoryBytesMax: 64 * 1024 * 1024,
  artifactBytesMax: 16 * 1024 * 1024, // a JVM class tree or a static binary fits; more is unusual
  dir: null,
};

export class CompileCache {
  private readonly memory = new Map<string, CompiledArtifact>();
  private memoryBytes = 0;
  private readonly inflight = new Map<string, Promise<void>>();
  /** Compiles run and compiles spared, since this process started (the Worker reports both). */
  readonly stats = { compiles: 0, hits: 0 };

  constructor(readonly opts: CompileCacheOptions) {
    if (opts.dir) mkdirSync(opts.dir, { recursive: true });
  }

  static key(parts: { language: string; compileArgv: string[]; files: Array<{ name: string; content: Buffer }> }): string {
    const h = createHash('sha256');
    h.update(`${parts.language}\0${parts.compileArgv.join('\0')}\0`);
    for (const f of [...parts.files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      h.update(`${f.name}\0${f.content.length}\0`);
      h.update(f.content);
    }
    return h.digest('hex').slice(0, 40);
  }

  get(key: string): CompiledArtifact | null {
    const m = this.memory.get(key);
    if (m) {
      // LRU: the newest use goes last.
      this.memory.delete(key);
      this.memory.set(key, m);
      return m;
    }
    if (!this.opts.dir) return null;
    try {
      const tar = readFileSync(path.join(this.opts.dir, `${key}.tar`));
      const compileOutput = readFileSync(path.join(this.opts.dir, `${key}.out`));
      const a = { tar, compileOutput };
      this.remember(key, a);
      return a;
    } catch {
      return null;
    }
  }

  put(key: string, a: CompiledArtifact): void {
    if (a.tar.length + a.compileOutput.length > this.opts.artifactBytesMax) return;
    this.remember(key, a);
    const dir = this.opts.dir;
    if (!dir) return;
    try {
      // Output first, the tar last by rename: a reader that finds the tar finds both whole.
      const tmp = path.join(dir, `.${key}.${process.pid}.tmp`);
      writeFileSync(path.join(dir, `${key}.out`), a.compileOutput);
      writeFileSync(tmp, a.tar);
      renameSync(tmp, path.join(dir, `${key}.tar`));
      this.evictDisk(dir);
    } catch {
      // A full or read-only disk only costs recompiles.
    }
  }

  /**
   * Resolves when no other run of this process is compiling `key`; then returns a release function
   * the caller must call after it compiled (or failed). Runs of one submission started together
   * thus compile once.
   */
  async claim(key: string): Promise<() => void> {
    for (let i = 0; i < 8; i++) {
      const p = this.inflight.get(key);
      if (!p) break;
      await p;
    }
    let release!: () => void;
    const p = new Promise<void>((r) => (release = r));
    this.inflight.set(key, p);
    return () => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
      release();
    };
  }

  private remember(key: string, a: CompiledArtifact): void {
    const size = a.tar.length + a.compileOutput.length;
    const old = this.memory.get(key);
    if (old) this.memoryBytes -= old.tar.length + old.compileOutput.length;
    this.memory.delete(key);
    this.memory.set(key, a);
    this.memoryBytes += size;
    while (this.memory.size > this.opts.entriesMax || this.memoryBytes > this.opts.memoryBytesMax) {
      const [oldest, v] = this.memory.entries().next().value as [string, CompiledArtifact];
      this.memory.delete(oldest);
      this.memoryBytes -= v.tar.length + v.compileOutput.length;
    }
  }

  private evictDisk(dir: string): void {
    const tars = readdirSync(dir).filter((n) => n.endsWith('.tar'));
    if (tars.length <= this.opts.entriesMax) return;
    const byAge = tars.map((n) => ({ n, t: statSync(path.join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
    for (const { n } of byAge.slice(0, tars.length - this.opts.entriesMax)) {
      rmSync(path.join(dir, n), { force: true });
      rmSync(path.join(dir, n.replace(/\.tar$/, '.out')), { force: true });
    }
  }
}

let shared = new CompileCache(COMPILE_CACHE_DEFAULTS);

/** The process's cache; a Worker process points it at its host's state dir at start. */
export function compileCache(): CompileCache {
  return shared;
}

export function configureCompileCache(opts: Partial<CompileCacheOptions>): CompileCache {
  shared = new CompileCache({ ...COMPILE_CACHE_DEFAULTS, ...opts });
  return shared;
}
