// The student page (/): pick a language, write a program (several files for Java), run it in a
// live terminal that takes typed input, see how it ended. Runs survive a Gateway failover.
import './student.css';
import { ApiFailure, gatewayList, requestJson, storedToken, storeToken } from './shared/api.js';
import { byId, h } from './shared/dom.js';
import { errorLocations } from './student/diagnostics.js';
import { CodeEditor } from './student/editor.js';
import { RunSession, type RunResultView } from './student/run-session.js';
import { multiFile, starterFiles, type SourceFile } from './student/starters.js';
import { RunTerminal } from './student/terminal.js';

interface Language {
  id: string;
  name: string;
  version: string | null;
}

const LANGUAGE_KEY = 'codearena.language';
const filesKey = (lang: string) => `codearena.files.${lang}`;
/** Files one program may have (the API's FILES_MAX). */
const FILES_MAX = 16;
/** Output kept to find line numbers in (compilers' messages are capped at 64 KiB; a traceback is short). */
const DIAGNOSTIC_CHARS_MAX = 128 * 1024;
const JAVA_FILE_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*\.java$/;

const langSelect = byId<HTMLSelectElement>('lang');
const runButton = byId<HTMLButtonElement>('run');
const stopButton = byId<HTMLButtonElement>('stop');
const tokenBox = byId<HTMLLabelElement>('token-box');
const tokenInput = byId<HTMLInputElement>('token');
const messageEl = byId<HTMLDivElement>('message');
const statusEl = byId<HTMLDivElement>('status');
const tabsEl = byId<HTMLDivElement>('tabs');

let gateways: string[] = [location.origin];
let language = '';
let files: SourceFile[] = [];
let active = 0;
let session: RunSession | null = null;
let diagnostics = '';
/** When the last run was asked for, its first output arrived and it ended (performance.now(); the bench reads it). */
let lastRun = { runAtMs: 0, firstOutputAtMs: 0, exitAtMs: 0 };

function showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
  messageEl.textContent = text;
  messageEl.className = kind === 'info' ? 'message info' : 'message';
  messageEl.hidden = false;
}

function hideMessage(): void {
  messageEl.hidden = true;
}

function setStatus(text: string, kind: '' | 'ok' | 'bad' | 'running' = ''): void {
  statusEl.textContent = text;
  statusEl.className = `status ${kind}`;
}

const editor = new CodeEditor({
  parent: byId('editor'),
  onRun: () => run(),
  onChange: (text) => {
    const f = files[active];
    if (!f) return;
    f.content = text;
    saveFiles();
  },
});
const terminal = new RunTerminal(byId('terminal'));

function saveFiles(): void {
  try {
    localStorage.setItem(filesKey(language), JSON.stringify(files));
  } catch {
    showMessage('This browser would not keep the program (its storage is full): copy it somewhere before closing the page.');
  }
}

function loadFiles(lang: string): SourceFile[] {
  try {
    const stored = JSON.parse(localStorage.getItem(filesKey(lang)) ?? 'null') as SourceFile[] | null;
    if (Array.isArray(stored) && stored.length > 0 && stored.every((f) => typeof f.name === 'string' && typeof f.content === 'string')) return stored.slice(0, FILES_MAX);
  } catch {
    // a damaged entry: start over from the starter program
  }
  return starterFiles(lang);
}

function renderTabs(): void {
  const tabs = files.map((f, i) => {
    const close = i > 0 ? h('button', { title: `remove ${f.name}`, 'aria-label': `remove ${f.name}`, onclick: (e: Event) => (e.stopPropagation(), removeFile(i)) }, '×') : '';
    const open = () => {
      openFile(i);
      editor.focus();
    };
    return h('span', { class: i === active ? 'tab active' : 'tab', role: 'tab', 'aria-selected': String(i === active), onclick: open }, f.name, close);
  });
  tabsEl.replaceChildren(...tabs);
  if (multiFile(language) && files.length < FILES_MAX) tabsEl.append(h('button', { class: 'tab add', title: 'add a file', onclick: () => addFile() }, '+ file'));
}

