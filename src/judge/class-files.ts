import path from 'node:path';
import { LANGUAGES, findLanguage, type LanguageSpec } from '../sandbox/languages.js';
import { PackageError, type PackageBounds, type PackageFiles } from './package-files.js';

/**
 * A class's submissions from a folder or zip: one folder per student (its files, at any depth,
 * flattened), or one file per student at the top (`alice.c` is alice's). LMS exports add clutter
 * (__MACOSX/, .DS_Store); it is skipped.
 */
export const CLASS_BOUNDS: PackageBounds = {
  totalBytesMax: 64 * 1024 * 1024,
  filesMax: 5_000,
  fileBytesMax: 1024 * 1024,
};
export const STUDENT_FILES_MAX = 16;
export const STUDENT_NAME_MAX = 100;

export interface StudentSubmission {
  student: string;
  language: string;
  files: Array<{ name: string; content: string }>;
}

const SAFE_NAME = /[^A-Za-z0-9_.-]/g;

/** A file name the sandbox accepts: letters, digits, "_", "-", "." and not starting with a dot. */
export function sandboxFileName(name: string): string {
  const base = path.posix.basename(name).replace(SAFE_NAME, '_').replace(/^[.-]+/, '_').slice(0, 128);
  return base || 'file';
}

function languageOfFile(name: string): LanguageSpec | null {
  const ext = path.extname(name).toLowerCase();
  return LANGUAGES.find((l) => l.extensions.includes(ext)) ?? null;
}

function clutter(p: string): boolean {
  return p.split('/').some((s) => s.startsWith('.') || s === '__MACOSX');
}

/** Orders a student's files so the main source comes first, and names their language. */
export function submissionFromFiles(student: string, raw: Array<{ name: string; content: Buffer }>, language?: string): StudentSubmission {
  if (raw.length === 0) throw new PackageError('BAD_PROBLEM', `${student}: no files`);
  if (raw.length > STUDENT_FILES_MAX) throw new PackageError('PACKAGE_TOO_LARGE', `${student}: ${raw.length} files, at most ${STUDENT_FILES_MAX}`);
  const files = raw.map((f) => ({ name: sandboxFileName(f.name), content: f.content.toString('utf8') }));
  if (new Set(files.map((f) => f.name)).size !== files.length) throw new PackageError('BAD_PATH', `${student}: two files with the same name`);
  const lang = language ? findLanguage(language) : null;
  const sources = files.filter((f) => {
    const l = languageOfFile(f.name);
    return l !== null && (lang === null || l.id === lang.id);
  });
  const main = sources.find((f) => /^main\./i.test(f.name)) ?? sources.find((f) => /public\s+static\s+void\s+main|int\s+main\s*\(|__main__/.test(f.content)) ?? sources[0];
  if (!main) throw new PackageError('BAD_PROBLEM', `${student}: no source file${lang ? ` in ${lang.name}` : ' of a known language (.c .cpp .py .java .js)'}`);
  const id = lang?.id ?? (languageOfFile(main.name) as LanguageSpec).id;
  return { student, language: id, files: [main, ...files.filter((f) => f !== main)] };
}

export function classFromFiles(files: PackageFiles, language?: string): StudentSubmission[] {
  const byStudent = new Map<string, Array<{ name: string; content: Buffer }>>();
  let entries = [...files].filter(([p]) => !clutter(p));
  // A zip of "class/alice/…, class/bob/…" is the class folder itself.
  const tops = new Set(entries.map(([p]) => p.split('/')[0]));
  if (tops.size === 1 && entries.every(([p]) => p.split('/').length >= 3)) entries = entries.map(([p, b]) => [p.slice(p.indexOf('/') + 1), b]);
  for (const [p, content] of entries) {
    const parts = p.split('/');
    const student = parts.length === 1 ? path.posix.basename(p, path.posix.extname(p)) : (parts[0] as string);
    if (student.length === 0 || student.length > STUDENT_NAME_MAX) throw new PackageError('BAD_PATH', `student name "${student.slice(0, 40)}…" must be 1..${STUDENT_NAME_MAX} characters`);
    const list = byStudent.get(student) ?? [];
    list.push({ name: parts[parts.length - 1] as string, content });
    byStudent.set(student, list);
  }
  return [...byStudent.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([s, fs]) => submissionFromFiles(s, fs, language));
}
