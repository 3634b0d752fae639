/* The e2e initramfs's /init: freestanding i386, no libc. Prints one line on the console and restarts
 * the machine (QEMU with -no-reboot then exits); tinyconfig has no ACPI, so power-off would hang. */
#define SYS_write 4
#define SYS_reboot 88
#define LINUX_REBOOT_MAGIC1 0xfee1deadL
#define LINUX_REBOOT_MAGIC2 672274793L
#define LINUX_REBOOT_CMD_RESTART 0x01234567L

static long syscall4(long n, long a, long b, long c, long d) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
  return r;
}

void _start(void) {
  static const char line[] = "previrt-e2e: init reached user space\n";
  syscall4(SYS_write, 1, (long)line, sizeof line - 1, 0);
  syscall4(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART, 0);
  for (;;) {}
}
