import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CodeArenaError } from '../common/errors.js';

/** What a phase of a run needs from the language: the program to start and its environment. */
export interface Command {
  argv: string[];
  env: Record<string, string>;
}

export interface LanguageSpec {
  id: string;
  name: string;
  aliases: string[];
  extensions: string[];
  /** The toolchain binary whose presence means "this machine can run the language". */
  toolchain: string;
  /** Name of the main source file inside the work dir (Java: the public class decides it). */
  sourceFile(source: string): string;
  compile?(sourceFile: string): Command;
  run(sourceFile: string, memoryKb: number): Command;
  versionProbe: { argv: string[]; parse(output: string): string };
  /** Extra host paths bound read-only into the sandbox when they exist. */
  readOnlyPaths: string[];
  /**
   * Whether RLIMIT_AS may cap memory when no cgroup can: a JVM reserves far more address space
   * than it uses, so Java relies on -Xmx instead.
   */
  addressSpaceLimit: boolean;
  /** Threads count as processes: a JVM needs a few dozen even for hello world. */
  processesMin: number;
}

const BASE_ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/work',
  LANG: 'C.UTF-8',
  TMPDIR: '/tmp',
};

function cmd(argv: string[], env: Record<string, string> = {}): Command {
  return { argv, env: { ...BASE_ENV, ...env } };
}

function javaClassName(source: string): string {
  const m = /public\s+(?:final\s+|abstract\s+)*class\s+([A-Za-z_$][A-Za-z0-9_$]*)/.exec(source);
  return m?.[1] ?? 'Main';
}

function firstLine(output: string): string {
  return output.trim().split('\n')[0]?.trim() ?? '';
}

export const LANGUAGES: readonly LanguageSpec[] = [
  {
    id: 'c',
    name: 'C (gcc)',
    aliases: ['gcc', 'c17'],
    extensions: ['.c'],
    toolchain: '/usr/bin/gcc',
    sourceFile: () => 'main.c',
    compile: (f) => cmd(['/usr/bin/gcc', '-O2', '-std=gnu17', '-pipe', '-o', 'main', f, '-lm']),
    run: () => cmd(['./main']),
    versionProbe: { argv: ['/usr/bin/gcc', '-dumpfullversion'], parse: (o) => `gcc ${firstLine(o)}` },
    readOnlyPaths: [],
    addressSpaceLimit: true,
    processesMin: 4,
  },
  {
    id: 'cpp',
    name: 'C++ (g++)',
    aliases: ['c++', 'g++', 'cxx'],
    extensions: ['.cpp', '.cc', '.cxx', '.c++'],
    toolchain: '/usr/bin/g++',
    sourceFile: () => 'main.cpp',
    compile: (f) => cmd(['/usr/bin/g++', '-O2', '-std=gnu++17', '-pipe', '-o', 'main', f, '-lm']),
    run: () => cmd(['./main']),
    versionProbe: { argv: ['/usr/bin/g++', '-dumpfullversion'], parse: (o) => `g++ ${firstLine(o)}` },
    readOnlyPaths: [],
    addressSpaceLimit: true,
    processesMin: 4,
  },
  {
    id: 'python',
    name: 'Python 3',
    aliases: ['python3', 'py', 'py3'],
    extensions: ['.py'],
    toolchain: '/usr/bin/python3',
    sourceFile: () => 'main.py',
    run: (f) => cmd(['/usr/bin/python3', f], { PYTHONDONTWRITEBYTECODE: '1' }),
    versionProbe: { argv: ['/usr/bin/python3', '--version'], parse: (o) => firstLine(o).replace(/^Python /, 'python ') },
    readOnlyPaths: [],
    addressSpaceLimit: true,
    processesMin: 4,
  },
  {
    id: 'java',
    name: 'Java (OpenJDK)',
    aliases: ['jdk', 'javac'],
    extensions: ['.java'],
    toolchain: '/usr/bin/javac',
    sourceFile: (source) => `${javaClassName(source)}.java`,
    compile: (f) =>
      cmd(['/usr/bin/javac', '-J-Xmx384m', '-J-XX:+UseSerialGC', '-J-XX:TieredStopAtLevel=1', '-encoding', 'UTF-8', '-d', '.', f]),
    run: (f, memoryKb) =>
      cmd([
        '/usr/bin/java',
        `-Xmx${Math.max(16, Math.floor((memoryKb * 0.75) / 1024))}m`,
        '-Xss64m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dfile.encoding=UTF-8',
        '-cp',
        '.',
        path.basename(f, '.java'),
      ]),
    versionProbe: { argv: ['/usr/bin/javac', '-version'], parse: (o) => firstLine(o) },
    readOnlyPaths: ['/etc/alternatives', '/etc/java-17-openjdk', '/etc/java-21-openjdk', '/etc/ssl/certs/java'],
    addressSpaceLimit: false,
    processesMin: 64,
  },
  {
    id: 'javascript',
    name: 'JavaScript (Node.js)',
    aliases: ['js', 'node', 'nodejs'],
    extensions: ['.js', '.mjs'],
    toolchain: '/usr/bin/node',
    sourceFile: () => 'main.js',
    run: (f, memoryKb) =>
      cmd(['/usr/bin/node', `--max-old-space-size=${Math.max(16, Math.floor((memoryKb * 0.75) / 1024))}`, f]),
    versionProbe: { argv: ['/usr/bin/node', '--version'], parse: (o) => `node ${firstLine(o).replace(/^v/, '')}` },
    readOnlyPaths: [],
    // V8 reserves a large virtual cage up front; RLIMIT_AS would stop it from starting at all.
    addressSpaceLimit: false,
    processesMin: 16,
  },
];

