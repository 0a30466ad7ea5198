// The editor: CodeMirror 6 with the language's highlighting, Ctrl-Enter to run, and the lines a
// compiler complained about marked until the source changes.
import { basicSetup } from 'codemirror';
import { Compartment, EditorState, StateEffect, StateField, type Extension } from '@codemirror/state';
import { Decoration, EditorView, keymap, type DecorationSet } from '@codemirror/view';

/** Each language's grammar is a chunk of its own, loaded when the language is first picked. */
export async function languageExtension(id: string): Promise<Extension> {
  switch (id) {
    case 'c':
    case 'cpp':
      return (await import('@codemirror/lang-cpp')).cpp();
    case 'python':
      return (await import('@codemirror/lang-python')).python();
    case 'java':
      return (await import('@codemirror/lang-java')).java();
    case 'javascript':
      return (await import('@codemirror/lang-javascript')).javascript();
    default:
      return [];
  }
}

const setErrorLines = StateEffect.define<number[]>();
const errorLine = Decoration.line({ class: 'cm-error-line', attributes: { title: 'the compiler reported an error here' } });

const errorLines = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) {
      if (!e.is(setErrorLines)) continue;
      const lines = [...new Set(e.value)].filter((n) => n >= 1 && n <= tr.state.doc.lines).sort((a, b) => a - b);
      return Decoration.set(lines.map((n) => errorLine.range(tr.state.doc.line(n).from)));
    }
    // Edited: the marks no longer describe this source.
    return tr.docChanged ? Decoration.none : deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

export interface EditorOptions {
  parent: HTMLElement;
  onRun: () => void;
  onChange: (text: string) => void;
}

export class CodeEditor {
  readonly view: EditorView;
  private readonly lang = new Compartment();

  private readonly extensions: Extension[];
  /** Counts load() calls: a grammar that arrives after another file was opened is dropped. */
  private loads = 0;

  constructor(opts: EditorOptions) {
    this.extensions = [
      keymap.of([{ key: 'Mod-Enter', preventDefault: true, run: () => (opts.onRun(), true) }]),
      basicSetup,
      EditorView.lineWrapping,
      this.lang.of([]),
      errorLines,
      EditorView.updateListener.of((u) => {
        if (u.docChanged) opts.onChange(u.state.doc.toString());
      }),
      EditorView.theme({ '&': { height: '100%', fontSize: '15px' }, '.cm-scroller': { fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace' } }),
];
    this.view = new EditorView({ parent: opts.parent, state: EditorState.create({ doc: '', extensions: this.extensions }) });
  }

  /** Shows another file (or language): its text and highlighting, with an undo history of its own. */
  load(text: string, languageId: string): void {
    this.view.setState(EditorState.create({ doc: text, extensions: this.extensions }));
    const loading = ++this.loads;
    void languageExtension(languageId).then((ext) => {
      if (loading === this.loads) this.view.dispatch({ effects: this.lang.reconfigure(ext) });
    });
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  markErrors(lines: number[]): void {
    this.view.dispatch({ effects: setErrorLines.of(lines) });
    const first = lines[0];
    if (first !== undefined && first <= this.view.state.doc.lines) {
      this.view.dispatch({ effects: EditorView.scrollIntoView(this.view.state.doc.line(first).from, { y: 'center' }) });
    }
  }

  focus(): void {
    this.view.focus();
  }
}
