package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MediaResult is what the media section measured: a streamed upload against the disk's own
// write-and-fsync rate, and the server's peak RSS around it.
type MediaResult struct {
	Bytes int64
	// DiskRate is bytes/s of writing Bytes to a file in the same work dir and fsyncing it,
	// measured right before the upload.
	DiskRate float64
	// UploadRate is bytes/s of one multipart POST /media of Bytes, until its 201.
	UploadRate float64
	// RSSGrowth is the dbserver's peak RSS (VmHWM) after the uploads minus before them.
	RSSGrowth int64
}

// mediaSettings lets the benchmark upload its whole size in one file.
func mediaSettings(limit int64) string {
	return fmt.Sprintf(`{"limits":{"maxMediaBytes":%d}}`, limit)
}

// mediaBoundary separates the parts of the benchmark's upload.
const mediaBoundary = "restkube-bench-media-boundary"

// dbserverMedia measures the media archive: a cfg.MediaBytes upload (throughput against
// write+fsync of the same bytes on the same disk, and RSS growth), then GETs of a kept
// thumbnail at concurrency 16 against the HTTP floor.
func dbserverMedia(ctx context.Context, cfg Config, bin string, client *http.Client, floor func(conc int, d time.Duration) (float64, error), rep *Report, logf func(string, ...any)) error {
	dir, err := os.MkdirTemp(cfg.WorkDir, "media")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	key, err := randKey()
	if err != nil {
		return err
	}
	proc, err := startDBServer(ctx, bin, dir, mediaSettings(cfg.MediaBytes+(1<<20)), key, cfg.ServerLogLevel, client)
	if err != nil {
		return err
	}
	defer proc.stop()
	s := &server{base: "http://" + proc.addr, key: key, client: client}

	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		return err
	}
	before, err := peakRSS(proc.cmd.Process.Pid)
	if err != nil {
		return err
	}
	// Interleaved rounds of (write+fsync on the same disk, upload), as the other dbserver
	// rows do: the shared disk's speed drifts, and the round with the median ratio is kept.
	// One GiB is on the disk at a time: each is removed before the next is written.
	var rounds []MediaResult
	for range max(cfg.Rounds, 1) {
		diskRate, err := writeAndSync(filepath.Join(dir, "disk-floor"), block, cfg.MediaBytes)
		if err != nil {
			return fmt.Errorf("disk floor: %w", err)
		}
		t0 := time.Now()
		id, err := uploadStream(ctx, s, block, cfg.MediaBytes)
		if err != nil {
			return fmt.Errorf("media upload: %w\n%s", err, proc.stderrTail())
		}
		rate := float64(cfg.MediaBytes) / time.Since(t0).Seconds()
		if err := s.hit(ctx, http.MethodDelete, "/media/"+id, nil, http.StatusOK); err != nil {
			return fmt.Errorf("deleting the uploaded file: %w", err)
		}
		rounds = append(rounds, MediaResult{Bytes: cfg.MediaBytes, DiskRate: diskRate, UploadRate: rate})
	}
	after, err := peakRSS(proc.cmd.Process.Pid)
	if err != nil {
		return err
	}
	ratios := make([]string, len(rounds))
	for i, r := range rounds {
		ratios[i] = fmt.Sprintf("%.2f (%.0f/%.0f MiB/s)", r.UploadRate/r.DiskRate, r.UploadRate/(1<<20), r.DiskRate/(1<<20))
	}
	slices.SortFunc(rounds, func(a, b MediaResult) int { return cmp.Compare(a.UploadRate/a.DiskRate, b.UploadRate/b.DiskRate) })
	res := rounds[len(rounds)/2]
	res.RSSGrowth = after - before
	rep.Media = &res
	rep.Notes = append(rep.Notes, "media upload rounds, upload/write+fsync: "+strings.Join(ratios, ", "))
	logf("  media upload of %d MiB: rounds %s; peak RSS %+.1f MiB", cfg.MediaBytes>>20, strings.Join(ratios, ", "), float64(res.RSSGrowth)/(1<<20))

	id, err := uploadPNG(ctx, s)
	if err != nil {
		return err
	}
	thumb := s.base + "/media/" + id + "?s=t"
	// Made once, by the first request; the measured ones read the kept file.
	if err := send(ctx, client, http.MethodGet, thumb, "", nil, http.StatusOK, nil); err != nil {
		return err
	}
	nr := max(cfg.Rounds, 1)
	type trial struct {
		res   Result
		ratio float64
	}
	var trials []trial
	for range nr {
		f, err := floor(16, cfg.OpDuration/2/time.Duration(nr))
		if err != nil {
			return err
		}
		r, err := runLoad(ctx, 16, cfg.OpMax/nr, cfg.OpDuration/time.Duration(nr), func(ctx context.Context, i int) error {
			return send(ctx, client, http.MethodGet, thumb, "", nil, http.StatusOK, nil)
		})
		if err != nil {
			return fmt.Errorf("thumbnail downloads: %w", err)
		}
		trials = append(trials, trial{r, r.OpsPerSec() / f})
	}
	slices.SortFunc(trials, func(a, b trial) int { return cmp.Compare(a.ratio, b.ratio) })
	mid := trials[len(trials)/2]
	rep.Rows = append(rep.Rows, Row{Section: "dbserver", Name: "media thumbnail GET (kept ?s=t)", Conc: 16, Res: mid.res, Ratio: mid.ratio})
	logf("  %-45s c=%-2d %8.0f ops/s, ratio to the floor %.2f", "media thumbnail GET", 16, mid.res.OpsPerSec(), mid.ratio)
	return nil
}

