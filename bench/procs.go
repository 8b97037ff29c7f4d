package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/restkube/restkube/internal/benchdoc"
)

// The harness starts two kinds of child process: the floor server (this same binary, with
// roleEnv set) and the real dbserver. Both listen on 127.0.0.1 only.

const roleEnv = "RESTKUBE_BENCH_ROLE"

// floorDoc is what the floor server answers: a small fixed JSON document.
const floorDoc = `{"_id":"6a0b1c2d3e4f5a6b7c8d9e0f","name":"floor","n":1,"done":false}`

// floorPagePath answers floorPage: a fixed page of 20 documents shaped like the indexed
// query's answer, to tell what an answer of that size costs the HTTP stack alone.
const floorPagePath = "/rest/floor-page"

func floorPage() []byte {
	docs := make([]map[string]any, 20)
	for i := range docs {
		docs[i] = benchdoc.Doc(i)
		docs[i]["_id"] = fmt.Sprintf("6a0b1c2d3e4f5a6b7c8d%04x", i)
	}
	b, _ := json.Marshal(docs)
	return append(b, '\n')
}

// maybeRunRole runs the child role named in the environment, if any, and reports whether it did.
func maybeRunRole() bool {
	if os.Getenv(roleEnv) != "floor" {
		return false
	}
	if err := serveFloor(); err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		os.Exit(1)
	}
	return true
}

// serveFloor serves floorDoc on a loopback port, prints the address on stdout, and stops when
// stdin closes (the parent went away).
func serveFloor() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	page := floorPage()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.URL.Path == floorPagePath {
			_, _ = w.Write(page)
			return
		}
		_, _ = io.WriteString(w, floorDoc)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// child is a started server process.
type child struct {
	cmd   *exec.Cmd
	addr  string
	stdin io.WriteCloser
	done  chan struct{}

	mu   sync.Mutex
	tail []string // last lines of its stderr, for error messages
}

// startFloor starts this binary as the floor server.
func startFloor(ctx context.Context) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe) //nolint:gosec // G204: this very binary, in its floor-server role
	cmd.Env = append(os.Environ(), roleEnv+"=floor")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the floor server: %w", err)
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			addr <- strings.TrimSpace(sc.Text())
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case c.addr = <-addr:
		return c, nil
	case <-c.done:
		return nil, errors.New("the floor server exited before listening")
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, errors.New("the floor server did not start within 30s")
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// buildDBServer builds ./dbserver of this module into dir.
func buildDBServer(ctx context.Context, dir string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(dir, "dbserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./dbserver") //nolint:gosec // G204: bin is a path in the harness's own temp dir
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the dbserver: %w\n%s", err, out)
	}
	return bin, nil
}

// startDBServer starts the dbserver binary on a free loopback port with its own data dir and
// a config dir holding settings.json, api-key and signing-key, and waits until it is ready.
func startDBServer(ctx context.Context, bin, dir, settingsJSON, apiKey, logLevel string, client *http.Client, extra ...string) (*child, error) {
	cfgDir, dataDir := filepath.Join(dir, "config"), filepath.Join(dir, "data")
	for _, d := range []string{cfgDir, dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	files := map[string]string{"settings.json": settingsJSON, "api-key": apiKey, "signing-key": apiKey + "-signing"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(cfgDir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	// A port the kernel just handed out and released; on loopback nobody else takes it first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	args := append([]string{"serve", "--data-dir=" + dataDir, "--config-dir=" + cfgDir, "--listen=" + addr, "--log-level=" + logLevel}, extra...)
	cmd := exec.Command(bin, args...) //nolint:gosec // G204: the dbserver the harness built or was given
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the dbserver: %w", err)
	}
	c := &child{cmd: cmd, addr: addr, done: make(chan struct{})}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.tail = append(c.tail, sc.Text())
			if len(c.tail) > 20 {
				c.tail = c.tail[1:]
			}
			c.mu.Unlock()
		}
	}()
	go func() { <-drained; _ = cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := do(ctx, client, http.MethodGet, "http://"+addr+"/readyz", "", nil, http.StatusOK)
		if err == nil {
			return c, nil
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("the dbserver exited before it was ready:\n%s", c.stderrTail())
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("the dbserver was not ready within 60s (%w):\n%s", err, c.stderrTail())
		}
	}
}

func (c *child) stderrTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// stop ends the child: SIGTERM (the dbserver drains and closes its store), then SIGKILL if it
// has not exited within 15s.
func (c *child) stop() {
	if c.stdin != nil {
		_ = c.stdin.Close()
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// peakRSS reads the process's peak resident set size (VmHWM) in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}