function openFile(i: number): void {
  active = i;
  editor.load(files[i]?.content ?? '', language);
  renderTabs();
}

function addFile(): void {
  const name = prompt('Name of the new file (a Java class, e.g. Helper.java):', 'Helper.java');
  if (name === null) return;
  if (!JAVA_FILE_NAME.test(name)) return showMessage(`"${name}" is not a Java file name: use a class name followed by .java, e.g. Helper.java.`);
  if (files.some((f) => f.name === name)) return showMessage(`There is a file called ${name} already.`);
  const cls = name.replace(/\.java$/, '');
  files.push({ name, content: `public class ${cls} {\n}\n` });
  saveFiles();
  hideMessage();
  openFile(files.length - 1);
}

function removeFile(i: number): void {
  const f = files[i];
  if (!f || !confirm(`Remove ${f.name}?`)) return;
  files.splice(i, 1);
  saveFiles();
  openFile(Math.min(active, files.length - 1));
}

function selectLanguage(id: string): void {
  language = id;
  localStorage.setItem(LANGUAGE_KEY, id);
  files = loadFiles(id);
  openFile(0);
}

function formatResult(r: RunResultView): string {
  const parts = [`status ${r.status}`];
  if (r.exit_code !== null) parts.push(`exit code ${r.exit_code}`);
  if (r.signal !== null) parts.push(`signal ${r.signal}`);
  // A program that did not compile never ran: its times and memory are the compiler's business.
  if (r.status === 'compile_error') return parts.join(' · ');
  // A run stopped before its measures were taken (e.g. killed) reports zeros: not worth showing.
  if (!r.cpu_time_ms && !r.wall_time_ms && !r.memory_kb) return parts.join(' · ');
  if (r.cpu_time_ms !== null) parts.push(`CPU ${r.cpu_time_ms} ms`);
  if (r.wall_time_ms !== null) parts.push(`wall ${r.wall_time_ms} ms`);
  if (r.memory_kb !== null) parts.push(r.memory_kb < 1024 ? `memory ${r.memory_kb} KB` : `memory ${(r.memory_kb / 1024).toFixed(1)} MB`);
  return parts.join(' · ');
}

function finished(): void {
  session = null;
  terminal.input = null;
  runButton.disabled = false;
  stopButton.disabled = true;
}

function markErrors(): void {
  const names = new Set(files.map((f) => f.name));
  let locs = errorLocations(language, diagnostics).filter((l) => names.has(l.file));
  // A traceback names the outermost call first; the line that failed is the last one.
  if (language === 'python' || language === 'javascript') locs = locs.slice(-1);
  if (locs.length === 0) return;
  const file = locs[0]?.file as string;
  const index = files.findIndex((f) => f.name === file);
  if (index !== active) openFile(index);
  editor.markErrors(locs.filter((l) => l.file === file).map((l) => l.line));
}

function run(): void {
  if (session || !language) return;
  lastRun = { runAtMs: performance.now(), firstOutputAtMs: 0, exitAtMs: 0 };
  hideMessage();
  terminal.clear();
  diagnostics = '';
  editor.markErrors([]);
  const spec: Record<string, unknown> = { language, interactive: true };
  if (files.length === 1) spec.source = files[0]?.content ?? '';
  else spec.files = files.map((f) => ({ name: f.name, content: f.content }));
  setStatus('Starting…', 'running');
  runButton.disabled = true;
  stopButton.disabled = false;
  const decoder = new TextDecoder();
  const s = new RunSession(gateways, spec, {
    output(stream, data) {
      if (lastRun.firstOutputAtMs === 0) lastRun.firstOutputAtMs = performance.now();
      terminal.output(stream, data);
      // An interactive run's stderr shares the pty with stdout: a traceback comes on either. It is
      // at the end, so the tail is kept.
      diagnostics = (diagnostics + decoder.decode(data, { stream: true })).slice(-DIAGNOSTIC_CHARS_MAX);
    },
    progress(text) {
      setStatus(`${text[0]?.toUpperCase()}${text.slice(1)}…`, 'running');
    },
    exit(result) {
      lastRun.exitAtMs = performance.now();
      statusEl.dataset.gateway = s.gateway;
      finished();
      const moved = s.gateway !== gateways[0] ? ` · resumed on ${new URL(s.gateway).host} after the Gateway changed` : '';
      const line = formatResult(result) + moved;
      setStatus(line, result.status === 'ok' ? 'ok' : 'bad');
      terminal.note(`\n[${line}]\n`);
      if (result.status === 'compile_error') showMessage('The program did not compile: the compiler\'s messages are in the terminal, and the lines it names are marked in the editor.');
      if (result.status === 'node_lost') showMessage('The lab PC running the program stopped answering, so the run was lost: run it again.');
      if (result.status === 'compile_error' || result.status === 'runtime_error') markErrors();
    },
    failed(sentence) {
      finished();
      setStatus('Not run.', 'bad');
      showMessage(sentence);
    },
  });
  session = s;
  terminal.input = { line: (t) => s.input(t), eof: () => s.eof(), interrupt: () => s.kill() };
  terminal.focus();
}

