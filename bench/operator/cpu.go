package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// On two saturated cores the time to reconcile a thousand Databases moves by ±10% from run to
// run; the CPU the processes spend on it moves much less, so the bench reports both. A change
// that saves CPU shows there first.

// clockTicks is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuAccount names the processes whose CPU the bench reports.
type cpuAccount struct {
	names []string
	pids  []int
}

// newCPUAccount finds kube-apiserver and etcd (by their executables under assets) and adds
// the manager and the bench itself.
func newCPUAccount(assets string, managerPid int) *cpuAccount {
	a := &cpuAccount{}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		// kube-apiserver may be a link to a binary that holds all of Kubernetes (bin/k8s): the
		// executable is matched after the link, the name in argv[0] before it.
		want, err := filepath.EvalSymlinks(filepath.Join(assets, bin))
		if err != nil {
			continue
		}
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			if err != nil || exe != want {
				continue
			}
			argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if arg0, _, _ := strings.Cut(string(argv), "\x00"); filepath.Base(arg0) == bin {
				a.names, a.pids = append(a.names, bin), append(a.pids, pid)
			}
		}
	}
	a.names, a.pids = append(a.names, "manager", "bench"), append(a.pids, managerPid, os.Getpid())
	return a
}

// cpuSample is each process's CPU time (user and system) and the machine's, at one moment.
type cpuSample struct {
	at      time.Time
	procs   []time.Duration
	machine time.Duration // busy time of all CPUs, from /proc/stat
}

func (a *cpuAccount) sample() cpuSample {
	s := cpuSample{at: time.Now(), procs: make([]time.Duration, len(a.pids))}
	for i, pid := range a.pids {
		s.procs[i] = procCPU(pid)
	}
	s.machine = machineBusy()
	return s
}

// report prints what each process spent between from and to, per Database.
func (a *cpuAccount) report(from, to cpuSample, n int) {
	wall := to.at.Sub(from.at)
	var sum time.Duration
	for i, name := range a.names {
		d := to.procs[i] - from.procs[i]
		sum += d
		fmt.Printf("    %-50s %10.1f ms/Database  (%3.0f%% of a core)\n", name, ms(d)/float64(n), 100*d.Seconds()/wall.Seconds())
	}
	busy := to.machine - from.machine
	fmt.Printf("    %-50s %10.1f ms/Database\n", "these together", ms(sum)/float64(n))
	fmt.Printf("    %-50s %10.1f ms/Database  (%3.0f%% of a core)\n", "the whole machine (busy, /proc/stat)", ms(busy)/float64(n), 100*busy.Seconds()/wall.Seconds())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procCPU returns the user and system time pid has used; 0 when it cannot be read.
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis
	// start with field 3, so utime and stime (14 and 15) are at 11 and 12.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / clockTicks
}

// machineBusy returns the time all CPUs have spent on anything but idle and iowait.
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest times are already in user
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}
