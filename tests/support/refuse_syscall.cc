// refuse_syscall NAME PROGRAM [ARGS...]: runs PROGRAM where one system call fails with EPERM, so
// tests can prove a fallback: io_uring_setup (as under Docker's default seccomp profile since
// Docker 25) or bpf (as in a container without CAP_BPF).
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  const char* usage = "usage: refuse_syscall io_uring_setup|bpf PROGRAM [ARGS...]\n";
  if (argc < 3) {
    std::fprintf(stderr, "%s", usage);
    return 2;
  }
  unsigned nr;
  if (std::strcmp(argv[1], "io_uring_setup") == 0) nr = __NR_io_uring_setup;
  else if (std::strcmp(argv[1], "bpf") == 0) nr = __NR_bpf;
  else {
    std::fprintf(stderr, "refuse_syscall: unknown system call '%s'\n%s", argv[1], usage);
    return 2;
  }
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    std::fprintf(stderr, "refuse_syscall: seccomp: %s\n", std::strerror(errno));
    return 1;
  }
  execvp(argv[2], argv + 2);
  std::fprintf(stderr, "refuse_syscall: %s: %s\n", argv[2], std::strerror(errno));
  return 127;
}
