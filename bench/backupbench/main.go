// Command backupbench measures an online backup against its targets, in one run on one disk:
//
//  1. the floor: copying the database file (read, write, fsync) to another file on the same disk;
//  2. a backup of the same database (backup.WriteFile: one read transaction, zstd, to a file on
//     the same disk, fsync), as bytes of database file per second: at least 50% of the floor
//     (the median of the interleaved rounds' ratios);
//  3. 16 writers inserting one document each, for a fixed time, during backups running back
//     to back, against the mean of a phase of writers alone before and after (interleaved
//     rounds; the median of the rounds' ratios): at least 70% of their throughput kept.
//     Also shown: the writers while the backups stream to io.Discard, as a dbserver's stream to
//     an object store, without the archive's writes and fsync on the writers' disk;
//  4. the process's RSS while the backups of 2 run, over the RSS before them (anonymous memory
//     and file-backed pages reported apart): at most 32 MiB of growth. The RSS during 3 is
//     shown too, but it also holds the pages of the documents the writers add (bbolt reads
//     its pages through its memory map), which a backup does not cause.
//
// The backups run as a dbserver runs them: at niceness +backup.BackgroundNice (-nice).
//
// It prints each round's figures, their medians and the targets. Usage:
// go run ./bench/backupbench [-docs N] [-dir DIR] (DIR must not hold a database yet).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restkube/restkube/dbserver/backup"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/benchdoc"
)

// nice is the niceness of the backups' thread (-nice).
var nice int

// pace makes the backups pace themselves against the writers, as a dbserver's do (-pace).
var pace bool

// rounds is how many interleaved rounds each measurement takes (-rounds); the targets use the
// median. Single phases of the writers swing by a factor of two on a shared machine (their
// throughput follows the disk's fsync latency), so three rounds let one bad phase decide.
var rounds int

func main() {
	docs := flag.Int("docs", 1_000_000, "documents in the database")
	dir := flag.String("dir", "", "work directory on the disk to measure, without a database in it (default a temp dir)")
	window := flag.Duration("window", 10*time.Second, "how long each writer phase runs")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.IntVar(&nice, "nice", backup.BackgroundNice, "niceness the backup's thread gets (the dbserver's is backup.BackgroundNice)")
	flag.IntVar(&rounds, "rounds", 9, "interleaved rounds of each measurement")
	flag.BoolVar(&pace, "pace", true, "backups pause while the writers' inserts go on, as a dbserver's do (WriteOptions.Activity)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*docs, *dir, *window); err != nil {
		fmt.Fprintln(os.Stderr, "backupbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(docs int, dir string, window time.Duration) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "restkube-backupbench-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(d) }()
		dir = d
	}
	dbPath := filepath.Join(dir, backup.DBMember)
	if _, err := os.Stat(dbPath); err == nil {
		return fmt.Errorf("%s exists: the bench builds its own database (and would add to this one)", dbPath)
	}
	if err := build(dbPath, docs); err != nil {
		return err
	}
	// Reopened, so that the mapping starts cold as in a dbserver that has just started.
	st, err := store.Open(dbPath, store.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	fi, err := os.Stat(dbPath)
	if err != nil {
		return err
	}
	size := fi.Size()
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }

	// 1 and 2, interleaved three times; each round's ratio, and the median. 4: the RSS while
	// the backups run, over the RSS before them.
	var copies, backups, speed []float64
	var archive int64
	runtime.GC()
	anon0, file0 := rss()
	var peakAnon, peakFile int64
	for range rounds {
		d, err := timeIt(func() error { return copyFile(dbPath, filepath.Join(dir, "copy.db")) })
		if err != nil {
			return err
		}
		copies = append(copies, mib(size)/d.Seconds())
		stopSampling := sampleRSS()
		d, err = timeIt(func() error {
			n, err := backupTo(st, filepath.Join(dir, "backup.tar.zst"))
			archive = n
			return err
		})
		a, f := stopSampling()
		peakAnon, peakFile = max(peakAnon, a), max(peakFile, f)
		if err != nil {
			return err
		}
		backups = append(backups, mib(size)/d.Seconds())
		speed = append(speed, backups[len(backups)-1]/copies[len(copies)-1])
	}
	_ = os.Remove(filepath.Join(dir, "copy.db"))

	// 3, and the RSS again, which now also holds the pages of the documents the writers add.
	runtime.GC()
	wAnon0, wFile0 := rss()
	// Rounds of writers during backups to a file and during backups to io.Discard, each
	// phase a third of the window, with a phase of writers alone before and after each:
	// interleaved, so that a change in the machine's load hits all sides alike, and each
	// ratio is to the mean of the two phases alone around it, so that a drift of the writers'
	// own speed does not count (the first phase after the build runs faster than the later
	// ones). Each round's ratios are its own; the target is their median.
	var alone, during, streamed, kept, keptStreamed, ref, refStreamed []float64
	stopSampling := sampleRSS()
	whileBackingUp := func(backupOnce func() error) float64 {
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // backups back to back while the writers run
			defer wg.Done()
			for !stop.Load() {
				if err := backupOnce(); err != nil {
					fmt.Fprintln(os.Stderr, "backup:", err)
					return
				}
			}
		}()
		defer wg.Wait()
		defer stop.Store(true)
		return writers(st, window/3, nil)
	}
	alone = append(alone, writers(st, window/3, nil))
	around := func() float64 { // the mean of the last phase alone and a new one
		alone = append(alone, writers(st, window/3, nil))
		return (alone[len(alone)-2] + alone[len(alone)-1]) / 2
	}
	for range rounds {
		during = append(during, whileBackingUp(func() error {
			_, err := backupTo(st, filepath.Join(dir, "backup.tar.zst"))
			return err
		}))
		ref = append(ref, around())
		kept = append(kept, during[len(during)-1]/ref[len(ref)-1])
		streamed = append(streamed, whileBackingUp(func() error {
			_, err := backup.Write(context.Background(), io.Discard, st.CopyFile, backupOptions(st))
			return err
		}))
		refStreamed = append(refStreamed, around())
		keptStreamed = append(keptStreamed, streamed[len(streamed)-1]/refStreamed[len(refStreamed)-1])
	}
	wAnon, wFile := stopSampling()
	grew, err := os.Stat(dbPath)
	if err != nil {
		return err
	}

	fmt.Printf("backup thread niceness +%d; pacing against the writers: %v\n", nice, pace)
	fmt.Printf("database: %d documents, %.0f MiB file; archive %.0f MiB (zstd)\n", docs, mib(size), mib(archive))
	fmt.Printf("%-8s %12s %12s %7s %12s %12s %7s %12s %12s %7s\n", "round", "copy MiB/s", "backup MiB/s", "speed",
		"alone /s", "during /s", "kept", "alone /s", "no disk /s", "kept")
	for i := range rounds {
		fmt.Printf("%-8d %12.0f %12.0f %7.2f %12.0f %12.0f %7.2f %12.0f %12.0f %7.2f\n", i+1, copies[i], backups[i], speed[i],
			ref[i], during[i], kept[i], refStreamed[i], streamed[i], keptStreamed[i])
	}
	fmt.Printf("%-8s %12.0f %12.0f %7.2f %12.0f %12.0f %7.2f %12.0f %12.0f %7.2f\n", "median", median(copies), median(backups), median(speed),
		median(ref), median(during), median(kept), median(refStreamed), median(streamed), median(keptStreamed))
	fmt.Printf("writers alone, each phase in order (\"alone\" above: the mean of the two around a phase): %.0f\n", alone)
	fmt.Printf("%-44s %7.1f MiB\n", "RSS growth during backups, anonymous", mib(peakAnon-anon0))
	fmt.Printf("%-44s %7.1f MiB\n", "RSS growth during backups, file-backed", mib(peakFile-file0))
	fmt.Printf("%-44s %7.1f MiB\n", "RSS growth in 3, anonymous", mib(wAnon-wAnon0))
	fmt.Printf("%-44s %7.1f MiB\n", "RSS growth in 3, file-backed", mib(wFile-wFile0))
	fmt.Printf("%-44s %7.1f MiB\n", "  of which the database grew by at most", mib(grew.Size()-size))
	target := func(name string, got, want float64, ok bool) {
		mark := "met"
		if !ok {
			mark = "MISSED"
		}
		fmt.Printf("target %-40s %6.2f (want %s) %s\n", name, got, strconv.FormatFloat(want, 'f', -1, 64), mark)
	}
	target("backup speed / copy speed (median)", median(speed), 0.5, median(speed) >= 0.5)
	target("writes during / writes alone (median)", median(kept), 0.7, median(kept) >= 0.7)
	growth := mib(peakAnon - anon0 + peakFile - file0)
	target("RSS growth MiB (anon + file)", growth, 32, growth <= 32)
	return nil
}

