import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Unzip, UnzipInflate, unzipSync } from 'fflate';

/**
 * A problem package or a class's submissions as a flat map of relative paths to bytes, read from a
 * folder or a zip with every bound checked as it is read: a zip bomb is stopped after at most one
 * step past the bound, never inflated whole.
 */
export interface PackageBounds {
  /** All files together, uncompressed. */
  totalBytesMax: number;
  filesMax: number;
  /** One file (a test's input or answer, a source). */
  fileBytesMax: number;
}

export class PackageError extends Error {
  constructor(
    readonly code: 'PACKAGE_TOO_LARGE' | 'BAD_PATH' | 'BAD_ZIP' | 'BAD_PROBLEM' | 'NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}

export type PackageFiles = Map<string, Buffer>;

/** Compressed bytes handed to the inflater per step: bounds what one step can produce (deflate ≤ ~1032:1). */
const ZIP_STEP_BYTES = 4 * 1024;
const DEPTH_MAX = 8;

/** A relative path with no way out of its root: no "..", no absolute path, no backslash, no NUL. */
export function safeRelativePath(name: string): string {
  const n = name.replace(/^\.\/+/, '');
  if (n.length === 0 || n.length > 512 || n.startsWith('/') || n.includes('\\') || n.includes('\0') || /^[A-Za-z]:/.test(n)) {
    throw new PackageError('BAD_PATH', `unsafe path "${name.slice(0, 100)}" in the package`);
  }
  const parts = n.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new PackageError('BAD_PATH', `path "${name.slice(0, 100)}" leaves the package (..)`);
  return parts.join('/');
}

class Budget {
  bytes = 0;
  files = 0;
  constructor(private readonly b: PackageBounds, private readonly what: string) {}
  file(name: string): void {
    this.files++;
    if (this.files > this.b.filesMax) throw new PackageError('PACKAGE_TOO_LARGE', `${this.what} has more than ${this.b.filesMax} files`);
    void name;
  }
  add(name: string, fileBytes: number, delta: number): void {
    this.bytes += delta;
    if (fileBytes > this.b.fileBytesMax) throw new PackageError('PACKAGE_TOO_LARGE', `${name} is over the ${this.b.fileBytesMax}-byte cap for one file`);
    if (this.bytes > this.b.totalBytesMax) throw new PackageError('PACKAGE_TOO_LARGE', `${this.what} is over ${this.b.totalBytesMax} bytes uncompressed`);
  }
}

export function readZip(zip: Uint8Array, bounds: PackageBounds): PackageFiles {
  const budget = new Budget(bounds, 'the zip');
  // First the directory as the zip declares it (nothing inflated): a bomb that admits its size is
  // refused at once. Sizes may lie, so the inflating pass below counts real bytes too.
  let declared = 0;
  let entries = 0;
  try {
    unzipSync(zip, {
      filter: (f) => {
        entries++;
        declared += f.originalSize;
        if (entries > bounds.filesMax) throw new PackageError('PACKAGE_TOO_LARGE', `the zip has more than ${bounds.filesMax} entries`);
        if (f.originalSize > bounds.fileBytesMax) throw new PackageError('PACKAGE_TOO_LARGE', `${f.name} is over the ${bounds.fileBytesMax}-byte cap for one file`);
        if (declared > bounds.totalBytesMax) throw new PackageError('PACKAGE_TOO_LARGE', `the zip is over ${bounds.totalBytesMax} bytes uncompressed`);
        if (!f.name.endsWith('/')) safeRelativePath(f.name);
        return false;
      },
    });
  } catch (err) {
    if (err instanceof PackageError) throw err;
    throw new PackageError('BAD_ZIP', `not a readable zip: ${(err as Error).message}`);
  }
  const out: PackageFiles = new Map();
  let failure: Error | null = null;
  const uz = new Unzip((file) => {
    if (failure) return;
    if (file.name.endsWith('/')) return;
    let name: string;
    try {
      name = safeRelativePath(file.name);
      budget.file(name);
    } catch (err) {
      failure = err as Error;
      return;
    }
    const parts: Uint8Array[] = [];
    let size = 0;
    file.ondata = (err, chunk, final) => {
      if (failure) return;
      if (err) {
        failure = new PackageError('BAD_ZIP', `cannot inflate ${name}: ${err.message}`);
        return;
      }
      size += chunk.length;
      try {
        budget.add(name, size, chunk.length);
      } catch (e) {
        failure = e as Error;
        file.terminate();
        return;
      }
      parts.push(chunk);
      if (final) out.set(name, Buffer.concat(parts));
    };
    file.start();
  });
  uz.register(UnzipInflate);
  try {
    for (let i = 0; i < zip.length && !failure; i += ZIP_STEP_BYTES) uz.push(zip.subarray(i, i + ZIP_STEP_BYTES), i + ZIP_STEP_BYTES >= zip.length);
  } catch (err) {
    failure ??= new PackageError('BAD_ZIP', `not a readable zip: ${(err as Error).message}`);
  }
  if (failure) throw failure;
  return out;
}

/** Reads a folder, refusing symbolic links (they could point anywhere on the machine). */
export function readFolder(root: string, bounds: PackageBounds): PackageFiles {
  const budget = new Budget(bounds, `folder ${root}`);
  const out: PackageFiles = new Map();
  const walk = (dir: string, rel: string, depth: number) => {
    if (depth > DEPTH_MAX) throw new PackageError('BAD_PATH', `${dir} is nested more than ${DEPTH_MAX} folders deep`);
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) throw new PackageError('BAD_PATH', `${r} is a symbolic link; copy the file instead`);
      if (st.isDirectory()) walk(p, r, depth + 1);
      else if (st.isFile()) {
        budget.file(r);
        budget.add(r, st.size, st.size);
        out.set(r, readFileSync(p));
      }
    }
  };
  walk(root, '', 0);
  return out;
}

/** The files under one top folder, the folder's name removed; null when they are not all in one. */
export function singleFolder(files: PackageFiles): { folder: string; files: PackageFiles } | null {
  const names = [...files.keys()];
  const first = names[0]?.split('/')[0];
  if (!first || names.some((n) => !n.startsWith(`${first}/`))) return null;
  return { folder: first, files: new Map([...files].map(([k, v]) => [k.slice(first.length + 1), v])) };
}

/** Reads a folder or a .zip file from the disk. */
export function readPackage(p: string, bounds: PackageBounds): PackageFiles {
  let st;
  try {
    st = lstatSync(p);
  } catch {
    throw new PackageError('NOT_FOUND', `${p} does not exist`);
  }
  if (st.isDirectory()) return readFolder(p, bounds);
  // A zip is at most as large as what it inflates to, give or take its headers.
  if (st.size > bounds.totalBytesMax + 1024 * 1024) throw new PackageError('PACKAGE_TOO_LARGE', `${p} is over ${bounds.totalBytesMax} bytes`);
  return readZip(readFileSync(p), bounds);
}
