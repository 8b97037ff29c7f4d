// Package s3test starts a real S3-compatible server (versitygw with its POSIX backend, built
// from Go modules into bin/ by `make s3-server`) on loopback for tests.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a running object store.
type Server struct {
	// Endpoint is its URL (http://127.0.0.1:PORT).
	Endpoint string
	// AccessKeyID and SecretAccessKey are its root credentials.
	AccessKeyID, SecretAccessKey string
	// Dir is the POSIX backend's directory: a bucket is a folder, an object a file.
	Dir string
	// Client is a client of it.
	Client *minio.Client
}

// Binary returns the path of the server binary: $RESTKUBE_S3_SERVER, or bin/versitygw at the
// module's root.
func Binary() (string, error) {
	if p := os.Getenv("RESTKUBE_S3_SERVER"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "hack", "versitygw")); err == nil {
				return filepath.Join(dir, "bin", "versitygw"), nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no module root with hack/versitygw above the working directory")
		}
		dir = parent
	}
}

// Start runs a server for the test's lifetime, with the buckets named. The test is skipped
// when the binary has not been built (make test builds it).
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	bin, err := Binary()
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		t.Skipf("the S3-compatible test server is not built (run `make s3-server`): %v", err)
	}
	s := &Server{AccessKeyID: "restkube-test", SecretAccessKey: "s3cret-Test-Key-0123456789", Dir: t.TempDir()}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.Endpoint = "http://" + addr
	cmd := exec.Command(bin, "--access", s.AccessKeyID, "--secret", s.SecretAccessKey, "--port", addr, "posix", s.Dir)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
	})
	s.Client, err = minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKeyID, s.SecretAccessKey, ""), BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, err := s.Client.ListBuckets(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("the S3 server did not answer within 20s: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, b := range buckets {
		if err := s.Client.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("creating bucket %s: %v", b, err)
		}
	}
	return s
}

// Keys lists the object keys under prefix in bucket.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range s.Client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("listing %s/%s: %v", bucket, prefix, o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// WriteCredentials writes the server's credentials as the dbserver's credential files into dir.
func (s *Server) WriteCredentials(t testing.TB, dir string) {
	t.Helper()
	for name, v := range map[string]string{"backup-access-key-id": s.AccessKeyID, "backup-secret-access-key": s.SecretAccessKey} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
