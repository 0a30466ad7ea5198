import { z } from 'zod';
import { CodeArenaError } from '../common/errors.js';

/** One thing wrong with a config: where (a field path like `nodes[2].name`) and what to do. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * Every problem of a config file at once, so a lab admin fixes them in one pass. Its message is
 * format(): one line per problem, `lab.yaml: nodes[2].name: duplicate name "pc-07" — …`.
 */
export class ConfigError extends CodeArenaError {
  readonly source: string;
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super('BAD_CONFIG', problems.map((p) => `${source}: ${p.path}: ${p.message}`).join('\n'), '');
    this.name = 'ConfigError';
    this.source = source;
    this.problems = Object.freeze([...problems]);
  }

  format(): string {
    return this.message;
  }
}

/** ['nodes', 2, 'name'] → "nodes[2].name"; the root is "(root)". */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out || '(root)';
}

/** Turns zod issues into problems; `shape` lets an unknown field list the known ones. */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], shape: z.ZodType): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      const known = knownFieldsAt(shape, issue.path);
      const hint = known.length > 0 ? `known fields here: ${known.join(', ')}` : 'remove it';
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        message: `unknown field "${key}" at ${formatPath(issue.path)} — ${hint}`,
      }));
    }
    return [{ path: formatPath(issue.path), message: describeIssue(issue) }];
  });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
    return `missing — this field is required (${issue.expected})`;
  }
  return issue.message;
}

/** The field names of the object schema at path, looking through defaults, optionals and arrays. */
function knownFieldsAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  let current: unknown = unwrap(schema);
  for (const key of path) {
    if (current instanceof z.ZodObject) current = unwrap((current.shape as Record<PropertyKey, unknown>)[key]);
    else if (current instanceof z.ZodArray) current = unwrap(current.element);
    else return [];
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  while (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
    current = current.unwrap();
  }
  return current;
}
