package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/restkube/restkube/dbserver/planner"
	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/benchdoc"
)

// Config sizes one run of the harness.
type Config struct {
	// OpDuration and OpMax bound every measured load (each concurrency of each operation).
	OpDuration time.Duration
	OpMax      int
	// Preload is the number of documents in the collection the operations run on.
	Preload int
	// EngineDocs is the collection size of the in-process unindexed-scan comparison.
	EngineDocs int
	// Checkpoints are the collection sizes at which the indexed query's latency is measured;
	// RSSAt is the one after which the server's peak RSS is read.
	Checkpoints []int
	RSSAt       int
	// LoadTimeout bounds the bulk loading of the checkpoints; later ones are skipped.
	LoadTimeout time.Duration
	// DBServer is a prebuilt dbserver binary; empty builds ./dbserver.
	DBServer string
	// WorkDir holds the temporary files (data dirs, the built binary).
	WorkDir string
	// ServerLogLevel is the dbserver's --log-level; "info" (its default, as deployed) logs a
	// line per request.
	ServerLogLevel string
	// Only, when set, limits the run to the dbserver operations whose names match it.
	Only *regexp.Regexp
	// MediaBytes is the size of the media section's streamed upload.
	MediaBytes int64
	// Rounds splits each dbserver row into interleaved rounds of (floor, operation); the row
	// reports the round with the median ratio.
	Rounds int
	// Realtime sizes the realtime section (-ops realtime runs it alone).
	Realtime RealtimeConfig
	// ProfileDir, when set, receives CPU profiles of the realtime section's paced writes with
	// subscribers: the dbserver's (served on --pprof-listen), with its block and mutex
	// profiles, and the bench client's own.
	ProfileDir string
}

// FullConfig is the configuration of `make bench`; maxDocs caps the largest checkpoint.
func FullConfig(maxDocs int) Config {
	c := Config{
		OpDuration: 3 * time.Second, OpMax: 30_000, Preload: 10_000, EngineDocs: 10_000,
		RSSAt: 100_000, LoadTimeout: 8 * time.Minute, ServerLogLevel: "info", Rounds: 3,
		MediaBytes: 1 << 30,
		Realtime:   RealtimeConfig{Subscribers: 1000, Rate: 500, Duration: 5 * time.Second},
	}
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		if n <= maxDocs {
			c.Checkpoints = append(c.Checkpoints, n)
		}
	}
	return c
}

// SmokeConfig runs every measurement with tiny counts in a few seconds.
func SmokeConfig() Config {
	return Config{
		OpDuration: 150 * time.Millisecond, OpMax: 100, Preload: 300, EngineDocs: 300,
		Checkpoints: []int{300, 1000, 2000}, RSSAt: 1000, LoadTimeout: time.Minute, ServerLogLevel: "info",
		MediaBytes: 8 << 20,
		Realtime:   RealtimeConfig{Subscribers: 20, Rate: 100, Duration: 300 * time.Millisecond},
	}
}

// Row is one line of the table.
type Row struct {
	Section, Name string
	Conc          int
	Res           Result
	// Ratio is ops/s relative to the row's reference (the floor, or the naive scan); 0: none.
	Ratio float64
}

// ScalePoint is the indexed query's latency at one collection size.
type ScalePoint struct {
	Docs     int
	Res      Result
	LoadRate float64 // documents per second loaded by bulk POST to reach this size
	RSS      int64   // the dbserver's peak RSS (VmHWM) once loaded to this size
}

// Report is everything one run measured.
type Report struct {
	Rows    []Row
	Scale   []ScalePoint
	RSS     int64 // the dbserver's VmHWM after loading RSSDocs documents
	RSSDocs int
	// Media is the media section's upload, when it ran.
	Media *MediaResult
	Notes []string
	// Realtime is the realtime section's result (nil when it did not run).
	Realtime *RealtimeResult
}

