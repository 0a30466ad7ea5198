import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { SECRET_CHARS_MIN } from '../wire/psk.js';
import { ConfigError, type ConfigProblem, problemsFromIssues } from './errors.js';
import { labConfigSchema } from './checks.js';
import { labConfigShape, type LabConfig, type ParsedLabConfig } from './schema.js';

// Reading a lab config: file → text → plain data (YAML or JSON) → validated, secret resolved,
// frozen. Synchronous on purpose: it runs once at start-up, before anything else can happen.

/** A lab of 2,000 nodes with every field spelt out is ~300 KiB; more is not a config. */
export const CONFIG_BYTES_MAX = 1024 * 1024;
/** A secret is a line of text; a large "secret file" is the wrong file. */
export const SECRET_FILE_BYTES_MAX = 4 * 1024;
/** YAML aliases can expand exponentially ("billion laughs"); a config needs few. */
const YAML_ALIASES_MAX = 100;

export interface ParseOptions {
  /** How errors name the config: the path as the user typed it, or a label. */
  source: string;
  /** Folder that a relative secretFile is resolved from: the config file's own. */
  baseDir: string;
}

/** Loads and validates a lab config. Throws ConfigError listing every problem found. */
export function loadConfig(configPath: string): LabConfig {
  const text = readBounded(configPath, CONFIG_BYTES_MAX, configPath, '(file)');
  const raw = parseText(text, configPath);
  return parseLabConfig(raw, { source: configPath, baseDir: path.dirname(path.resolve(configPath)) });
}

/** Validates config data already in memory (from a file, or built by code). */
export function parseLabConfig(raw: unknown, options: ParseOptions): LabConfig {
  const result = labConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(options.source, problemsFromIssues(result.error.issues, labConfigShape));
  const secret = resolveSecret(result.data.cluster, options);
  const { secretFile } = result.data.cluster;
  const cluster = {
    name: result.data.cluster.name,
    secret,
    ...(secretFile === undefined ? {} : { secretFile: path.resolve(options.baseDir, secretFile) }),
  };
  return deepFreeze({ ...result.data, cluster }) as LabConfig;
}

type Format = 'json' | 'yaml';

/** By extension; otherwise by content, since a JSON object always starts with "{". */
export function detectFormat(configPath: string, text: string): Format {
  const ext = path.extname(configPath).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

function parseText(text: string, source: string): unknown {
  return detectFormat(source, text) === 'json' ? parseJson(text, source) : parseYaml(text, source);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // V8 gives a position for most errors; for "Unexpected token" it quotes the context instead.
    const message = (err as Error).message.replace(/\n/g, '\\n');
    const position = /at position (\d+)/.exec(message);
    const where = position ? lineColumn(text, Number(position[1])) : '(syntax)';
    throw new ConfigError(source, [{ path: where, message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}` }]);
  }
}

function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(source, doc.errors.map((e) => yamlProblem(e.message)));
  try {
    return doc.toJS({ maxAliasCount: YAML_ALIASES_MAX }) as unknown;
  } catch (err) {
    throw new ConfigError(source, [{ path: '(yaml)', message: `${(err as Error).message} — remove or fix the alias` }]);
  }
}

/** "Map keys must be unique at line 2, column 1:\n…" → { path: "line 2, column 1", message }. */
function yamlProblem(prettyMessage: string): ConfigProblem {
  const firstLine = prettyMessage.split('\n')[0] ?? prettyMessage;
  const m = /^(.*) at (line \d+, column \d+):?$/.exec(firstLine);
  return m ? { path: m[2] as string, message: `invalid YAML: ${m[1]}` } : { path: '(yaml)', message: `invalid YAML: ${firstLine}` };
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

function resolveSecret(cluster: ParsedLabConfig['cluster'], options: ParseOptions): string {
  if (cluster.secret !== undefined) return cluster.secret;
  // The schema's checks guarantee exactly one of the two is set.
  const file = path.resolve(options.baseDir, cluster.secretFile as string);
  const secret = readBounded(file, SECRET_FILE_BYTES_MAX, options.source, 'cluster.secretFile').trim();
  if (secret.length < SECRET_CHARS_MIN) {
    throw new ConfigError(options.source, [
      {
        path: 'cluster.secretFile',
        message: `the secret in ${file} has ${secret.length} characters — it needs at least ${SECRET_CHARS_MIN} (codearena init makes one)`,
      },
    ]);
  }
  return secret;
}

/** Reads a small text file, or throws a ConfigError at problemPath naming the file and the fix. */
function readBounded(file: string, bytesMax: number, source: string, problemPath: string): string {
  const fail = (message: string): never => {
    throw new ConfigError(source, [{ path: problemPath, message }]);
  };
  try {
    const stat = statSync(file);
    if (!stat.isFile()) fail(`${file} is not a file — point to the file itself`);
    if (stat.size > bytesMax) fail(`${file} has ${stat.size} bytes, more than the ${bytesMax} allowed — is it the right file?`);
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const hint = problemPath === '(file)' ? 'check the path' : "check the path (relative paths start at the config file's folder) and its permissions";
    return fail(`cannot read ${file} (${code}) — ${hint}`);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
