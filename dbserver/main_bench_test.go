package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSlowReaders measures what readers that do not read cost the real dbserver binary,
// run as in a 128 Mi pod (GOMEMLIMIT=115MiB): 10,000 documents of about 1 KB (a 10 MB page),
// then 50 connections that each ask for the whole collection (max=10000) and never read a
// byte, then 200 GETs by id from a normal client. It reports the peak RSS over the whole run
// after loading (sampled every 20 ms) and its anonymous part (without the database's memory
// map), the probe's p99, and how many of the slow clients were
// refused with 503 (BENCH_MAX_CONNECTIONS sets --max-connections). One sub-benchmark per kind
// of page the slow clients ask for: plain, a full-text filter every document matches, a $fields
// projection, groupby. One run per invocation: the setup is the measurement, so b.N is not used.
func BenchmarkSlowReaders(b *testing.B) {
	for _, c := range []struct{ name, query string }{
		{"plain", "max=10000"},
		{"filter", "max=10000&filter=lorem+amet"},
		{"fields", "max=10000&h=" + url.QueryEscape(`{"$fields":{"n":1,"text":1}}`)},
		{"groupby", "max=10000&groupby=n"},
	} {
		b.Run(c.name, func(b *testing.B) { slowReaders(b, c.query) })
	}
}

func slowReaders(b *testing.B, query string) {
	const (
		docs     = 10000
		slow     = 50
		probes   = 200
		memLimit = "115MiB"
	)
	dir := b.TempDir()
	args := []string{"serve", "--listen=127.0.0.1:0", "--data-dir=" + dir}
	if n := os.Getenv("BENCH_MAX_CONNECTIONS"); n != "" {
		args = append(args, "--max-connections="+n)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	var host string
	select {
	case host = <-addr:
	case <-time.After(30 * time.Second):
		b.Fatal("dbserver did not listen")
	}
	keyRaw, err := os.ReadFile(filepath.Join(dir, "api-key"))
	if err != nil {
		b.Fatal(err)
	}
	apiKey := strings.TrimSpace(string(keyRaw))
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+host+path, strings.NewReader(body))
		req.Header.Set("x-apikey", apiKey)
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out)
	}

	// Load: bulk creates of 500 documents (about 500 KB each).
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 36)
	var firstID string
	for i := 0; i < docs; i += 500 {
		var body bytes.Buffer
		body.WriteString("[")
		for j := range 500 {
			if j > 0 {
				body.WriteString(",")
			}
			fmt.Fprintf(&body, `{"n":%d,"text":%q}`, i+j, filler)
		}
		body.WriteString("]")
		status, out := do("POST", "/rest/big", body.String())
		if status != http.StatusCreated {
			b.Fatalf("loading: %d %.200s", status, out)
		}
		if firstID == "" {
			var created []map[string]any
			_ = json.Unmarshal([]byte(out), &created)
			firstID, _ = created[0]["_id"].(string)
		}
	}

	pid := cmd.Process.Pid
	peak, _ := rssMiB(b, pid)
	loaded := peak
	stop := make(chan struct{})
	sampled := make(chan [2]float64)
	go func() {
		p, anon := peak, 0.0
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sampled <- [2]float64{p, anon}
				return
			case <-tick.C:
				rss, a := rssMiB(b, pid)
				p, anon = max(p, rss), max(anon, a)
			}
		}
	}()

	// The slow readers: a small receive buffer, the request, and then nothing.
	conns := make([]net.Conn, 0, slow)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range slow {
		c, err := net.Dial("tcp", host)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /rest/big?%s HTTP/1.1\r\nHost: x\r\nx-apikey: %s\r\n\r\n", query, apiKey)
		conns = append(conns, c)
	}
	// Give the server time to produce what it will for them.
	time.Sleep(3 * time.Second)

	lat := make([]time.Duration, 0, probes)
	failed := 0
	for range probes {
		t0 := time.Now()
		status, _ := do("GET", "/rest/big/"+firstID, "")
		lat = append(lat, time.Since(t0))
		if status != http.StatusOK {
			failed++
		}
	}
	// How many slow clients got a 503 (read with a deadline: the others never answer in time).
	refused := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		buf := make([]byte, 16)
		if n, _ := io.ReadFull(c, buf); n >= 12 && string(buf[9:12]) == "503" {
			refused++
		}
	}
	close(stop)
	peaks := <-sampled
	peak = peaks[0]
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	b.ReportMetric(loaded, "loaded-RSS-MiB")
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(peaks[1], "peak-anon-RSS-MiB")
	b.ReportMetric(float64(p99.Microseconds())/1000, "probe-p99-ms")
	b.ReportMetric(float64(failed), "probes-failed")
	b.ReportMetric(float64(refused), "slow-clients-503")
}

// rssMiB reads a process's resident set size from /proc, and the anonymous part of it: the
// rest is file pages, most of them the database's memory map, which the kernel can reclaim
// (they are page cache, not the process's own memory).
func rssMiB(b *testing.B, pid int) (rss, anon float64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	kib := func(rest string) float64 {
		kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		return float64(kb) / 1024
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = kib(rest)
		}
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			anon = kib(rest)
		}
	}
	return rss, anon
}
