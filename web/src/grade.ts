// The grading page (/grade): upload a problem (a Kattis package or a folder of .in/.out pairs, as
// a zip or as a folder zipped here), see its tests, submit one solution and watch its verdicts come
// test by test (the submission's WebSocket stream, polling if the socket fails), grade a class zip
// with a live progress bar and a student × test grid (polled once a second), download the CSV.
// Built on the judge API (README "Grading a class"); every error is shown as a sentence.
import './grade.css';
import { zipSync } from 'fflate';
import { ApiFailure, gatewayList, requestJson, storedToken, storeToken } from './shared/api.js';
import { byId, h } from './shared/dom.js';
import { asShort, shortOf, toneOf, wordOf, type Short, type Verdict } from './grade/verdicts.js';

interface Language {
  id: string;
  name: string;
  version: string | null;
}

interface ProblemListItem {
  id: string;
  name: string;
  tests: number;
}

interface ProblemTest {
  name: string;
  sample: boolean;
  group: string | null;
  points: number;
  input?: string;
  answer?: string;
}

interface ProblemView {
  id: string;
  name: string;
  checker: string;
  limits: { cpu_time_limit: number; wall_time_limit: number; memory_limit: number; output_limit: number };
  tests: ProblemTest[];
}

interface TestResult {
  test: string;
  sample: boolean;
  state: 'pending' | 'running' | 'checking' | 'done';
  verdict: Verdict | null;
  cpu_time_ms: number | null;
  wall_time_ms: number | null;
  memory_kb: number | null;
  exit_code: number | null;
  signal: number | null;
  diff?: { line: number; expected?: string; got?: string };
  message?: string;
}

interface SubmissionView {
  id: string;
  state: 'queued' | 'running' | 'done';
  verdict: Verdict | null;
  score: number;
  max_score: number;
  done: number;
  total: number;
  compile_output: string;
  tests: TestResult[];
}

type JudgeEvent =
  | { type: 'submission_progress'; submission: string; test: TestResult; done: number; total: number }
  | { type: 'submission_result'; submission: string; result: SubmissionView }
  | { type: 'batch_result'; batch: string };

interface BatchView {
  id: string;
  state: 'running' | 'done';
  done: number;
  total: number;
  tests_done: number;
  tests_total: number;
  verdicts: Partial<Record<Verdict, number>>;
  students: Array<{ student: string; submission_id: string; state: 'queued' | 'running' | 'done'; verdict: Verdict | null; score: number; max_score: number; tests: Array<string | null> }>;
}

/** The Gateway's own bounds (PROBLEM_BOUNDS, CLASS_BOUNDS), checked here first to say so early. */
const PROBLEM_FILES_MAX = 1000;
const PROBLEM_BYTES_MAX = 32 * 1024 * 1024;
const CLASS_UPLOAD_BYTES_MAX = 72 * 1024 * 1024;
/** A pasted or picked source (the runs API's cap is 1 MiB; the Gateway says so if lower). */
const SOURCE_BYTES_MAX = 1024 * 1024;
/** Sample data shown per test: enough to read, not a page of megabytes. */
const SAMPLE_SHOWN_CHARS = 2_000;
const POLL_MS = 1_000;
/** Polls of one grading before the page stops watching (an hour at one a second). */
const POLLS_MAX = 3_600;
const PROBLEM_KEY = 'codearena.problem';

const problemSelect = byId<HTMLSelectElement>('problem');
const tokenBox = byId<HTMLLabelElement>('token-box');
const tokenInput = byId<HTMLInputElement>('token');
const messageEl = byId<HTMLDivElement>('message');
const problemZip = byId<HTMLInputElement>('problem-zip');
const problemFolder = byId<HTMLInputElement>('problem-folder');
const problemInfo = byId<HTMLDivElement>('problem-info');
const testsEl = byId<HTMLDivElement>('tests');
const langSelect = byId<HTMLSelectElement>('lang');
const sourceFile = byId<HTMLInputElement>('source-file');
const sourceText = byId<HTMLTextAreaElement>('source');
const submitButton = byId<HTMLButtonElement>('submit');
const subStatus = byId<HTMLDivElement>('sub-status');
const subTests = byId<HTMLDivElement>('sub-tests');
const classZip = byId<HTMLInputElement>('class-zip');
const classLang = byId<HTMLSelectElement>('class-lang');
const gradeButton = byId<HTMLButtonElement>('grade');
const csvLink = byId<HTMLAnchorElement>('csv');
const progressEl = byId<HTMLDivElement>('progress');
const progressText = byId<HTMLSpanElement>('progress-text');
const countsEl = byId<HTMLDivElement>('counts');
const gridEl = byId<HTMLTableElement>('grid');