// build writes docs documents in bulk inserts of 1000 and closes the store.
func build(path string, docs int) error {
	st, err := store.Open(path, store.Options{})
	if err != nil {
		return err
	}
	const batch = 1000
	for i := 0; i < docs; i += batch {
		n := min(batch, docs-i)
		b := make([]store.Doc, n)
		for j := range b {
			b[j] = benchdoc.Doc(i + j)
		}
		if _, err := st.Insert("items", b, "bench"); err != nil {
			_ = st.Close()
			return err
		}
	}
	return st.Close()
}

func timeIt(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() { _ = out.Close() }()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Sync()
}

// backupOptions are the options a dbserver's backups of st run with.
func backupOptions(st *store.Store) backup.WriteOptions {
	o := backup.WriteOptions{Database: "bench", Nice: nice}
	if pace {
		o.Activity = st.Activity
	}
	return o
}

func backupTo(st *store.Store, path string) (int64, error) {
	if _, err := backup.WriteFile(context.Background(), path, st.CopyFile, backupOptions(st)); err != nil {
		return 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// writers runs 16 goroutines inserting one document per request for d and returns inserts/s.
func writers(st *store.Store, d time.Duration, _ func()) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if _, err := st.Insert("writes", []store.Doc{benchdoc.Doc(w*1_000_000 + i)}, "bench"); err != nil {
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// sampleRSS samples the RSS every 10 ms until the returned function is called, which returns
// the peaks.
func sampleRSS() func() (anon, file int64) {
	var peakAnon, peakFile int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			a, f := rss()
			peakAnon, peakFile = max(peakAnon, a), max(peakFile, f)
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() (int64, int64) {
		close(stop)
		<-done
		a, f := rss()
		return max(peakAnon, a), max(peakFile, f)
	}
}

// rss returns the process's resident anonymous and file-backed memory.
func rss() (anon, file int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "RssAnon:":
			anon = kb << 10
		case "RssFile:":
			file = kb << 10
		}
	}
	return anon, file
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