// Run measures everything and returns the report. Progress goes to log.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	rep := &Report{}
	logf := func(format string, a ...any) { fmt.Fprintf(log, format+"\n", a...) }
	if cfg.Only == nil {
		logf("raw bbolt and the store's group commit ...")
		if err := rawEngine(ctx, cfg, rep); err != nil {
			return rep, fmt.Errorf("raw engine: %w", err)
		}
		logf("unindexed scan in process ...")
		if err := engineScan(cfg, rep); err != nil {
			return rep, fmt.Errorf("engine scan: %w", err)
		}
	}
	bin := cfg.DBServer
	if bin == "" {
		logf("building the dbserver ...")
		var err error
		if bin, err = buildDBServer(ctx, cfg.WorkDir); err != nil {
			return rep, err
		}
	}
	realtimeOnly := cfg.Only != nil && cfg.Only.MatchString("realtime")
	if cfg.Only == nil || realtimeOnly {
		logf("realtime fan-out ...")
		if err := realtimeSection(ctx, cfg, cfg.Realtime, bin, rep, logf); err != nil {
			return rep, fmt.Errorf("realtime: %w", err)
		}
		if realtimeOnly {
			return rep, nil
		}
	}
	logf("HTTP floor ...")
	floor, err := startFloor(ctx)
	if err != nil {
		return rep, err
	}
	client := &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true,
			// A query's page (~10 KB) is read in one syscall rather than three.
			ReadBufferSize: 64 << 10,
		},
	}
	// The machine is shared, so its speed drifts during a run: besides the floor rows, the
	// floor is measured again (for half as long) right before each dbserver row, and that
	// row's ratio is against this adjacent measurement.
	measureFloor := func(conc int, d time.Duration) (Result, error) {
		return runLoad(ctx, conc, cfg.OpMax, d, func(ctx context.Context, i int) error {
			return send(ctx, client, http.MethodGet, "http://"+floor.addr+"/rest/floor/x", "", nil, http.StatusOK, nil)
		})
	}
	for _, conc := range []int{1, 16} {
		res, err := measureFloor(conc, cfg.OpDuration)
		if err != nil {
			floor.stop()
			return rep, fmt.Errorf("floor: %w", err)
		}
		rep.Rows = append(rep.Rows, Row{Section: "http floor", Name: "GET fixed JSON", Conc: conc, Res: res, Ratio: 1})
	}
	// Not a reference of the targets: what an answer the size of the indexed query's costs.
	for _, conc := range []int{1, 16} {
		res, err := runLoad(ctx, conc, cfg.OpMax, cfg.OpDuration, func(ctx context.Context, i int) error {
			return send(ctx, client, http.MethodGet, "http://"+floor.addr+floorPagePath, "", nil, http.StatusOK, nil)
		})
		if err != nil {
			floor.stop()
			return rep, fmt.Errorf("floor page: %w", err)
		}
		rep.Rows = append(rep.Rows, Row{Section: "http floor", Name: "GET fixed JSON page (20 documents)", Conc: conc, Res: res})
	}
	adjacentFloor := func(conc int, d time.Duration) (float64, error) {
		res, err := measureFloor(conc, d)
		return res.OpsPerSec(), err
	}

	logf("dbserver operations ...")
	err = dbserverOps(ctx, cfg, bin, client, adjacentFloor, rep, logf)
	if err == nil && (cfg.Only == nil || cfg.Only.MatchString("media")) {
		logf("dbserver media archive ...")
		err = dbserverMedia(ctx, cfg, bin, client, adjacentFloor, rep, logf)
	}
	floor.stop()
	if err != nil {
		return rep, err
	}
	if cfg.Only != nil {
		return rep, nil
	}
	logf("dbserver scaling ...")
	if err := dbserverScale(ctx, cfg, bin, client, rep, logf); err != nil {
		return rep, err
	}
	return rep, nil
}

