#include <stdio.h>

int main(void) {
  char name[64];
  printf("What is your name? ");
  fflush(stdout);
  if (!fgets(name, sizeof name, stdin)) return 1;
  printf("Hello, %s", name);
  return 0;
}
