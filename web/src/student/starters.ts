// A first program per language: it reads input, so Run shows the terminal at work at once.

export interface SourceFile {
  name: string;
  content: string;
}

const C = `#include <stdio.h>

int main(void) {
    char name[64];
    printf("What is your name? ");
    fflush(stdout);
    if (scanf("%63s", name) == 1) printf("Hello, %s!\\n", name);
    return 0;
}
`;

const CPP = `#include <iostream>
#include <string>

int main() {
    std::string name;
    std::cout << "What is your name? " << std::flush;
    if (std::cin >> name) std::cout << "Hello, " << name << "!\\n";
    return 0;
}
`;

const PYTHON = `name = input("What is your name? ")
print(f"Hello, {name}!")
`;

const JAVA = `import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("What is your name? ");
        System.out.flush();
        String name = in.next();
        System.out.println(Greeting.hello(name));
    }
}
`;

const JAVA_GREETING = `public class Greeting {
    static String hello(String name) {
        return "Hello, " + name + "!";
    }
}
`;

const JAVASCRIPT = `const readline = require('node:readline');
const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
rl.question('What is your name? ', (name) => {
  console.log(\`Hello, \${name}!\`);
  rl.close();
});
`;

/** The files a language starts with; the first is the one that runs. */
export function starterFiles(languageId: string): SourceFile[] {
  switch (languageId) {
    case 'c':
      return [{ name: 'main.c', content: C }];
    case 'cpp':
      return [{ name: 'main.cpp', content: CPP }];
    case 'python':
      return [{ name: 'main.py', content: PYTHON }];
    case 'java':
      return [
        { name: 'Main.java', content: JAVA },
        { name: 'Greeting.java', content: JAVA_GREETING },
      ];
    case 'javascript':
      return [{ name: 'main.js', content: JAVASCRIPT }];
    default:
      return [{ name: 'main.txt', content: '' }];
  }
}

/** Languages whose programs may have several files (tabs). */
export function multiFile(languageId: string): boolean {
  return languageId === 'java';
}
