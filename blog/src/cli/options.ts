/** A mistake in how the CLI was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly code = 'BLOG_USAGE';
}

export function intOption(value: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer ${min}..${max}, got "${value}"`);
  return n;
}