let problem: ProblemView | null = null;
let languages: Language[] = [];
/** Bumped whenever what is being watched changes: an older watcher sees it and stops. */
let submissionWatch = 0;
let batchWatch = 0;

function showMessage(text: string | null, kind: 'error' | 'info' = 'error'): void {
  messageEl.hidden = text === null;
  messageEl.textContent = text ?? '';
  messageEl.className = kind === 'info' ? 'message info' : 'message';
}

/** Any failure as a sentence: the API's are worded already; anything else is the page's own. */
function sentence(err: unknown, doing: string): string {
  if (err instanceof ApiFailure) return err.message;
  return `The page could not ${doing}: ${err instanceof Error ? err.message : String(err)}.`;
}

function failed(err: unknown, doing: string): void {
  if (err instanceof ApiFailure && err.status === 401) tokenBox.hidden = false;
  showMessage(sentence(err, doing));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function verdictBadge(v: Short | null, long: boolean): HTMLElement {
  const text = v === null ? '…' : long ? `${v} · ${wordOf(v)}` : v;
  return h('span', { class: `verdict ${toneOf(v)}`, title: v === null ? 'not judged yet' : wordOf(v) }, text);
}

// ---------------------------------------------------------------- problems

async function loadProblemList(select: string | null): Promise<void> {
  const list = await requestJson<ProblemListItem[]>(location.origin, '/api/v1/problems');
  const want = select ?? localStorage.getItem(PROBLEM_KEY) ?? '';
  problemSelect.replaceChildren(
    h('option', { value: '' }, list.length === 0 ? 'none yet: upload one' : 'choose a problem…'),
    ...list.map((p) => h('option', { value: p.id, ...(p.id === want ? { selected: true } : {}) }, `${p.name} (${p.tests} tests)`)),
  );
  if (list.some((p) => p.id === want)) await showProblem(want);
  else await showProblem('');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function clip(s: string): string {
  return s.length > SAMPLE_SHOWN_CHARS ? `${s.slice(0, SAMPLE_SHOWN_CHARS)}\n… (${s.length - SAMPLE_SHOWN_CHARS} more characters)` : s;
}

async function showProblem(id: string): Promise<void> {
  submissionWatch++;
  batchWatch++;
  problem = id ? await requestJson<ProblemView>(location.origin, `/api/v1/problems/${encodeURIComponent(id)}`) : null;
  if (id) localStorage.setItem(PROBLEM_KEY, id);
  problemSelect.value = id;
  subTests.replaceChildren();
  subStatus.textContent = '';
  resetBatch();
  updateButtons();
  if (!problem) {
    problemInfo.hidden = true;
    testsEl.replaceChildren();
    return;
  }
  const p = problem;
  problemInfo.hidden = false;
  problemInfo.replaceChildren(
    h('strong', {}, p.name),
    ` · ${plural(p.tests.length, 'test')} (${plural(p.tests.filter((t) => t.sample).length, 'sample')}) · checker ${p.checker} · ${p.limits.cpu_time_limit} s CPU · ${Math.round(p.limits.memory_limit / 1024)} MiB`,
  );
  const rows = p.tests.map((t) =>
    h(
      'tr',
      { 'data-test': t.name },
      h('td', { class: 'name' }, t.name),
      h('td', {}, t.sample ? 'sample' : 'secret'),
      h('td', {}, t.group ?? ''),
      h('td', { class: 'num' }, String(t.points)),
      t.sample ? h('td', {}, h('pre', {}, clip(t.input ?? ''))) : h('td', { class: 'muted' }, 'hidden'),
      t.sample ? h('td', {}, h('pre', {}, clip(t.answer ?? ''))) : h('td', { class: 'muted' }, 'hidden'),
    ),
  );
  testsEl.replaceChildren(
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, ...['Test', 'Kind', 'Group', 'Points', 'Input', 'Answer'].map((c) => h('th', {}, c)))), h('tbody', {}, ...rows)),
  );
}

