#!/usr/bin/env node
// The blog CLI is compiled to blog/dist/ by `npm --prefix blog run build` (scripts/setup.sh runs it).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('blog: not built yet — run `npm --prefix blog run build` (or scripts/setup.sh) first\n');
  process.exit(2);
}
await import(entry.href);
