import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { availableLanguages } from '../../src/sandbox/languages.js';
import { runCode } from '../helpers/sandbox.js';

interface Case {
  hello: string;
  echo: string; // prints "got <line>" for one stdin line
  compileError?: string;
  runtimeError: string;
  exit7: string;
}

const CASES: Record<string, Case> = {
  c: {
    hello: '#include <stdio.h>\nint main(void){puts("Hello, world!");return 0;}\n',
    echo: '#include <stdio.h>\nint main(void){char b[100];if(!fgets(b,100,stdin))return 1;printf("got %s",b);return 0;}\n',
    compileError: 'int main(void){ return nope; }\n',
    runtimeError: '#include <stdio.h>\nint main(void){int *p=0;*p=1;return 0;}\n',
    exit7: 'int main(void){return 7;}\n',
  },
  cpp: {
    hello: '#include <iostream>\nint main(){std::cout<<"Hello, world!"<<std::endl;}\n',
    echo: '#include <iostream>\n#include <string>\nint main(){std::string s;std::getline(std::cin,s);std::cout<<"got "<<s<<"\\n";}\n',
    compileError: 'int main(){ undefined_fn(); }\n',
    runtimeError: '#include <stdexcept>\nint main(){throw std::runtime_error("boom");}\n',
    exit7: 'int main(){return 7;}\n',
  },
  python: {
    hello: 'print("Hello, world!")\n',
    echo: 'print("got " + input())\n',
    runtimeError: 'raise ValueError("boom")\n',
    exit7: 'import sys\nsys.exit(7)\n',
  },
  java: {
    hello: 'public class Main { public static void main(String[] a) { System.out.println("Hello, world!"); } }\n',
    echo: 'import java.util.Scanner;\npublic class Echo { public static void main(String[] a) { System.out.println("got " + new Scanner(System.in).nextLine()); } }\n',
    compileError: 'public class Main { public static void main(String[] a) { int x = "s"; } }\n',
    runtimeError: 'public class Main { public static void main(String[] a) { throw new RuntimeException("boom"); } }\n',
    exit7: 'public class Main { public static void main(String[] a) { System.exit(7); } }\n',
  },
  javascript: {
    hello: 'console.log("Hello, world!");\n',
    echo: 'const l = require("fs").readFileSync(0, "utf8").split("\\n")[0]; console.log("got " + l);\n',
    runtimeError: 'null.x;\n',
    exit7: 'process.exit(7);\n',
  },
};

test('all five languages are available on this machine', async () => {
  const ids = (await availableLanguages()).map((l) => l.id).sort();
  assert.deepEqual(ids, ['c', 'cpp', 'java', 'javascript', 'python']);
});

for (const [lang, c] of Object.entries(CASES)) {
  describe(`language ${lang}`, () => {
    test('hello world', async () => {
      const r = await runCode(lang, c.hello);
      assert.equal(r.result.status, 'ok', JSON.stringify(r.result) + r.compile + r.stderr);
      assert.equal(r.stdout.toString(), 'Hello, world!\n');
      assert.equal(r.result.exit_code, 0);
      assert.equal(r.result.language, lang);
      assert.match(r.result.version, /\d+\.\d+/);
      assert.ok(r.result.wall_time_ms >= 0 && r.result.memory_kb > 0);
    });
    test('reads stdin', async () => {
      const r = await runCode(lang, c.echo, { stdin: 'line one\nline two\n' });
      assert.equal(r.result.status, 'ok', r.stderr.toString() + r.compile);
      assert.equal(r.stdout.toString(), 'got line one\n');
    });
    if (c.compileError) {
      test('compile error', async () => {
        const r = await runCode(lang, c.compileError as string);
        assert.equal(r.result.status, 'compile_error');
        assert.ok(r.compile.length > 0, 'compiler output is reported');
        assert.equal(r.stdout.length, 0);
      });
    }
    test('runtime error', async () => {
      const r = await runCode(lang, c.runtimeError);
      assert.equal(r.result.status, 'runtime_error');
      assert.ok(r.result.exit_code !== 0 || r.result.signal !== null);
    });
    test('exit code passes through', async () => {
      const r = await runCode(lang, c.exit7);
      assert.equal(r.result.status, 'runtime_error');
      assert.equal(r.result.exit_code, 7);
      assert.equal(r.result.signal, null);
    });
  });
}
