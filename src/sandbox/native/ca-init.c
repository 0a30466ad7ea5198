// ca-init: the first process inside every CodeArena sandbox (bwrap --as-pid-1).
//
// Why it exists:
//  * It lets a sandbox be started ahead of time (a pool) and wait for its program, so bwrap's
//    ~4 ms of namespace set-up is off the run's critical path.
//  * As PID 1 of the sandbox's PID namespace it cannot be killed by the student's program
//    (`kill -9 -1` skips PID 1), it reaps every orphan, and it kills every leftover process at the
//    end of a phase, so nothing the program started outlives it.
//  * It measures the program itself with wait4(): CPU time and peak RSS of the program and its
//    waited-for children, never of bwrap.
//  * Interactive runs get a pseudo-terminal made here, inside the sandbox's own devpts, so no host
//    terminal is ever reachable from the program.
//
// Control protocol (host -> ca-init on fd 3, ca-init -> host on fd 4), all text headers end in '\n':
//   host:  F <size> <mode-octal> <name>\n<size bytes>      write /work/<name>
//          R <mode> <cpu_ms> <wall_ms> <as_kb> <fsize_kb> <nofile> <nproc> <argc> <envc>\n
//            then argc lines (argv) and envc lines (KEY=VALUE)
//            mode: 0 = pipes (fds 0,1,2 inherited; final phase)
//                  1 = pty (stdin lines from fd 0, output to fd 1; final phase)
//                  2 = capture (stdin /dev/null; stdout+stderr sent as O frames; returns to the loop)
//          K\n                                             stop the running phase: kill every
//                                                          process of the sandbox, then report X
//                                                          as usual (a K between phases is ignored)
//          Q\n                                             exit
//   init:  READY\n
//          O <len>\n<len bytes>                            captured output (mode 2)
//          X <exit_code> <signal> <cpu_us> <wall_us> <maxrss_kb> <wall_limit_hit>\n
//          E <message>\n                                   a failure of ca-init itself
// After a final phase (mode 0 or 1) ca-init closes fds 0-2, reports X and exits.
// K exists so that a run stopped by the host (output cap, a kill) still gets its figures: killing
// bwrap from outside would lose wait4()'s CPU time and peak memory of the program.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CTL_IN 3
#define CTL_OUT 4
#define LINE_MAX_BYTES 8192
#define ARGS_MAX 64
#define FILE_BYTES_MAX (64L * 1024 * 1024)
#define RELAY_BUF_BYTES 16384

static char in_buf[LINE_MAX_BYTES * 2];
static size_t in_len = 0;

static void write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // the host went away; the phase ends on its own
    }
    p += n;
    len -= (size_t)n;
  }
}

