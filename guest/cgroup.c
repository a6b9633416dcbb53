/*
 * guest/cgroup.c: the cgroup that holds user code (PID 1 mode only).
 *
 * Under cgroup2 at /sys/fs/cgroup, sbx-init stays in the root cgroup and
 * puts everything it starts in /sys/fs/cgroup/user, whose memory.max and
 * pids.max leave room for the agent: a fork bomb or an OOM hits user code,
 * never PID 1. Each exec, background process and context runner gets its
 * own child cgroup, so a timeout or a cancel kills the whole tree at once
 * with cgroup.kill, even processes that left the process group.
 */
#include "guest/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"
#define AGENT_RESERVE (48ull << 20) /* memory kept out of user code's reach */
#define USER_PIDS_MAX "4096"

static int write_file(const char *dir, const char *file, const char *val)
{
	char p[AGENT_PATH_MAX + 64];
	int fd, r = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* MemTotal from /proc/meminfo in bytes, 0 if unknown. */
static unsigned long long mem_total(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/*
 * Creates /sys/fs/cgroup/user with memory and pids limits and records it in
 * ag->cgroup. Without cgroup2 the agent runs on without (ag->cgroup "").
 */
int cgroup_setup(struct agent *ag)
{
	char user[] = CG_ROOT "/user", val[32];
	unsigned long long mem = mem_total();
	int r;

	ag->cgroup[0] = 0;
	r = write_file(CG_ROOT, "cgroup.subtree_control", "+memory +pids");
	if (r < 0)
		r = write_file(CG_ROOT, "cgroup.subtree_control", "+pids");
	if (r < 0)
		return r;
	if (mkdir(user, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mem > 2 * AGENT_RESERVE) {
		snprintf(val, sizeof(val), "%llu", mem - AGENT_RESERVE);
		write_file(user, "memory.max", val);
		write_file(user, "memory.oom.group", "0");
	}
	write_file(user, "pids.max", USER_PIDS_MAX);
	write_file(user, "cgroup.subtree_control", "+memory +pids");
	snprintf(ag->cgroup, sizeof(ag->cgroup), "%s", user);
	return 0;
}

/* Makes a fresh child cgroup of the user cgroup; its path goes to path. */
int cgroup_new(struct agent *ag, char *path, size_t cap)
{
	static unsigned seq;
	unsigned n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);

	snprintf(path, cap, "%s/t%u", ag->cgroup, n);
	if (mkdir(path, 0755) < 0) {
		path[0] = 0;
		return -errno;
	}
	return 0;
}

/* Kills every process in the cgroup: cgroup.kill, else one by one. */
void cgroup_kill(const char *path)
{
	char p[AGENT_PATH_MAX + 32];
	FILE *f;
	int pid;

	if (write_file(path, "cgroup.kill", "1") == 0)
		return;
	snprintf(p, sizeof(p), "%s/cgroup.procs", path);
	f = fopen(p, "re");
	if (!f)
		return;
	while (fscanf(f, "%d", &pid) == 1)
		kill(pid, SIGKILL);
	fclose(f);
}

/* Removes the cgroup, killing what is left in it first. */
void cgroup_remove(const char *path)
{
	int i;

	for (i = 0; i < 40; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			return;
		cgroup_kill(path);
		usleep(5000);
	}
}