// rawEngine measures bbolt alone: one transaction per put, bbolt's Batch with its default
// delay from 16 goroutines, and the store's group committer from 16 goroutines.
func rawEngine(ctx context.Context, cfg Config, rep *Report) error {
	db, err := bolt.Open(filepath.Join(cfg.WorkDir, "raw.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	bucket := []byte("b")
	val := bytes.Repeat([]byte("x"), 400)
	put := func(tx *bolt.Tx, i int) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.Put(fmt.Appendf(nil, "%016d", i), val)
	}
	res, err := runLoad(ctx, 1, cfg.OpMax, cfg.OpDuration, func(_ context.Context, i int) error {
		return db.Update(func(tx *bolt.Tx) error { return put(tx, i) })
	})
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, Row{Section: "bbolt", Name: "put, one Update (fsync) each", Conc: 1, Res: res})
	base := cfg.OpMax
	res, err = runLoad(ctx, 16, cfg.OpMax, cfg.OpDuration, func(_ context.Context, i int) error {
		return db.Batch(func(tx *bolt.Tx) error { return put(tx, base+i) })
	})
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, Row{Section: "bbolt", Name: "put, db.Batch (10ms MaxBatchDelay)", Conc: 16, Res: res})

	st, err := store.Open(filepath.Join(cfg.WorkDir, "store.db"), store.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	res, err = runLoad(ctx, 16, cfg.OpMax, cfg.OpDuration, func(_ context.Context, i int) error {
		_, err := st.Insert("c", []store.Doc{{"n": float64(i), "v": string(val)}}, "api")
		return err
	})
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, Row{Section: "bbolt", Name: "store.Insert, group commit", Conc: 16, Res: res})
	s := st.Stats()
	if s.Commits > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("group commit: %.1f writes per fsync", float64(s.Writes)/float64(s.Commits)))
	}
	return nil
}

