// Command probe is a tiny workload for checking the e2e cluster by hand and in tests: it serves
// HTTP, reports the uid it runs as, and reads and writes files in a data directory (a PVC).
//
//	GET  /healthz        200 "ok"
//	GET  /whoami         "uid=<uid> gid=<gid>"
//	PUT  /files/<name>   writes the body (at most 1 MiB) to <data-dir>/<name>
//	GET  /files/<name>   returns that file
//	GET  /fetch?url=U    GETs U (3 s timeout) and reports "status <code>" or "error <why>",
//	                     so a test can see what a pod can and cannot reach
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const maxBody = 1 << 20

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	dataDir := flag.String("data-dir", "/data", "directory the /files endpoints read and write")
	flag.Parse()

	srv := &http.Server{Addr: *listen, Handler: handler(*dataDir), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("probe: serving on %s, data in %s, uid %d", *listen, *dataDir, os.Getuid())
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("probe: %v", err)
	}
}

func handler(dataDir string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "uid=%d gid=%d", os.Getuid(), os.Getgid())
	})
	mux.HandleFunc("PUT /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := filePath(dataDir, r.PathValue("name"))
		if !ok {
			http.Error(w, "bad file name", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := filePath(dataDir, r.PathValue("name"))
		if !ok {
			http.Error(w, "bad file name", http.StatusBadRequest)
			return
		}
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			http.Error(w, "not found", http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			_, _ = w.Write(b)
		}
	})
	client := &http.Client{Timeout: 3 * time.Second}
	mux.HandleFunc("GET /fetch", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(r.URL.Query().Get("url"))
		if err != nil {
			_, _ = fmt.Fprintf(w, "error %v", err)
			return
		}
		_ = resp.Body.Close()
		_, _ = fmt.Fprintf(w, "status %d", resp.StatusCode)
	})
	return mux
}

// filePath keeps every request inside dataDir: one plain name, no separators, no dot files.
func filePath(dataDir, name string) (string, bool) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", false
	}
	return filepath.Join(dataDir, name), true
}