runButton.addEventListener('click', () => run());
// Ctrl-Enter runs from anywhere on the page (the editor's own binding handles it there first).
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
    e.preventDefault();
    run();
  }
});
stopButton.addEventListener('click', () => session?.kill());
langSelect.addEventListener('change', () => selectLanguage(langSelect.value));
tokenInput.value = storedToken();
tokenInput.addEventListener('change', () => {
  storeToken(tokenInput.value.trim());
  hideMessage();
  // The program kept from last time is in the editor at once; the language list follows.
selectLanguage(localStorage.getItem(LANGUAGE_KEY) ?? 'c');
langSelect.replaceChildren(h('option', { value: language }, language));
editor.focus();
void start();
});

async function start(): Promise<void> {
  // The three questions to the Gateway go out together; the editor is usable meanwhile.
  const [gws, langsOrError, auth] = await Promise.all([
    gatewayList(),
    requestJson<Language[]>(location.origin, '/api/v1/languages').catch((err: unknown) => err as Error),
    requestJson(location.origin, '/api/v1/cluster').then(
      () => null,
      (err: unknown) => err,
    ),
  ]);
  gateways = gws;
  // Auth on? The cluster view needs a token when the lab uses them.
  if (auth instanceof ApiFailure && auth.status === 401) {
    tokenBox.hidden = false;
    showMessage(auth.message);
  }
  if (storedToken()) tokenBox.hidden = false;
  if (!Array.isArray(langsOrError)) {
    showMessage(langsOrError instanceof ApiFailure ? langsOrError.message : `The page could not list the languages: ${String(langsOrError)}`);
    return;
  }
  const langs = langsOrError;
  if (langs.length === 0) {
    showMessage('The lab offers no language right now (no Worker is up): try again in a moment.');
    return;
  }
  langSelect.replaceChildren(...langs.map((l) => h('option', { value: l.id }, l.version ? `${l.name} — ${l.version}` : l.name)));
  const first = langs.find((l) => l.id === language) ?? langs.find((l) => l.id === 'c') ?? langs[0];
  langSelect.value = (first as Language).id;
  if (language !== langSelect.value) selectLanguage(langSelect.value);
  runButton.disabled = session !== null;
}

/** For tests and the curious: what the page holds (read-only use). */
(window as unknown as { codearena: unknown }).codearena = {
  get source() {
    return editor.text;
  },
  setSource(text: string) {
    editor.view.dispatch({ changes: { from: 0, to: editor.view.state.doc.length, insert: text } });
  },
  get terminalText() {
    return terminal.text;
  },
  get session() {
    return session ? { id: session.id, gateway: session.gateway, phase: session.phase, lastSeq: session.lastSeq } : null;
  },
  get gateways() {
    return gateways;
  },
  get lastRun() {
    return { ...lastRun };
  },
};

// The program kept from last time is in the editor at once; the language list follows.
selectLanguage(localStorage.getItem(LANGUAGE_KEY) ?? 'c');
langSelect.replaceChildren(h('option', { value: language }, language));
editor.focus();
void start();