// engineScan compares, in process, an unindexed query answered by decoding every document
// (the naive scan) with the planner's scan (partial decode, full decode of matches only).
func engineScan(cfg Config, rep *Report) error {
	st, err := store.Open(filepath.Join(cfg.WorkDir, "engine.db"), store.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	for i := 0; i < cfg.EngineDocs; i += 1000 {
		var docs []store.Doc
		for j := i; j < min(i+1000, cfg.EngineDocs); j++ {
			docs = append(docs, benchdoc.Doc(j))
		}
		if _, err := st.Insert("c", docs, "api"); err != nil {
			return err
		}
	}
	req, err := query.ParseRequest(url.Values{"q": {`{"u":42}`}, "totals": {"true"}}, query.Options{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	// The naive scan of the issue: json.Unmarshal every document into a map, then match.
	naive, err := runLoad(ctx, 1, cfg.OpMax, cfg.OpDuration, func(context.Context, int) error {
		var matched []store.Doc
		err := st.View(func(sn *store.Snapshot) error {
			var err error
			sn.Docs("c", false, func(_, raw []byte) bool {
				var d store.Doc
				if err = json.Unmarshal(raw, &d); err != nil {
					return false
				}
				if req.Matches(d) {
					matched = append(matched, d)
				}
				return true
			})
			return err
		})
		req.Result(matched)
		return err
	})
	if err != nil {
		return err
	}
	// store.Scan decodes every document too, with the store's own JSON decoder.
	scan, err := runLoad(ctx, 1, cfg.OpMax, cfg.OpDuration, func(context.Context, int) error {
		var matched []store.Doc
		err := st.Scan("c", func(d store.Doc) bool {
			if req.Matches(d) {
				matched = append(matched, d)
			}
			return true
		})
		req.Result(matched)
		return err
	})
	if err != nil {
		return err
	}
	planned, err := runLoad(ctx, 1, cfg.OpMax, cfg.OpDuration, func(context.Context, int) error {
		_, _, err := planner.Execute(st, "c", req, planner.Options{})
		return err
	})
	if err != nil {
		return err
	}
	name := fmt.Sprintf("unindexed query over %d docs", cfg.EngineDocs)
	rep.Rows = append(rep.Rows,
		Row{Section: "engine", Name: name + ", json.Unmarshal all", Conc: 1, Res: naive, Ratio: 1},
		Row{Section: "engine", Name: name + ", store.Scan all", Conc: 1, Res: scan, Ratio: scan.OpsPerSec() / naive.OpsPerSec()},
		Row{Section: "engine", Name: name + ", planner", Conc: 1, Res: planned, Ratio: planned.OpsPerSec() / naive.OpsPerSec()})
	return nil
}

// The operations run on "bench" (preloaded, queried, updated) and "created" (created, then
// deleted), so that the queries always see the preloaded number of documents.
const benchSettings = `{"collections":[{"name":"bench","indexes":["n"]},{"name":"created","indexes":["n"]},{"name":"scale","indexes":["n"]}]}`

type server struct {
	base, key string
	client    *http.Client
}

// do sends one request and checks the status; it returns the body.
func do(ctx context.Context, c *http.Client, method, u, key string, body []byte, want int) ([]byte, error) {
	var out []byte
	err := send(ctx, c, method, u, key, body, want, func(b []byte) error {
		out = bytes.Clone(b)
		return nil
	})
	return out, err
}

// readBufs recycle the load generator's answer buffers: the generator shares the machine with
// the server it measures, so it should spend as little CPU as it can.
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// send sends one request, checks the status and hands the body to use (when not nil), which
// must not keep it.
func send(ctx context.Context, c *http.Client, method, u, key string, body []byte, want int, use func([]byte) error) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if key != "" {
		req.Header.Set("x-apikey", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	buf := readBufs.Get().(*bytes.Buffer)
	defer readBufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.200s", method, u, resp.StatusCode, want, buf.Bytes())
	}
	if use != nil {
		return use(buf.Bytes())
	}
	return nil
}

func (s *server) do(ctx context.Context, method, path string, body []byte, want int) ([]byte, error) {
	return do(ctx, s.client, method, s.base+path, s.key, body, want)
}

// hit is do for the measured operations that need no answer beyond its status.
func (s *server) send(ctx context.Context, method, path string, body []byte, want int, use func([]byte) error) error {
	return send(ctx, s.client, method, s.base+path, s.key, body, want, use)
}

func (s *server) hit(ctx context.Context, method, path string, body []byte, want int) error {
	return send(ctx, s.client, method, s.base+path, s.key, body, want, nil)
}

// indexedQueryPath is the indexed range query of the benchmark: n > x, sorted by n, 20 documents.
func indexedQueryPath(coll string, x int) string {
	q := url.Values{"q": {fmt.Sprintf(`{"n":{"$gt":%d}}`, x)}, "sort": {"n"}, "max": {"20"}}
	return "/rest/" + coll + "?" + q.Encode()
}

// get sends a GET of a full URL that needs no answer beyond its status.
func (s *server) get(ctx context.Context, u string) error {
	return send(ctx, s.client, http.MethodGet, u, s.key, nil, http.StatusOK, nil)
}

// commitCounters reads the dbserver's group-commit counters from /metrics.
func (s *server) commitCounters(ctx context.Context) (commits, writes float64, err error) {
	out, err := do(ctx, s.client, http.MethodGet, s.base+"/metrics", "", nil, http.StatusOK)
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for _, line := range strings.Split(string(out), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "restkube_store_commits_total":
			dst = &commits
		case "restkube_store_writes_total":
			dst = &writes
		default:
			continue
		}
		if *dst, err = strconv.ParseFloat(val, 64); err != nil {
			return 0, 0, fmt.Errorf("/metrics: %s: %w", name, err)
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("/metrics lacks restkube_store_commits_total or restkube_store_writes_total")
	}
	return commits, writes, nil
}

// idOf returns the _id of a created document's answer (its system fields are written first).
func idOf(doc []byte) (string, error) {
	const field = `"_id":"`
	at := bytes.Index(doc, []byte(field))
	if at < 0 || len(doc) < at+len(field)+24 {
		return "", fmt.Errorf("create answer without _id: %.200s", doc)
	}
	id := string(doc[at+len(field) : at+len(field)+24])
	if _, err := store.ParseObjectID(id); err != nil {
		return "", fmt.Errorf("create answer with a bad _id: %.200s", doc)
	}
	return id, nil
}

// bulkLoad inserts docs first..last-1 by bulk POST in chunks of 1000 and returns their ids
// when wantIDs.
func (s *server) bulkLoad(ctx context.Context, coll string, first, last int, wantIDs bool) ([]string, error) {
	var ids []string
	for i := first; i < last; i += 1000 {
		var docs []map[string]any
		for j := i; j < min(i+1000, last); j++ {
			docs = append(docs, benchdoc.Doc(j))
		}
		body, _ := json.Marshal(docs)
		out, err := s.do(ctx, http.MethodPost, "/rest/"+coll, body, http.StatusCreated)
		if err != nil {
			return nil, err
		}
		if !wantIDs {
			continue
		}
		var stored []struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal(out, &stored); err != nil {
			return nil, fmt.Errorf("bulk POST answer: %w", err)
		}
		for _, d := range stored {
			ids = append(ids, d.ID)
		}
	}
	return ids, nil
}

func randKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", b), nil
}

// spread maps the i-th operation to one of n targets, scattered rather than in order, so that
// consecutive requests touch different documents and index ranges.
func spread(i, n int) int { return (i*7919 + 104729) % n }

// launch starts a dbserver with the benchmark's settings and a fresh API key in a new folder
// under cfg.WorkDir, and returns the process and a client for it.
func launch(ctx context.Context, cfg Config, bin string, client *http.Client, name string) (*child, *server, error) {
	dir, err := os.MkdirTemp(cfg.WorkDir, name)
	if err != nil {
		return nil, nil, err
	}
	key, err := randKey()
	if err != nil {
		return nil, nil, err
	}
	proc, err := startDBServer(ctx, bin, dir, benchSettings, key, cfg.ServerLogLevel, client)
	if err != nil {
		return nil, nil, err
	}
	return proc, &server{base: "http://" + proc.addr, key: key, client: client}, nil
}

// dbserverOps measures the six operations at concurrency 1 and 16 over a preloaded collection.
func dbserverOps(ctx context.Context, cfg Config, bin string, client *http.Client, floor func(conc int, d time.Duration) (float64, error), rep *Report, logf func(string, ...any)) error {
	proc, s, err := launch(ctx, cfg, bin, client, "ops")
	if err != nil {
		return err
	}
	defer proc.stop()
	preload, err := s.bulkLoad(ctx, "bench", 0, cfg.Preload, true)
	if err != nil {
		return fmt.Errorf("preloading: %w", err)
	}
	// The create bodies are encoded before the clock starts: the generator's CPU is taken
	// from the server it measures (they share the machine).
	bodies := newBodies(cfg.Preload, 2*cfg.OpMax)
	// Likewise the indexed query's URLs, one per threshold.
	indexedURLs := make([]string, cfg.Preload)
	for x := range indexedURLs {
		indexedURLs[x] = s.base + indexedQueryPath("bench", x)
	}
	var mu sync.Mutex
	var created []string
	next := cfg.Preload
	var deleted int
	ops := []struct {
		name string
		op   func(ctx context.Context, i int) error
	}{
		{"create (POST)", func(ctx context.Context, i int) error {
			mu.Lock()
			n := next
			next++
			mu.Unlock()
			return s.send(ctx, http.MethodPost, "/rest/created", bodies.get(n), http.StatusCreated, func(out []byte) error {
				id, err := idOf(out)
				if err != nil {
					return err
				}
				mu.Lock()
				created = append(created, id)
				mu.Unlock()
				return nil
			})
		}},
		{"get by id", func(ctx context.Context, i int) error {
			return s.hit(ctx, http.MethodGet, "/rest/bench/"+preload[spread(i, len(preload))], nil, http.StatusOK)
		}},
		{"indexed query (n > X, sort n, max 20)", func(ctx context.Context, i int) error {
			return s.get(ctx, indexedURLs[spread(i, len(indexedURLs))])
		}},
		{fmt.Sprintf("unindexed query (u = X, totals, %d docs)", cfg.Preload), func(ctx context.Context, i int) error {
			q := url.Values{"q": {fmt.Sprintf(`{"u":%d}`, spread(i, 100))}, "totals": {"true"}, "max": {"20"}}
			return s.hit(ctx, http.MethodGet, "/rest/bench?"+q.Encode(), nil, http.StatusOK)
		}},
		{"update (PUT)", func(ctx context.Context, i int) error {
			body := []byte(fmt.Sprintf(`{"prio":%d,"title":"changed %d"}`, i%5, i))
			return s.hit(ctx, http.MethodPut, "/rest/bench/"+preload[spread(i, len(preload))], body, http.StatusOK)
		}},
		{"delete", func(ctx context.Context, i int) error {
			mu.Lock()
			if deleted >= len(created) {
				mu.Unlock()
				return errNothingLeft
			}
			id := created[deleted]
			deleted++
			mu.Unlock()
			return s.hit(ctx, http.MethodDelete, "/rest/created/"+id, nil, http.StatusOK)
		}},
	}
	for _, o := range ops {
		if cfg.Only != nil && !cfg.Only.MatchString(o.name) && !strings.HasPrefix(o.name, "create") {
			continue // creates always run: the deletes need their documents
		}
		for _, conc := range []int{1, 16} {
			maxOps := cfg.OpMax
			if o.name == "delete" {
				// Each document the creates made is deleted once: half in the first run.
				mu.Lock()
				left := len(created) - deleted
				if conc == 1 {
					left /= 2
				}
				maxOps = min(maxOps, left)
				mu.Unlock()
			}
			c0, w0, err := s.commitCounters(ctx)
			if err != nil {
				return err
			}
			// Interleaved rounds of (floor, operation); the row is the round with the median
			// ratio, which a drift of the shared machine's speed moves least.
			rounds := max(cfg.Rounds, 1)
			type trial struct {
				res   Result
				ratio float64
			}
			var trials []trial
			left := maxOps // spread over the rounds
			for r := range rounds {
				f, err := floor(conc, cfg.OpDuration/2/time.Duration(rounds))
				if err != nil {
					return fmt.Errorf("floor before %s: %w", o.name, err)
				}
				res, err := runLoad(ctx, conc, left/(rounds-r), cfg.OpDuration/time.Duration(rounds), o.op)
				if err != nil {
					return fmt.Errorf("%s at concurrency %d: %w\n%s", o.name, conc, err, proc.stderrTail())
				}
				left -= res.Ops
				trials = append(trials, trial{res, res.OpsPerSec() / f})
			}
			slices.SortFunc(trials, func(a, b trial) int { return cmp.Compare(a.ratio, b.ratio) })
			mid := trials[len(trials)/2]
			c1, w1, err := s.commitCounters(ctx)
			if err != nil {
				return err
			}
			if c1 > c0 && conc > 1 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("dbserver %s at concurrency %d: %.1f writes per commit (fsync)", o.name, conc, (w1-w0)/(c1-c0)))
			}
			ratios := make([]string, len(trials))
			for i, t := range trials {
				ratios[i] = fmt.Sprintf("%.2f", t.ratio)
			}
			if rounds > 1 && conc > 1 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("dbserver %s at concurrency %d: ratios of the %d rounds %s", o.name, conc, rounds, strings.Join(ratios, ", ")))
			}
			rep.Rows = append(rep.Rows, Row{Section: "dbserver", Name: o.name, Conc: conc, Res: mid.res, Ratio: mid.ratio})
			logf("  %-45s c=%-2d %8.0f ops/s, ratios to the floor %s", o.name, conc, mid.res.OpsPerSec(), strings.Join(ratios, " "))
		}
	}
	return nil
}

