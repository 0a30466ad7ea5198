// The run's terminal: xterm.js shows the program's output as it comes and takes the student's
// typing. The sandbox's pseudo-terminal does not echo and does not turn "\n" into "\r\n" (so the
// bytes stay the program's own), so this side does both, and edits the line being typed
// (backspace) until Enter sends it — as a terminal in cooked mode would.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';

/** Characters of one typed line held before Enter (a paste longer than this is sent in pieces). */
const LINE_CHARS_MAX = 16 * 1024;
/** Lines the terminal keeps above the screen. */
const SCROLLBACK_LINES = 5_000;

export interface TerminalInput {
  line(text: string): void;
  eof(): void;
  interrupt(): void;
}

export class RunTerminal {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private line = '';
  /** Where typed input goes; null while no run takes input. */
  input: TerminalInput | null = null;
  private readonly decoders = new Map<string, TextDecoder>();
  /** Every character shown, for the tests and the copy button (bounded like the scrollback). */
  private shown = '';

  constructor(host: HTMLElement) {
    this.term = new Terminal({
      convertEol: true,
      cursorBlink: true,
      fontSize: 15,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace',
      scrollback: SCROLLBACK_LINES,
      theme: { background: '#111418', foreground: '#e6e6e6' },
    });
    this.term.loadAddon(this.fit);
    this.term.open(host);
    this.fitNow();
    new ResizeObserver(() => this.fitNow()).observe(host);
    this.term.onData((d) => this.typed(d));
  }

  fitNow(): void {
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
  }

  focus(): void {
    this.term.focus();
  }

  clear(): void {
    this.term.reset();
    this.line = '';
    this.shown = '';
    this.decoders.clear();
  }

  /** Program output: bytes, decoded per stream (a chunk may end inside a UTF-8 character). */
  output(stream: string, data: Uint8Array): void {
    let d = this.decoders.get(stream);
    if (!d) this.decoders.set(stream, (d = new TextDecoder()));
    const text = d.decode(data, { stream: true });
    this.write(stream === 'stdout' ? text : `\x1b[31m${text}\x1b[0m`, text);
  }

  /** A note from the page itself (dim), e.g. the status at the end. */
  note(text: string): void {
    this.write(`\x1b[2m${text}\x1b[0m`, text);
  }

  private write(styled: string, plain: string): void {
    this.term.write(styled);
    this.shown = (this.shown + plain).slice(-1_000_000);
  }

  get text(): string {
    return this.shown;
  }

  private typed(d: string): void {
    const input = this.input;
    if (!input) return;
    for (const ch of d) {
      if (ch === '\r' || ch === '\n') {
        this.write('\r\n', '\n');
        input.line(`${this.line}\n`);
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          this.term.write('\b \b');
          this.shown = this.shown.slice(0, -1);
        }
      } else if (ch === '\x04') {
        // Ctrl-D as in a terminal: on a partly typed line it hands that text to the program
        // without a newline (the pty's line discipline flushes it on the ^D); on an empty line
        // it ends the input.
        if (this.line) input.line(`${this.line}\x04`);
        else input.eof();
        this.line = '';
      } else if (ch === '\x03') {
        this.write('^C\r\n', '^C\n');
        this.line = '';
        input.interrupt();
      } else if (ch >= ' ' || ch === '\t') {
        this.line += ch;
        this.write(ch, ch);
        if (this.line.length >= LINE_CHARS_MAX) {
          input.line(this.line);
          this.line = '';
        }
      }
      // Other control characters (arrows arrive as escape sequences) are not line editing we do.
      else if (ch === '\x1b') break;
    }
  }
}
