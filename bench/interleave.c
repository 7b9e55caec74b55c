// Runs several commands in turn, round after round, and prints for each the median wall time
// (fork to reaped), its quartiles and the median of its minor page faults, as one JSON line each.
// Interleaving puts every command under the same machine noise, which on a small VM moves a
// sequential run's medians by more than the differences being measured (bench/programs.ts).
//   interleave ROUNDS -- CMD1 ARGS... ::: CMD2 ARGS... ::: ...
// Commands are exec'd directly (absolute paths) with stdin, stdout and stderr on /dev/null; five
// warm-up rounds are not counted. Exits 1 if any run of a command fails, naming it.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: interleave ROUNDS -- CMD ARGS... [::: CMD ARGS...]...\n");
    return 2;
  }
  int rounds = atoi(argv[1]);
  char **cmds[64];
  int count = 0;
  cmds[count++] = &argv[3];
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], ":::") == 0) {
      if (count == 64) return 2;
      argv[i] = NULL;
      cmds[count++] = &argv[i + 1];
    }
  }
  double *wall = calloc((size_t)count * rounds, sizeof(double));
  double *faults = calloc((size_t)count * rounds, sizeof(double));
  int *failed = calloc(count, sizeof(int));
  int devnull = open("/dev/null", O_RDWR);
  for (int r = -5; r < rounds; r++) {
    for (int c = 0; c < count; c++) {
      struct timespec start, end;
      clock_gettime(CLOCK_MONOTONIC, &start);
      pid_t pid = fork();
      if (pid == 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execv(cmds[c][0], cmds[c]);
        _exit(127);
      }
      int status;
      struct rusage usage;
      wait4(pid, &status, 0, &usage);
      clock_gettime(CLOCK_MONOTONIC, &end);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed[c]++;
      if (r < 0) continue;
      wall[c * rounds + r] = (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6;
      faults[c * rounds + r] = usage.ru_minflt;
    }
  }
  int status = 0;
  for (int c = 0; c < count; c++) {
    double *w = wall + c * rounds, *f = faults + c * rounds;
    qsort(w, rounds, sizeof(double), by_value);
    qsort(f, rounds, sizeof(double), by_value);
    printf("{\"median_ms\":%.4f,\"p25_ms\":%.4f,\"p75_ms\":%.4f,\"minor_faults\":%.0f,\"failed\":%d}\n", w[rounds / 2], w[rounds / 4], w[3 * rounds / 4], f[rounds / 2], failed[c]);
    if (failed[c]) {
      fprintf(stderr, "interleave: %s failed %d of %d runs\n", cmds[c][0], failed[c], rounds + 5);
      status = 1;
    }
  }
  return status;
}
