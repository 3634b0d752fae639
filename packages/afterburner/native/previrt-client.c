/*
 * previrt's native front end, compiled on first use by `previrt cc` (see src/native.ts). One binary,
 * three roles chosen by the name it is run under:
 *   as       the assembler shim that gcc finds through -B: it asks the long-lived previrt server
 *            (a Node process on a Unix socket, started here on demand under a lock) for a plan, then
 *            runs the real GNU as itself, so a build pays Node's start-up once, not once per object;
 *   previrt  `previrt cc <compiler> [args]` runs the compiler with -B<shim dir>/ without starting
 *            Node; any other command is handed to the Node CLI.
 * When the server cannot be reached the shim runs the Node CLI (`previrt as ...`) in-process.
 *
 * Compile-time settings (-D): PREVIRT_SOCKET, PREVIRT_NODE, PREVIRT_SERVER_JS, PREVIRT_CLI_JS,
 * PREVIRT_SHIM_DIR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct buf { char *data; size_t len, cap; };

static void buf_add(struct buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + n) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) { perror("previrt"); exit(70); }
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void item(struct buf *b, const char *key, const char *value) {
  buf_add(b, key, strlen(key));
  buf_add(b, "=", 1);
  buf_add(b, value, strlen(value) + 1);
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    c += w; n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t r = read(fd, c, n);
    if (r < 0) { if (errno == EINTR) continue; return -1; }
    if (r == 0) return -1;
    c += r; n -= (size_t)r;
  }
  return 0;
}

static int send_frame(int fd, struct buf *b) {
  unsigned char head[4] = { b->len & 255, (b->len >> 8) & 255, (b->len >> 16) & 255, (b->len >> 24) & 255 };
  if (write_all(fd, head, 4) < 0) return -1;
  return write_all(fd, b->data, b->len);
}

/* Reads one frame; returns its length and sets *out (NUL-terminated items), or -1. */
static long read_frame(int fd, char **out) {
  unsigned char head[4];
  if (read_all(fd, head, 4) < 0) return -1;
  size_t len = head[0] | (head[1] << 8) | (head[2] << 16) | ((size_t)head[3] << 24);
  char *p = malloc(len + 1);
  if (!p) return -1;
  if (read_all(fd, p, len) < 0) { free(p); return -1; }
  p[len] = 0;
  *out = p;
  return (long)len;
}

static int try_connect(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(PREVIRT_SOCKET) >= sizeof addr.sun_path) { close(fd); return -1; }
  strcpy(addr.sun_path, PREVIRT_SOCKET);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  close(fd);
  return -1;
}

static void sleep_ms(int ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* Starts the server detached from the build (own session, no inherited descriptors). */
static void start_server(void) {
  pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    int devnull = open("/dev/null", O_RDWR);
    int log = open(PREVIRT_SOCKET ".log", O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(log >= 0 ? log : devnull, 2);
    for (int fd = 3; fd < 1024; fd++) close(fd);
    execl(PREVIRT_NODE, PREVIRT_NODE, PREVIRT_SERVER_JS, PREVIRT_SOCKET, (char *)NULL);
    _exit(127);
  }
  waitpid(pid, NULL, 0);
}

/* A connection to the server, starting it (once, under a lock) when nobody answers; -1 on failure. */
static int connect_server(void) {
  int fd = try_connect();
  if (fd >= 0) return fd;
  int lock = open(PREVIRT_SOCKET ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock < 0) return -1;
  if (flock(lock, LOCK_EX) < 0) { close(lock); return -1; }
  fd = try_connect();
  if (fd < 0) {
    start_server();
    for (int waited = 0; waited < 10000 && fd < 0; waited += 5) {
      sleep_ms(5);
      fd = try_connect();
    }
  }
  flock(lock, LOCK_UN);
  close(lock);
  return fd;
}

static void exec_node_cli(const char *command, int argc, char **argv) {
  char **args = calloc((size_t)argc + 4, sizeof *args);
  int n = 0;
  args[n++] = PREVIRT_NODE;
  args[n++] = PREVIRT_CLI_JS;
  if (command) args[n++] = (char *)command;
  for (int i = 1; i < argc; i++) args[n++] = argv[i];
  args[n] = NULL;
  execv(PREVIRT_NODE, args);
  fprintf(stderr, "previrt: cannot run %s: %s\n", PREVIRT_NODE, strerror(errno));
  exit(127);
}

static int copy_stdin_to(const char *file) {
  int out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) return -1;
  char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r < 0) { if (errno == EINTR) continue; close(out); return -1; }
    if (r == 0) break;
    if (write_all(out, chunk, (size_t)r) < 0) { close(out); return -1; }
  }
  return close(out);
}