static void report(const char *fmt, ...) {
  char line[LINE_MAX_BYTES];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) write_all(CTL_OUT, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void die(const char *what) {
  report("E %s: %s\n", what, strerror(errno));
  _exit(111);
}

// Reads one '\n'-terminated line from the control fd into out (without the newline).
// Returns 0 on EOF.
static int read_line(char *out, size_t cap) {
  for (;;) {
    char *nl = memchr(in_buf, '\n', in_len);
    if (nl) {
      size_t len = (size_t)(nl - in_buf);
      if (len >= cap) { errno = E2BIG; die("control line too long"); }
      memcpy(out, in_buf, len);
      out[len] = 0;
      memmove(in_buf, nl + 1, in_len - len - 1);
      in_len -= len + 1;
      return 1;
    }
    if (in_len == sizeof in_buf) { errno = E2BIG; die("control line too long"); }
    ssize_t n = read(CTL_IN, in_buf + in_len, sizeof in_buf - in_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read control");
    if (n == 0) return 0;
    in_len += (size_t)n;
  }
}

// Reads exactly len payload bytes (buffered bytes first) and writes them to fd.
static void copy_payload(int fd, long len) {
  while (len > 0) {
    if (in_len > 0) {
      size_t take = in_len < (size_t)len ? in_len : (size_t)len;
      write_all(fd, in_buf, take);
      memmove(in_buf, in_buf + take, in_len - take);
      in_len -= take;
      len -= (long)take;
      continue;
    }
    ssize_t n = read(CTL_IN, in_buf, sizeof in_buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("file payload truncated");
    in_len = (size_t)n;
  }
}

static int name_ok(const char *name) {
  if (!name[0] || name[0] == '.' || strlen(name) > 128) return 0;
  for (const char *p = name; *p; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

static void handle_file(const char *header) {
  long size = 0;
  unsigned mode = 0;
  char name[256];
  if (sscanf(header, "F %ld %o %255s", &size, &mode, name) != 3 || size < 0 || size > FILE_BYTES_MAX ||
      !name_ok(name)) {
    errno = EINVAL;
    die("bad F header");
  }
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 0755);
  if (fd < 0) die("create file");
  copy_payload(fd, size);
  close(fd);
}

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void set_limit(int resource, unsigned long long soft, unsigned long long hard) {
  struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
  if (setrlimit(resource, &rl) != 0) _exit(112);
}

struct phase {
  int mode;
  long cpu_ms, wall_ms, as_kb, fsize_kb, nofile, nproc;
  int argc, envc;
  char *argv[ARGS_MAX + 1];
  char *envp[ARGS_MAX + 1];
};

// Runs in the forked child: limits, priority, stdio, then exec. Never returns.
static void child_exec(struct phase *ph, int pty_slave, int capture_w) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  if (ph->mode == 1) {
    ioctl(pty_slave, TIOCSCTTY, 0);
    dup2(pty_slave, 0);
    dup2(pty_slave, 1);
    dup2(pty_slave, 2);
    if (pty_slave > 2) close(pty_slave);
  } else if (ph->mode == 2) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(capture_w, 1);
    dup2(capture_w, 2);
  }
  // Lowest CPU and I/O priority: the person sitting at the lab PC always comes first.
  setpriority(PRIO_PROCESS, 0, 19);
  syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (3 << 13) /* IOPRIO_CLASS_IDLE */);
  if (ph->cpu_ms > 0) {
    unsigned long long s = (unsigned long long)((ph->cpu_ms + 999) / 1000);
    set_limit(RLIMIT_CPU, s, s + 1);
  }
  if (ph->as_kb > 0) set_limit(RLIMIT_AS, (unsigned long long)ph->as_kb * 1024, (unsigned long long)ph->as_kb * 1024);
  if (ph->fsize_kb > 0)
    set_limit(RLIMIT_FSIZE, (unsigned long long)ph->fsize_kb * 1024, (unsigned long long)ph->fsize_kb * 1024);
  if (ph->nofile > 0) set_limit(RLIMIT_NOFILE, (unsigned long long)ph->nofile, (unsigned long long)ph->nofile);
  if (ph->nproc > 0) set_limit(RLIMIT_NPROC, (unsigned long long)ph->nproc, (unsigned long long)ph->nproc);
  set_limit(RLIMIT_CORE, 0, 0);
  execve(ph->argv[0], ph->argv, ph->envp);
  fprintf(stderr, "codearena: cannot start %s: %s\n", ph->argv[0], strerror(errno));
  _exit(127);
}

static int open_pty(int *slave_out) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) die("open pty");
  char *name = ptsname(master);
  if (!name) die("ptsname");
  int slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) die("open pty slave");
  struct termios t;
  if (tcgetattr(slave, &t) == 0) {
    // No echo: the client shows what the student types. No output processing: the bytes the
    // program writes reach the client unchanged ("\n" stays "\n").
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    t.c_oflag &= ~(tcflag_t)OPOST;
    tcsetattr(slave, TCSANOW, &t);
  }
  struct winsize ws = {.ws_row = 24, .ws_col = 80};
  ioctl(slave, TIOCSWINSZ, &ws);
  *slave_out = slave;
  return master;
}

// Kills every other process in the sandbox and reaps them all.
static void kill_rest(void) {
  kill(-1, SIGKILL);
  while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR) {
  }
}

static void send_frame(const char *data, size_t len) {
  report("O %zu\n", len);
  write_all(CTL_OUT, data, len);
}