export function findLanguage(name: string): LanguageSpec {
  const key = name.trim().toLowerCase();
  const lang = LANGUAGES.find((l) => l.id === key || l.aliases.includes(key));
  if (!lang) {
    throw new CodeArenaError(
      'UNKNOWN_LANGUAGE',
      `unknown language "${name}"`,
      `use one of: ${LANGUAGES.map((l) => l.id).join(', ')}`,
    );
  }
  return lang;
}

export function languageForFile(file: string): LanguageSpec {
  const ext = path.extname(file).toLowerCase();
  const lang = LANGUAGES.find((l) => l.extensions.includes(ext));
  if (!lang) {
    throw new CodeArenaError(
      'UNKNOWN_EXTENSION',
      `cannot tell the language of "${path.basename(file)}" from its extension`,
      `pass --lang (one of: ${LANGUAGES.map((l) => l.id).join(', ')})`,
    );
  }
  return lang;
}

export interface LanguageInfo {
  id: string;
  name: string;
  extensions: string[];
  version: string;
}

function probeVersion(lang: LanguageSpec): Promise<string | null> {
  if (!existsSync(lang.toolchain)) return Promise.resolve(null);
  const [file, ...args] = lang.versionProbe.argv;
  return new Promise((resolve) => {
    execFile(file as string, args, { timeout: 10_000, env: { PATH: BASE_ENV.PATH, LANG: 'C.UTF-8' } }, (err, stdout, stderr) => {
      if (err) return resolve(null);
      resolve(lang.versionProbe.parse(`${stdout}${stderr}`) || null);
    });
  });
}

let probed: Promise<LanguageInfo[]> | null = null;

/** The languages whose toolchain this machine has, with versions. Probed once per process. */
export function availableLanguages(): Promise<LanguageInfo[]> {
  probed ??= Promise.all(
    LANGUAGES.map(async (l) => {
      const version = await probeVersion(l);
      return version ? { id: l.id, name: l.name, extensions: l.extensions, version } : null;
    }),
  ).then((list) => list.filter((l): l is LanguageInfo => l !== null));
  return probed;
}

export async function versionOf(lang: LanguageSpec): Promise<string> {
  const info = (await availableLanguages()).find((l) => l.id === lang.id);
  if (!info) {
    throw new CodeArenaError(
      'TOOLCHAIN_MISSING',
      `this machine has no ${lang.name} toolchain (${lang.toolchain} not found)`,
      'run scripts/setup.sh as root, or install it with apt-get',
    );
  }
  return info.version;
}