static const char *env_keys[] = { "PATH", "PREVIRT_AS", "PREVIRT_CC_SKIP", "PREVIRT_REWRITE_ALL", "PREVIRT_REPORT", "TMPDIR", NULL };

static int assembler_role(int argc, char **argv) {
  int fd = connect_server();
  if (fd < 0) exec_node_cli("as", argc, argv);
  struct buf req = { 0 };
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) { perror("previrt: getcwd"); return 70; }
  item(&req, "v", "1");
  item(&req, "cwd", cwd);
  for (int i = 1; i < argc; i++) item(&req, "arg", argv[i]);
  for (const char **k = env_keys; *k; k++) {
    const char *v = getenv(*k);
    if (!v) continue;
    struct buf kv = { 0 };
    buf_add(&kv, *k, strlen(*k));
    buf_add(&kv, "=", 1);
    buf_add(&kv, v, strlen(v) + 1);
    item(&req, "env", kv.data);
    free(kv.data);
  }
  char self[PATH_MAX];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl > 0) { self[sl] = 0; item(&req, "self", self); }
  if (send_frame(fd, &req) < 0) { close(fd); exec_node_cli("as", argc, argv); }

  char *frame;
  long len = read_frame(fd, &frame);
  if (len < 0) { close(fd); exec_node_cli("as", argc, argv); }
  if (strncmp(frame, "need-stdin=", 11) == 0) {
    if (copy_stdin_to(frame + 11) < 0) {
      fprintf(stderr, "previrt: cannot save standard input to %s: %s\n", frame + 11, strerror(errno));
      return 70;
    }
    struct buf done = { 0 };
    item(&done, "stdin-done", "1");
    free(frame);
    if (send_frame(fd, &done) < 0 || (len = read_frame(fd, &frame)) < 0) {
      fprintf(stderr, "previrt: the as server went away\n");
      return 70;
    }
  }
  close(fd);

  /* The plan. */
  const char *exec_path = NULL, *stdin_path = NULL, *rename_from = NULL, *rename_to = NULL;
  int exit_code = -1;
  char **args = calloc((size_t)len + 2, sizeof *args);
  char **unlinks = calloc((size_t)len + 1, sizeof *unlinks);
  int nargs = 1, nunlinks = 0;
  for (char *p = frame; p < frame + len; p += strlen(p) + 1) {
    char *eq = strchr(p, '=');
    if (!eq) continue;
    *eq = 0;
    char *v = eq + 1;
    if (!strcmp(p, "print")) write_all(2, v, strlen(v));
    else if (!strcmp(p, "out")) write_all(1, v, strlen(v));
    else if (!strcmp(p, "exit")) exit_code = atoi(v);
    else if (!strcmp(p, "exec")) exec_path = v;
    else if (!strcmp(p, "arg")) args[nargs++] = v;
    else if (!strcmp(p, "stdin")) stdin_path = v;
    else if (!strcmp(p, "rename")) rename_from = v;
    else if (!strcmp(p, "to")) rename_to = v;
    else if (!strcmp(p, "unlink")) unlinks[nunlinks++] = v;
    *eq = '=';
  }
  int status = 0, code = exit_code < 0 ? 70 : exit_code, sig = 0;
  if (exit_code < 0 && exec_path) {
    args[0] = "as";
    args[nargs] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
      if (stdin_path) {
        int in = open(stdin_path, O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0) { perror("previrt: stdin"); _exit(127); }
      }
      execv(exec_path, args);
      fprintf(stderr, "previrt: cannot run %s: %s\n", exec_path, strerror(errno));
      _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status)) code = WEXITSTATUS(status);
    else { sig = WTERMSIG(status); code = 128 + sig; }
    if (rename_from && rename_to) {
      if (code == 0) {
        if (rename(rename_from, rename_to) < 0) {
          fprintf(stderr, "previrt: cannot rename %s to %s: %s\n", rename_from, rename_to, strerror(errno));
          code = 1;
        }
      } else {
        /* GNU as deletes its object file when it fails: so does the drop-in. */
        unlink(rename_from);
        unlink(rename_to);
      }
    }
  }
  for (int i = 0; i < nunlinks; i++) unlink(unlinks[i]);
  if (sig) { signal(sig, SIG_DFL); raise(sig); }
  return code;
}

