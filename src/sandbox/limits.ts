import { CodeArenaError } from '../common/errors.js';

/** Per-run limits. Units are in the names. */
export interface Limits {
  cpuTimeMs: number;
  wallTimeMs: number;
  memoryKb: number;
  /** stdout + stderr together; past it the run ends with output_limit. */
  outputBytesMax: number;
  processesMax: number;
  /** Largest file the program may write (RLIMIT_FSIZE). */
  fileSizeKb: number;
  openFilesMax: number;
  /** Size of the work dir's tmpfs (and of /tmp's). */
  workDirKb: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  cpuTimeMs: 5_000, // enough for any exercise; a busy loop is caught in seconds
  wallTimeMs: 30_000, // interactive runs wait for typing; the wall clock is the real bound there
  memoryKb: 256 * 1024, // fits a JVM hello world with room; 8 parallel runs stay under 2 GiB
  outputBytesMax: 4 * 1024 * 1024,
  processesMax: 32,
  fileSizeKb: 16 * 1024,
  openFilesMax: 64,
  workDirKb: 64 * 1024,
};

/** The most a run may ask for; a lab config may lower these. */
export const MAX_LIMITS: Readonly<Limits> = {
  cpuTimeMs: 60_000,
  wallTimeMs: 15 * 60_000,
  memoryKb: 2 * 1024 * 1024,
  outputBytesMax: 256 * 1024 * 1024,
  processesMax: 256,
  fileSizeKb: 256 * 1024,
  openFilesMax: 1024,
  workDirKb: 512 * 1024,
};

const MIN_LIMITS: Readonly<Limits> = {
  cpuTimeMs: 100,
  wallTimeMs: 100,
  memoryKb: 8 * 1024,
  outputBytesMax: 1,
  processesMax: 1,
  fileSizeKb: 1,
  openFilesMax: 8,
  workDirKb: 1024,
};

/** Compiling is bounded too, by fixed generous limits: a compiler bomb must not stall a Worker. */
export const COMPILE_LIMITS = {
  cpuTimeMs: 20_000,
  wallTimeMs: 40_000,
  memoryKb: 1024 * 1024,
  outputBytesMax: 64 * 1024,
  processesMax: 64,
};

/** Largest source a run may carry (all files together). */
export const SOURCE_BYTES_MAX = 1024 * 1024;

export function validateLimits(partial: Partial<Limits>, max: Readonly<Limits> = MAX_LIMITS): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(partial) as Array<keyof Limits>) {
    const value = partial[key];
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) {
      throw new CodeArenaError('BAD_LIMIT', `unknown limit "${key}"`, `use one of ${Object.keys(DEFAULT_LIMITS).join(', ')}`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new CodeArenaError('BAD_LIMIT', `limit ${key} must be a number, got ${JSON.stringify(value)}`, 'pass a plain number');
    }
    if (value < MIN_LIMITS[key] || value > max[key]) {
      throw new CodeArenaError(
        'BAD_LIMIT',
        `limit ${key}=${value} is out of range`,
        `use a value between ${MIN_LIMITS[key]} and ${max[key]}`,
      );
    }
    out[key] = Math.floor(value);
  }
  return out;
}
