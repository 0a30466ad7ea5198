/**
 * Parser for what ca-init writes on its control fd: a byte-fed state machine (no I/O), so tests can
 * feed it split and joined buffers.
 */
export interface PhaseReport {
  exitCode: number | null;
  signal: number | null;
  cpuUs: number;
  wallUs: number;
  maxRssKb: number;
  wallLimitHit: boolean;
}

export type ControlMessage =
  | { kind: 'ready' }
  | { kind: 'output'; data: Buffer }
  | { kind: 'exit'; report: PhaseReport }
  | { kind: 'error'; message: string };

/** Largest captured-output frame ca-init sends (its relay buffer is 16 KiB). */
const FRAME_BYTES_MAX = 64 * 1024;
const LINE_BYTES_MAX = 8192;

export class ControlParser {
  private buf: Buffer = Buffer.alloc(0);
  private frameLeft = -1;

  /** Feeds bytes; returns the complete messages they finish. Throws on a malformed stream. */
  feed(data: Buffer): ControlMessage[] {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    const out: ControlMessage[] = [];
    for (;;) {
      if (this.frameLeft >= 0) {
        if (this.buf.length < this.frameLeft) break;
        out.push({ kind: 'output', data: Buffer.from(this.buf.subarray(0, this.frameLeft)) });
        this.buf = this.buf.subarray(this.frameLeft);
        this.frameLeft = -1;
        continue;
      }
      const nl = this.buf.indexOf(10);
      if (nl < 0) {
        if (this.buf.length > LINE_BYTES_MAX) throw new Error('sandbox control line too long');
        break;
      }
      const line = this.buf.subarray(0, nl).toString('utf8');
      this.buf = this.buf.subarray(nl + 1);
      const msg = this.parseLine(line);
      if (msg) out.push(msg);
    }
    return out;
  }

  private parseLine(line: string): ControlMessage | null {
    if (line === 'READY') return { kind: 'ready' };
    if (line.startsWith('E ')) return { kind: 'error', message: line.slice(2) };
    if (line.startsWith('O ')) {
      const len = Number(line.slice(2));
      if (!Number.isInteger(len) || len < 0 || len > FRAME_BYTES_MAX) throw new Error(`bad output frame "${line}"`);
      this.frameLeft = len;
      return null;
    }
    if (line.startsWith('X ')) {
      const f = line.slice(2).split(' ').map(Number);
      if (f.length !== 6 || f.some((n) => !Number.isFinite(n))) throw new Error(`bad exit report "${line}"`);
      const [code, sig, cpu, wall, rss, hit] = f as [number, number, number, number, number, number];
      return {
        kind: 'exit',
        report: {
          exitCode: code >= 0 ? code : null,
          signal: sig > 0 ? sig : null,
          cpuUs: cpu,
          wallUs: wall,
          maxRssKb: rss,
          wallLimitHit: hit === 1,
        },
      };
    }
    throw new Error(`unknown sandbox control line "${line.slice(0, 80)}"`);
  }
}

export type PhaseMode = 'pipes' | 'pty' | 'capture';

export interface PhaseCommand {
  mode: PhaseMode;
  argv: string[];
  env: Record<string, string>;
  cpuTimeMs: number;
  wallTimeMs: number;
  /** 0: no RLIMIT_AS (a cgroup caps memory, or the language cannot live with one). */
  addressSpaceKb: number;
  fileSizeKb: number;
  openFilesMax: number;
  /** 0: no RLIMIT_NPROC (a pids cgroup caps it per run). */
  processesMax: number;
}

const MODE_CODE: Record<PhaseMode, number> = { pipes: 0, pty: 1, capture: 2 };

function checkLine(s: string, what: string): string {
  if (s.includes('\n') || s.includes('\0')) throw new Error(`${what} may not contain newlines or NUL`);
  return s;
}

export function encodePhase(p: PhaseCommand): Buffer {
  const env = Object.entries(p.env).map(([k, v]) => checkLine(`${k}=${v}`, 'environment'));
  const head = [
    'R',
    MODE_CODE[p.mode],
    p.cpuTimeMs,
    p.wallTimeMs,
    p.addressSpaceKb,
    p.fileSizeKb,
    p.openFilesMax,
    p.processesMax,
    p.argv.length,
    env.length,
  ].join(' ');
  return Buffer.from([head, ...p.argv.map((a) => checkLine(a, 'argument')), ...env].join('\n') + '\n');
}

export function encodeFile(name: string, content: Buffer, mode = 0o644): Buffer {
  return Buffer.concat([Buffer.from(`F ${content.length} ${mode.toString(8)} ${name}\n`), content]);
}