/*
 * Why this compile gets no records (mirrors skipReason in src/native.ts), or NULL: position-independent
 * code (the last -f[no-]pic/pie wins) and Linux vDSO objects (-DBUILD_VDSO...) are linked where
 * absolute records would be run-time relocations; PREVIRT_EXCLUDE lists output globs to leave alone.
 */
static const char *skip_reason(int argc, char **argv) {
  int pic = 0, vdso = 0;
  const char *output = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-fpic") || !strcmp(a, "-fPIC") || !strcmp(a, "-fpie") || !strcmp(a, "-fPIE")) pic = 1;
    else if (!strcmp(a, "-fno-pic") || !strcmp(a, "-fno-PIC") || !strcmp(a, "-fno-pie") || !strcmp(a, "-fno-PIE")) pic = 0;
    else if (!strncmp(a, "-DBUILD_VDSO", 12)) vdso = 1;
    else if (!strcmp(a, "-D") && i + 1 < argc && !strncmp(argv[i + 1], "BUILD_VDSO", 10)) vdso = 1;
    else if (!strcmp(a, "-o") && i + 1 < argc) output = argv[i + 1];
  }
  const char *exclude = getenv("PREVIRT_EXCLUDE");
  if (exclude && output) {
    char *list = strdup(exclude);
    for (char *g = strtok(list, ":"); g; g = strtok(NULL, ":")) {
      if (fnmatch(g, output, 0) == 0) { free(list); return "exclude"; }
    }
    free(list);
  }
  if (vdso) return "vdso";
  if (pic) return "pic";
  return NULL;
}

/* previrt cc <compiler> [args]: the compiler with -B<shim dir>/ so that it runs previrt's as. */
static int cc_role(int argc, char **argv) {
  /* argv[0]=previrt argv[1]=cc argv[2]=compiler */
  if (argc < 3 || argv[2][0] == '-') exec_node_cli(NULL, argc, argv);
  const char *skip = skip_reason(argc - 3, argv + 3);
  if (skip) setenv("PREVIRT_CC_SKIP", skip, 1);
  else unsetenv("PREVIRT_CC_SKIP");
  char **args = calloc((size_t)argc + 1, sizeof *args);
  int n = 0;
  args[n++] = argv[2];
  args[n++] = "-B" PREVIRT_SHIM_DIR "/";
  for (int i = 3; i < argc; i++) args[n++] = argv[i];
  args[n] = NULL;
  execvp(argv[2], args);
  fprintf(stderr, "previrt: cannot run %s: %s\n", argv[2], strerror(errno));
  return 127;
}

int main(int argc, char **argv) {
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  if (!strcmp(base, "previrt")) {
    if (argc >= 2 && !strcmp(argv[1], "cc")) return cc_role(argc, argv);
    exec_node_cli(NULL, argc, argv);
  }
  return assembler_role(argc, argv);
}