static void run_phase(struct phase *ph, int sigfd) {
  int pty_master = -1, pty_slave = -1, cap[2] = {-1, -1};
  if (ph->mode == 1) pty_master = open_pty(&pty_slave);
  if (ph->mode == 2 && pipe2(cap, O_CLOEXEC) != 0) die("pipe");
  long long start = now_us();
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) child_exec(ph, pty_slave, cap[1]);
  if (pty_slave >= 0) close(pty_slave);
  if (cap[1] >= 0) close(cap[1]);

  long long deadline = ph->wall_ms > 0 ? start + ph->wall_ms * 1000LL : 0;
  int status = 0, exited = 0, wall_hit = 0, stdin_open = (ph->mode == 1), ctl_open = 1;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  char buf[RELAY_BUF_BYTES];
  int relay_fd = ph->mode == 1 ? pty_master : cap[0];

  while (!exited) {
    struct pollfd fds[4];
    int nfds = 0;
    fds[nfds++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
    int relay_idx = -1, stdin_idx = -1, ctl_idx = -1;
    if (ctl_open) { ctl_idx = nfds; fds[nfds++] = (struct pollfd){.fd = CTL_IN, .events = POLLIN}; }
    if (relay_fd >= 0) { relay_idx = nfds; fds[nfds++] = (struct pollfd){.fd = relay_fd, .events = POLLIN}; }
    if (stdin_open) { stdin_idx = nfds; fds[nfds++] = (struct pollfd){.fd = 0, .events = POLLIN}; }
    int timeout_ms = -1;
    if (deadline) {
      long long left = deadline - now_us();
      if (left <= 0) {
        wall_hit = 1;
        kill(-1, SIGKILL);
        timeout_ms = -1;
        deadline = 0;
      } else {
        timeout_ms = (int)((left + 999) / 1000);
      }
    }
    int n = poll(fds, (nfds_t)nfds, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("poll");
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
      }
      pid_t w;
      int st;
      struct rusage r;
      while ((w = wait4(-1, &st, WNOHANG | __WALL, &r)) > 0) {
        if (w == pid) { status = st; ru = r; exited = 1; }
      }
    }
    if (relay_idx >= 0 && (fds[relay_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(relay_fd, buf, sizeof buf);
      if (got > 0) {
        if (ph->mode == 1) write_all(1, buf, (size_t)got);
        else send_frame(buf, (size_t)got);
      } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        if (ph->mode == 2) { close(relay_fd); cap[0] = -1; }
        relay_fd = -1;  // pty: EIO until the child exits; reap then
      }
    }
    if (ctl_idx >= 0 && (fds[ctl_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      // The host sends nothing but K while a phase runs; EOF means it is gone (bwrap's
      // --die-with-parent ends the sandbox then), so stop watching.
      if (in_len == sizeof in_buf) { errno = E2BIG; die("control line too long"); }
      ssize_t got = read(CTL_IN, in_buf + in_len, sizeof in_buf - in_len);
      if (got > 0) {
        in_len += (size_t)got;
        char *nl;
        while ((nl = memchr(in_buf, '\n', in_len)) != NULL) {
          size_t len = (size_t)(nl - in_buf);
          if (len != 1 || in_buf[0] != 'K') { errno = EINVAL; die("only K may come during a phase"); }
          memmove(in_buf, nl + 1, in_len - len - 1);
          in_len -= len + 1;
          kill(-1, SIGKILL);
        }
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        ctl_open = 0;
      }
    }
    if (stdin_idx >= 0 && (fds[stdin_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(0, buf, sizeof buf);
      if (got > 0) {
        write_all(pty_master, buf, (size_t)got);
      } else if (got == 0 || errno != EINTR) {
        char eof = 4;  // ^D at the start of a line: the program reads end of file
        write_all(pty_master, &eof, 1);
        stdin_open = 0;
      }
    }
  }
  long long wall = now_us() - start;
  kill_rest();
  // Everything in the sandbox is gone, so the relay only holds what was already written.
  int drain_fd = ph->mode == 1 ? pty_master : cap[0];
  if (drain_fd >= 0) {
    fcntl(drain_fd, F_SETFL, fcntl(drain_fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
      ssize_t got = read(drain_fd, buf, sizeof buf);
      if (got <= 0) break;
      if (ph->mode == 1) write_all(1, buf, (size_t)got);
      else send_frame(buf, (size_t)got);
    }
    close(drain_fd);
  }
  if (ph->mode != 2) {
    close(0);
    close(1);
    close(2);
  }
  long long cpu = (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec +
                  (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  report("X %d %d %lld %lld %ld %d\n", code, sig, cpu, wall, ru.ru_maxrss, wall_hit);
}

static char *dup_line(void) {
  char line[LINE_MAX_BYTES];
  if (!read_line(line, sizeof line)) { errno = EPIPE; die("phase truncated"); }
  char *s = strdup(line);
  if (!s) die("strdup");
  return s;
}

static void handle_run(const char *header, int sigfd) {
  struct phase ph;
  memset(&ph, 0, sizeof ph);
  if (sscanf(header, "R %d %ld %ld %ld %ld %ld %ld %d %d", &ph.mode, &ph.cpu_ms, &ph.wall_ms, &ph.as_kb,
             &ph.fsize_kb, &ph.nofile, &ph.nproc, &ph.argc, &ph.envc) != 9 ||
      ph.mode < 0 || ph.mode > 2 || ph.argc < 1 || ph.argc > ARGS_MAX || ph.envc < 0 || ph.envc > ARGS_MAX) {
    errno = EINVAL;
    die("bad R header");
  }
  for (int i = 0; i < ph.argc; i++) ph.argv[i] = dup_line();
  for (int i = 0; i < ph.envc; i++) ph.envp[i] = dup_line();
  run_phase(&ph, sigfd);
  for (int i = 0; i < ph.argc; i++) free(ph.argv[i]);
  for (int i = 0; i < ph.envc; i++) free(ph.envp[i]);
  if (ph.mode != 2) _exit(0);
}

int main(void) {
  if (fcntl(CTL_IN, F_SETFD, FD_CLOEXEC) != 0 || fcntl(CTL_OUT, F_SETFD, FD_CLOEXEC) != 0) {
    fprintf(stderr, "ca-init: control fds 3 and 4 are missing\n");
    return 111;
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) die("signalfd");
  if (chdir("/work") != 0) die("chdir /work");
  // ca-init itself stays at the priority it was started with: it relays an interactive run's
  // keystrokes and output, a few microseconds of work each, and at nice 19 beside the programs it
  // made echo latency worse (measured: 100 sessions' p99 65-132 ms vs 40-72 ms).
  report("READY\n");
  char line[LINE_MAX_BYTES];
  while (read_line(line, sizeof line)) {
    switch (line[0]) {
      case 'F': handle_file(line); break;
      case 'R': handle_run(line, sigfd); break;
      case 'K': break;  // a stop that crossed the end of its phase
      case 'Q': return 0;
      default: errno = EINVAL; die("unknown control command");
    }
  }
  return 0;
}
