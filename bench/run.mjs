// npm run bench -- <name>: runs bench/<name>.mjs (after the build).
import { existsSync } from 'node:fs';
const name = process.argv[2];
const known = ['sandbox', 'cluster', 'e2e', 'failover', 'judge'];
if (!name || !known.includes(name) || !existsSync(new URL(`./${name}.mjs`, import.meta.url))) {
  console.error(`usage: npm run bench -- <${known.join('|')}>`);
  process.exit(2);
}
process.argv.splice(2, 1);
await import(`./${name}.mjs`);