// writeAndSync writes n bytes (block repeated) to path, fsyncs, removes the file and returns
// the rate in bytes/s.
func writeAndSync(path string, block []byte, n int64) (float64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.Remove(path) }()
	t0 := time.Now()
	for left := n; left > 0; {
		k := min(left, int64(len(block)))
		if _, err := f.Write(block[:k]); err != nil {
			_ = f.Close()
			return 0, err
		}
		left -= k
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return 0, err
	}
	elapsed := time.Since(t0)
	if err := f.Close(); err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// repeatReader yields n bytes of block repeated, without holding them.
type repeatReader struct {
	block []byte
	off   int
	left  int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.left, int64(len(r.block)-r.off))
	copy(p, r.block[r.off:r.off+int(k)])
	r.off = (r.off + int(k)) % len(r.block)
	r.left -= k
	return int(k), nil
}

// uploadStream POSTs one file of n bytes as multipart/form-data, streamed with a known
// length, and returns the stored id.
func uploadStream(ctx context.Context, s *server, block []byte, n int64) (string, error) {
	head := "--" + mediaBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--" + mediaBoundary + "--\r\n"
	body := io.MultiReader(strings.NewReader(head), &repeatReader{block: block, left: n}, strings.NewReader(tail))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/media", body)
	if err != nil {
		return "", err
	}
	req.ContentLength = int64(len(head)) + n + int64(len(tail))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+mediaBoundary)
	req.Header.Set("x-apikey", s.key)
	return postUpload(s.client, req)
}

func postUpload(c *http.Client, req *http.Request) (string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /media: status %d: %.200s", resp.StatusCode, b)
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.IDs) != 1 {
		return "", fmt.Errorf("POST /media answered %.200s", b)
	}
	return out.IDs[0], nil
}

// uploadPNG uploads a 1024×768 PNG and returns its id.
func uploadPNG(ctx context.Context, s *server) (string, error) {
	img := image.NewNRGBA(image.Rect(0, 0, 1024, 768))
	for y := range 768 {
		for x := range 1024 {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, err := mw.CreateFormFile("file", "photo.png")
	if err != nil {
		return "", err
	}
	if err := png.Encode(w, img); err != nil {
		return "", err
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/media", &b)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("x-apikey", s.key)
	return postUpload(s.client, req)
}