// bodies holds the JSON of benchdoc.Doc(first), benchdoc.Doc(first+1), ...; get encodes past the end.
type bodies struct {
	first int
	enc   [][]byte
}

func newBodies(first, n int) *bodies {
	b := &bodies{first: first, enc: make([][]byte, n)}
	for i := range b.enc {
		b.enc[i], _ = json.Marshal(benchdoc.Doc(first + i))
	}
	return b
}

func (b *bodies) get(n int) []byte {
	if i := n - b.first; i >= 0 && i < len(b.enc) {
		return b.enc[i]
	}
	enc, _ := json.Marshal(benchdoc.Doc(n))
	return enc
}

var errNothingLeft = errors.New("no created document left to delete")

// dbserverScale loads a fresh server's collection up to each checkpoint by bulk POST and
// measures the indexed query's latency there, and the server's peak RSS at RSSAt.
func dbserverScale(ctx context.Context, cfg Config, bin string, client *http.Client, rep *Report, logf func(string, ...any)) error {
	proc, s, err := launch(ctx, cfg, bin, client, "scale")
	if err != nil {
		return err
	}
	defer proc.stop()
	loaded := 0
	start := time.Now()
	for _, cp := range cfg.Checkpoints {
		if time.Since(start) > cfg.LoadTimeout {
			rep.Notes = append(rep.Notes, fmt.Sprintf("scale: stopped before %d documents (load time bound %s)", cp, cfg.LoadTimeout))
			break
		}
		t0 := time.Now()
		// Load in steps so the time bound is checked along the way.
		for loaded < cp && time.Since(start) <= cfg.LoadTimeout {
			step := min(cp, loaded+50_000)
			if _, err := s.bulkLoad(ctx, "scale", loaded, step, false); err != nil {
				return fmt.Errorf("loading to %d documents: %w\n%s", cp, err, proc.stderrTail())
			}
			loaded = step
		}
		if loaded < cp {
			rep.Notes = append(rep.Notes, fmt.Sprintf("scale: stopped at %d of %d documents (load time bound %s)", loaded, cp, cfg.LoadTimeout))
			break
		}
		rate := float64(cp) / time.Since(t0).Seconds()
		if len(rep.Scale) > 0 {
			rate = float64(cp-rep.Scale[len(rep.Scale)-1].Docs) / time.Since(t0).Seconds()
		}
		rss, err := peakRSS(proc.cmd.Process.Pid)
		if err != nil {
			return fmt.Errorf("reading the dbserver's peak RSS: %w", err)
		}
		// Reported at RSSAt, or at the largest size reached below it in a capped run.
		if cp <= cfg.RSSAt {
			rep.RSS, rep.RSSDocs = rss, cp
		}
		res, err := runLoad(ctx, 1, cfg.OpMax, cfg.OpDuration, func(ctx context.Context, i int) error {
			return s.hit(ctx, http.MethodGet, indexedQueryPath("scale", spread(i, cp)), nil, http.StatusOK)
		})
		if err != nil {
			return fmt.Errorf("indexed query at %d documents: %w", cp, err)
		}
		rep.Scale = append(rep.Scale, ScalePoint{Docs: cp, Res: res, LoadRate: rate, RSS: rss})
		logf("  %8d docs: indexed query p50 %s (loaded at %.0f docs/s)", cp, res.P50, rate)
	}
	return nil
}
