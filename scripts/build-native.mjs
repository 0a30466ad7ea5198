// Compiles the sandbox's first process (src/sandbox/native/ca-init.c) into dist/native/ca-init.
// gcc is required anyway (C is a supported language); scripts/setup.sh installs it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';

const src = 'src/sandbox/native/ca-init.c';
const out = 'dist/native/ca-init';
mkdirSync('dist/native', { recursive: true });
let fresh = false;
try { fresh = statSync(out).mtimeMs >= statSync(src).mtimeMs; } catch { /* not built yet */ }
if (!fresh) {
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, src], { stdio: 'inherit' });
  } catch {
    process.stderr.write('build: cannot compile the sandbox init (needs a C compiler: apt-get install gcc)\n');
    process.exit(2);
  }
}