async function uploadProblem(zip: Uint8Array, name: string): Promise<void> {
  showMessage(`Uploading ${name}…`, 'info');
  const created = await requestJson<{ id: string; name: string; tests: number; created: boolean }>(location.origin, `/api/v1/problems?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/zip' },
    body: zip as Uint8Array<ArrayBuffer>,
  });
  await loadProblemList(created.id);
  showMessage(created.created ? `Problem "${created.name}" created with ${created.tests} tests.` : `Problem "${created.name}" was there already (same content): selected.`, 'info');
}

async function onProblemZip(): Promise<void> {
  const f = problemZip.files?.[0];
  problemZip.value = '';
  if (!f) return;
  if (f.size > PROBLEM_BYTES_MAX) return showMessage(`The zip is ${f.size} bytes; a problem may have at most ${PROBLEM_BYTES_MAX}.`);
  try {
    await uploadProblem(new Uint8Array(await f.arrayBuffer()), f.name.replace(/\.zip$/i, ''));
  } catch (err) {
    failed(err, 'upload the problem');
  }
}

/** A folder picked with webkitdirectory, zipped here: one upload path for both on the Gateway. */
async function onProblemFolder(): Promise<void> {
  const picked = [...(problemFolder.files ?? [])];
  problemFolder.value = '';
  if (picked.length === 0) return;
  if (picked.length > PROBLEM_FILES_MAX) return showMessage(`The folder holds ${picked.length} files; a problem may have at most ${PROBLEM_FILES_MAX}.`);
  const bytes = picked.reduce((n, f) => n + f.size, 0);
  if (bytes > PROBLEM_BYTES_MAX) return showMessage(`The folder holds ${bytes} bytes; a problem may have at most ${PROBLEM_BYTES_MAX}.`);
  try {
    const entries: Record<string, Uint8Array> = {};
    for (const f of picked) entries[f.webkitRelativePath || f.name] = new Uint8Array(await f.arrayBuffer());
    const folder = (picked[0]?.webkitRelativePath ?? '').split('/')[0] || 'problem';
    await uploadProblem(zipSync(entries, { level: 6 }), folder);
  } catch (err) {
    failed(err, 'upload the folder');
  }
}

// ---------------------------------------------------------------- one solution

function guessLanguage(fileName: string): string | null {
  const ext = fileName.split('.').pop()?.toLowerCase() ?? '';
  const byExt: Record<string, string> = { c: 'c', cpp: 'cpp', cc: 'cpp', cxx: 'cpp', py: 'python', java: 'java', js: 'javascript', mjs: 'javascript' };
  const id = byExt[ext];
  return id && languages.some((l) => l.id === id) ? id : null;
}

async function onSourceFile(): Promise<void> {
  const f = sourceFile.files?.[0];
  if (!f) return;
  if (f.size > SOURCE_BYTES_MAX) return showMessage(`The file is ${f.size} bytes; a source may have at most ${SOURCE_BYTES_MAX}.`);
  sourceText.value = await f.text();
  const lang = guessLanguage(f.name);
  if (lang) langSelect.value = lang;
  updateButtons();
}

function timeOf(ms: number | null): string {
  return ms === null ? '' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function detailOf(t: TestResult): string {
  if (t.diff) return `line ${t.diff.line}${t.diff.expected !== undefined ? `: expected "${t.diff.expected}", got "${t.diff.got ?? ''}"` : ''}`;
  if (t.verdict === 'runtime_error') return t.signal ? `signal ${t.signal}` : `exit code ${t.exit_code ?? '?'}`;
  return t.message ?? '';
}

function testRow(name: string, t: TestResult | null): HTMLTableRowElement {
  const v = t?.verdict ? shortOf(t.verdict) : null;
  const state = t === null || t.state === 'pending' ? 'waiting' : t.state === 'done' ? 'done' : t.state;
  return h(
    'tr',
    { 'data-test': name, 'data-verdict': v ?? '' },
    h('td', { class: 'name' }, name),
    h('td', {}, v ? verdictBadge(v, true) : h('span', { class: 'verdict v-pending' }, state)),
    h('td', { class: 'num' }, timeOf(t?.cpu_time_ms ?? null)),
    h('td', { class: 'num' }, t?.memory_kb ? `${Math.round(t.memory_kb / 1024)} MiB` : ''),
    h('td', { class: 'detail' }, t ? detailOf(t) : ''),
  );
}

function renderSubmission(v: SubmissionView): void {
  const names = problem?.tests.map((t) => t.name) ?? v.tests.map((t) => t.test);
  const byName = new Map(v.tests.map((t) => [t.test, t]));
  subTests.replaceChildren(
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, ...['Test', 'Verdict', 'CPU', 'Memory', 'Detail'].map((c) => h('th', {}, c)))), h('tbody', {}, ...names.map((n) => testRow(n, byName.get(n) ?? null)))),
    v.compile_output ? h('pre', { class: 'compile' }, v.compile_output) : '',
  );
  const verdict = v.verdict ? shortOf(v.verdict) : null;
  subStatus.replaceChildren(
    v.state === 'done' ? 'Done: ' : `${v.state === 'queued' ? 'Queued' : 'Running'}: ${v.done}/${v.total} tests · `,
    verdictBadge(verdict, true),
    ` · score ${v.score}/${v.max_score}`,
  );
  subStatus.dataset['state'] = v.state;
}

/** Folds one stream event into the view the page holds (pure: the drivers below apply it). */
function applyEvent(v: SubmissionView, e: JudgeEvent): SubmissionView {
  switch (e.type) {
    case 'submission_progress': {
      const tests = v.tests.some((t) => t.test === e.test.test) ? v.tests.map((t) => (t.test === e.test.test ? e.test : t)) : [...v.tests, e.test];
      return { ...v, state: 'running', tests, done: e.done, total: e.total };
    }
    case 'submission_result':
      return e.result;
    case 'batch_result':
      return v;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** The submission's stream; resolves true once its result arrived, false if the socket failed first. */
function streamSubmission(id: string, watch: number, start: SubmissionView): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(`/api/v1/submissions/${encodeURIComponent(id)}/stream`, judgeBase);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    const t = storedToken();
    if (t) u.searchParams.set('token', t);
    let ws: WebSocket;
    try {
      ws = new WebSocket(u);
    } catch {
      return resolve(false);
    }
    let view = start;
    let ended = false;
    ws.onmessage = (m) => {
      if (watch !== submissionWatch) return ws.close();
      let e: JudgeEvent;
      try {
        e = JSON.parse(String(m.data)) as JudgeEvent;
      } catch {
        return;
      }
      view = applyEvent(view, e);
      renderSubmission(view);
      if (e.type === 'submission_result') ended = true;
    };
    ws.onclose = () => resolve(ended);
    ws.onerror = () => undefined; // onclose follows
  });
}

/** How long a poll keeps trying the lab's other Gateways while none answers (a failover takes ~0.5–3 s). */
const FAILOVER_MS = 30_000;
/** The Gateway that answered the judge's last poll: this page's own until a failover. */
let judgeBase = location.origin;

/**
 * A GET of a submission or a batch on the Gateway that answered last, then on the lab's others
 * (`gatewayList()`: the standby's address among them), for up to FAILOVER_MS while none answers:
 * the judge's submissions and batches survive a Gateway failover under the same ids, so polling
 * simply carries on at the new Gateway. Only an unreachable Gateway moves it; an error answer
 * (401, 404) is the caller's.
 */
async function judgeGet<T>(p: string): Promise<T> {
  const until = Date.now() + FAILOVER_MS;
  for (;;) {
    const bases = [judgeBase, ...(await gatewayList()).filter((g) => g !== judgeBase)];
    let last: unknown = null;
    for (const base of bases) {
      try {
        const v = await requestJson<T>(base, p);
        judgeBase = base;
        return v;
      } catch (err) {
        if (!(err instanceof ApiFailure) || err.status !== 0) throw err;
        last = err;
      }
    }
    if (Date.now() > until) throw last;
    await sleep(POLL_MS);
  }
}

async function pollSubmission(id: string, watch: number): Promise<void> {
  for (let i = 0; i < POLLS_MAX && watch === submissionWatch; i++) {
    const v = await judgeGet<SubmissionView>(`/api/v1/submissions/${encodeURIComponent(id)}`);
    if (watch !== submissionWatch) return;
    renderSubmission(v);
    if (v.state === 'done') return;
    await sleep(POLL_MS);
  }
}

async function submit(): Promise<void> {
  if (!problem) return;
  const source = sourceText.value;
  if (source.trim() === '') return showMessage('Paste a source or pick a source file first.');
  if (new Blob([source]).size > SOURCE_BYTES_MAX) return showMessage(`The source is over ${SOURCE_BYTES_MAX} bytes.`);
  const watch = ++submissionWatch;
  showMessage(null);
  submitButton.disabled = true;
  try {
    judgeBase = location.origin;
    const { id } = await requestJson<{ id: string }>(location.origin, '/api/v1/submissions', {
      method: 'POST',
      body: JSON.stringify({ problem_id: problem.id, language: langSelect.value, source }),
    });
    const start: SubmissionView = { id, state: 'queued', verdict: null, score: 0, max_score: 0, done: 0, total: problem.tests.length, compile_output: '', tests: [] };
    renderSubmission(start);
    // The socket pushes each test as it ends; should it fail (a proxy, a restart), polling carries on.
    if (!(await streamSubmission(id, watch, start)) && watch === submissionWatch) await pollSubmission(id, watch);
  } catch (err) {
    failed(err, 'submit the solution');
  } finally {
    updateButtons();
  }
}

// ---------------------------------------------------------------- a class

function resetBatch(): void {
  csvLink.hidden = true;
  setProgress(0, 0);
  progressText.textContent = '';
  countsEl.replaceChildren();
  gridEl.replaceChildren();
}

function setProgress(done: number, total: number): void {
  const pct = total > 0 ? Math.round((done / total) * 100) : 0;
  progressEl.setAttribute('aria-valuenow', String(pct));
  (progressEl.firstElementChild as HTMLElement).style.width = `${pct}%`;
}

function renderBatch(b: BatchView): void {
  setProgress(b.tests_done, b.tests_total);
  // After a failover, say where the grid now comes from (the standby took the batch over).
  const from = judgeBase !== location.origin ? ` · from ${new URL(judgeBase).host}` : '';
  progressText.textContent = `${b.state === 'done' ? 'Done' : 'Grading'}: ${b.done}/${b.total} students · ${b.tests_done}/${b.tests_total} tests${from}`;
  progressEl.dataset['state'] = b.state;
  countsEl.replaceChildren(
    ...Object.entries(b.verdicts)
      .filter(([, n]) => (n ?? 0) > 0)
      .map(([v, n]) => {
        const s = shortOf(v as Verdict);
        return h('span', { class: `count ${toneOf(s)}` }, `${s} ${wordOf(s)}: ${n}`);
      }),
  );
  const names = problem?.tests.map((t) => t.name) ?? [];
  const width = Math.max(names.length, ...b.students.map((s) => s.tests.length));
  const head = h('tr', {}, h('th', {}, 'Student'), h('th', {}, 'Verdict'), h('th', {}, 'Score'), ...Array.from({ length: width }, (_, i) => h('th', { class: 'test', title: names[i] ?? '' }, names[i] ?? `#${i + 1}`)));
  const rows = b.students.map((s) => {
    const verdict = s.verdict ? shortOf(s.verdict) : null;
    return h(
      'tr',
      { 'data-student': s.student, 'data-state': s.state, 'data-verdict': verdict ?? '' },
      h('th', { class: 'student' }, s.student),
      h('td', {}, s.state === 'done' ? verdictBadge(verdict, false) : h('span', { class: 'verdict v-pending' }, s.state)),
      h('td', { class: 'num' }, s.state === 'done' ? `${s.score}/${s.max_score}` : ''),
      ...Array.from({ length: width }, (_, i) => {
        const c = asShort(s.tests[i]);
        return h('td', { class: `cell ${toneOf(c)}`, 'data-cell': c ?? '', title: c ? `${s.student} · ${names[i] ?? ''}: ${wordOf(c)}` : 'not judged yet' }, c ?? '·');
      }),
    );
  });
  gridEl.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
}

async function gradeClass(): Promise<void> {
  const f = classZip.files?.[0];
  if (!problem || !f) return;
  if (f.size > CLASS_UPLOAD_BYTES_MAX) return showMessage(`The zip is ${f.size} bytes; a class upload may have at most ${CLASS_UPLOAD_BYTES_MAX}.`);
  const watch = ++batchWatch;
  resetBatch();
  showMessage(null);
  gradeButton.disabled = true;
  try {
    const q = new URLSearchParams({ problem_id: problem.id });
    if (classLang.value) q.set('language', classLang.value);
    judgeBase = location.origin;
    const b = await requestJson<{ id: string; total: number }>(location.origin, `/api/v1/batches?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/zip' },
      body: new Uint8Array(await f.arrayBuffer()),
    });
    progressText.textContent = `Grading: 0/${b.total} students`;
    await gatewayList(); // kept for the polls, should this Gateway fail mid-class
    // The batch view holds the whole grid: one small request a second is all a class needs.
    for (let i = 0; i < POLLS_MAX && watch === batchWatch; i++) {
      // On the Gateway that answered last: after a failover the new one, which has the batch.
      const v = await judgeGet<BatchView>(`/api/v1/batches/${encodeURIComponent(b.id)}`);
      if (watch !== batchWatch) return;
      renderBatch(v);
      if (v.state === 'done') {
        const csv = new URL(`/api/v1/batches/${encodeURIComponent(b.id)}/results.csv`, judgeBase);
        const t = storedToken();
        if (t) csv.searchParams.set('token', t);
        csvLink.href = csv.toString();
        csvLink.setAttribute('download', `results-${b.id}.csv`);
        csvLink.hidden = false;
        return;
      }
      await sleep(POLL_MS);
    }
  } catch (err) {
    failed(err, 'grade the class');
  } finally {
    updateButtons();
  }
}

// ---------------------------------------------------------------- start

function updateButtons(): void {
  submitButton.disabled = !problem || languages.length === 0;
  gradeButton.disabled = !problem || !(classZip.files && classZip.files.length > 0);
}

async function start(): Promise<void> {
  tokenInput.value = storedToken();
  try {
    languages = await requestJson<Language[]>(location.origin, '/api/v1/languages');
    const options = (withAuto: boolean) => [
      ...(withAuto ? [h('option', { value: '' }, 'from the files')] : []),
      ...languages.map((l) => h('option', { value: l.id }, l.version ? `${l.name} (${l.version})` : l.name)),
    ];
    langSelect.replaceChildren(...options(false));
    classLang.replaceChildren(...options(true));
    await loadProblemList(null);
    // The lab's Gateways, kept in localStorage while this one answers: after a failover the polls
    // find the standby from that list (this page's own Gateway no longer answers it).
    await gatewayList();
    showMessage(null);
    // As on the dashboard: the field is shown when the Gateway asks for a token, and goes once it works.
    tokenBox.hidden = true;
  } catch (err) {
    failed(err, 'load the problems');
  }
  updateButtons();
}

problemSelect.addEventListener('change', () => void showProblem(problemSelect.value).catch((err: unknown) => failed(err, 'show the problem')));
problemZip.addEventListener('change', () => void onProblemZip());
problemFolder.addEventListener('change', () => void onProblemFolder());
sourceFile.addEventListener('change', () => void onSourceFile().catch((err: unknown) => failed(err, 'read the file')));
submitButton.addEventListener('click', () => void submit());
classZip.addEventListener('change', updateButtons);
gradeButton.addEventListener('click', () => void gradeClass());
tokenInput.addEventListener('change', () => {
  storeToken(tokenInput.value.trim());
  void start();
});

void start();
