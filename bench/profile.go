package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"
)

// freeLoopbackAddr returns a loopback address with a port the kernel just handed out.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// profiling takes, over one phase of the bench, the client's CPU profile and the dbserver's
// (from its --pprof-listen), then the dbserver's block and mutex profiles.
type profiling struct {
	dir, addr string
	client    *os.File
	server    chan error
}

// startProfiling starts both CPU profiles; the dbserver's lasts d.
func startProfiling(ctx context.Context, dir, addr string, d time.Duration) (*profiling, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "client.cpu.pprof"))
	if err != nil {
		return nil, err
	}
	runtime.SetBlockProfileRate(int((100 * time.Microsecond).Nanoseconds()))
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	p := &profiling{dir: dir, addr: addr, client: f, server: make(chan error, 1)}
	secs := max(1, int(d.Seconds()))
	go func() {
		p.server <- fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), filepath.Join(dir, "server.cpu.pprof"))
	}()
	return p, nil
}

// stop ends the client's profile, waits for the dbserver's and fetches its block and mutex
// profiles.
func (p *profiling) stop(ctx context.Context) error {
	pprof.StopCPUProfile()
	errs := []error{p.client.Close(), <-p.server}
	for _, name := range []string{"block", "mutex"} {
		errs = append(errs, fetchProfile(ctx, "http://"+p.addr+"/debug/pprof/"+name, filepath.Join(p.dir, "server."+name+".pprof")))
	}
	if f, err := os.Create(filepath.Join(p.dir, "client.block.pprof")); err == nil {
		errs = append(errs, pprof.Lookup("block").WriteTo(f, 0), f.Close())
	}
	runtime.SetBlockProfileRate(0)
	return errors.Join(errs...)
}

// fetchProfile saves what url answers to path.
func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
