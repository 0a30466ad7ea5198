#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm run build` (scripts/setup.sh runs it).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('codearena: not built yet — run `npm run build` (or scripts/setup.sh) first\n');
  process.exit(2);
}
await import(entry.href);
