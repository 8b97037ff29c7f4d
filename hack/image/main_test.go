package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fakeInputs writes small stand-ins for the binaries and the CA bundle, with modes the image
// must not copy (a 0600 binary from a strict umask must still be 0755 in the image).
func fakeInputs(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return Options{
		Manager:  write("manager", "#!manager-binary", 0o600),
		DBServer: write("dbserver", "#!dbserver-binary-longer", 0o700),
		CABundle: write("ca.crt", "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n", 0o600),
		Ref:      "example.test/restkube/restkube:v1.2.3",
		Version:  "v1.2.3",
		Commit:   "abc1234",
		Arch:     "amd64",
		Created:  time.Unix(1700000000, 0).UTC(),
		Output:   filepath.Join(dir, "out", "image.tar"),
	}
}

func TestWriteProducesLoadableImage(t *testing.T) {
	o := fakeInputs(t)
	if err := os.MkdirAll(filepath.Dir(o.Output), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(o); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if _, err := os.Stat(o.Output + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}

	tag, err := name.NewTag(o.Ref)
	if err != nil {
		t.Fatal(err)
	}
	// Reading it back by tag proves manifest.json carries the RepoTags that `docker load` uses.
	img, err := tarball.ImageFromPath(o.Output, &tag)
	if err != nil {
		t.Fatalf("ImageFromPath: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/manager"}) {
		t.Errorf("entrypoint = %q, want [/manager]", c.Entrypoint)
	}
	if len(c.Cmd) != 0 {
		t.Errorf("cmd = %q, want none", c.Cmd)
	}
	if c.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", c.User)
	}
	if c.WorkingDir != "/" {
		t.Errorf("working dir = %q, want /", c.WorkingDir)
	}
	if !slices.Contains(c.Env, "DBSERVER_IMAGE=example.test/restkube/restkube:v1.2.3") {
		t.Errorf("env = %q, want DBSERVER_IMAGE set to the image's own reference", c.Env)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform = %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !cf.Created.Equal(o.Created) {
		t.Errorf("created = %v, want %v", cf.Created.Time, o.Created)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":    "restkube",
		"org.opencontainers.image.version":  "v1.2.3",
		"org.opencontainers.image.revision": "abc1234",
		"org.opencontainers.image.source":   "https://github.com/restkube/restkube",
	}
	for k, v := range wantLabels {
		if got := c.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	content := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading layer: %v", err)
		}
		got[hdr.Name] = hdr
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		content[hdr.Name] = string(b)
	}

	files := map[string]struct {
		mode    int64
		content string
	}{
		"manager":                           {0o755, "#!manager-binary"},
		"dbserver":                          {0o755, "#!dbserver-binary-longer"},
		"etc/ssl/certs/ca-certificates.crt": {0o644, "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"},
	}
	for p, want := range files {
		hdr, ok := got[p]
		if !ok {
			t.Errorf("layer has no %s; entries: %v", p, keys(got))
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			t.Errorf("%s: type %c, want regular file", p, hdr.Typeflag)
		}
		if hdr.Mode != want.mode {
			t.Errorf("%s: mode %o, want %o", p, hdr.Mode, want.mode)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s: owner %d:%d, want 0:0", p, hdr.Uid, hdr.Gid)
		}
		if content[p] != want.content {
			t.Errorf("%s: content %q, want %q", p, content[p], want.content)
		}
	}
	for _, d := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/"} {
		hdr, ok := got[d]
		if !ok || hdr.Typeflag != tar.TypeDir || hdr.Mode != 0o755 {
			t.Errorf("directory %s missing or wrong: %+v", d, hdr)
		}
	}
	if len(got) != len(files)+3 {
		t.Errorf("layer has unexpected entries: %v", keys(got))
	}
}

func TestWriteFailsClearlyOnMissingInput(t *testing.T) {
	cases := map[string]struct {
		mutate  func(o *Options)
		wantErr string
	}{
		"a missing CA bundle names the package to install": {
			mutate:  func(o *Options) { o.CABundle = filepath.Join(t.TempDir(), "none.crt") },
			wantErr: "CA bundle (install the ca-certificates package",
		},
		"a missing manager says to build it": {
			mutate:  func(o *Options) { o.Manager = filepath.Join(t.TempDir(), "manager") },
			wantErr: "manager binary (run `make build`)",
		},
		"an empty dbserver is rejected": {
			mutate: func(o *Options) {
				p := filepath.Join(t.TempDir(), "dbserver")
				if err := os.WriteFile(p, nil, 0o755); err != nil {
					t.Fatal(err)
				}
				o.DBServer = p
			},
			wantErr: "is empty",
		},
		"a digest reference is refused because docker-archive needs a tag": {
			mutate:  func(o *Options) { o.Ref = "restkube/restkube@sha256:" + strings.Repeat("a", 64) },
			wantErr: "must be a tag",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := fakeInputs(t)
			if err := os.MkdirAll(filepath.Dir(o.Output), 0o755); err != nil {
				t.Fatal(err)
			}
			tc.mutate(&o)
			err := Write(o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Write error = %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := os.Stat(o.Output); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output written despite the error: %v", err)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	cases := map[string]struct {
		args    []string
		env     map[string]string
		wantRef string
		wantAt  time.Time
		wantErr bool
	}{
		"the default reference is tagged with the version": {
			args:    []string{"-version", "v0.3.0"},
			wantRef: "restkube/restkube:v0.3.0",
			wantAt:  time.Unix(0, 0).UTC(),
		},
		"an explicit reference wins": {
			args:    []string{"-version", "v0.3.0", "-image", "registry.test/rk:edge"},
			wantRef: "registry.test/rk:edge",
			wantAt:  time.Unix(0, 0).UTC(),
		},
		"SOURCE_DATE_EPOCH sets the creation time": {
			env:     map[string]string{"SOURCE_DATE_EPOCH": "1700000000"},
			wantRef: "restkube/restkube:dev",
			wantAt:  time.Unix(1700000000, 0).UTC(),
		},
		"a malformed SOURCE_DATE_EPOCH is an error": {
			env:     map[string]string{"SOURCE_DATE_EPOCH": "yesterday"},
			wantErr: true,
		},
		"stray arguments are an error": {
			args:    []string{"extra"},
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o, err := parseFlags(tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %+v", o)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Ref != tc.wantRef {
				t.Errorf("ref = %q, want %q", o.Ref, tc.wantRef)
			}
			if !o.Created.Equal(tc.wantAt) {
				t.Errorf("created = %v, want %v", o.Created, tc.wantAt)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDockerfileBuildsTheSameImage guards the two ways of building the image against drift:
// the Dockerfile cannot be run here, so its instructions are checked against what Build writes.
func TestDockerfileBuildsTheSameImage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	o := fakeInputs(t)
	img, err := Build(o, o.Ref)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"FROM scratch",
		"CGO_ENABLED=0",
		"-X github.com/restkube/restkube/internal/version.Version=${VERSION}",
		"-X github.com/restkube/restkube/internal/version.Commit=${COMMIT}",
		"COPY --from=build --chmod=0644 /etc/ssl/certs/ca-certificates.crt " + caBundlePath,
		"COPY --from=build --chmod=0755 /out/manager /out/dbserver /",
		"ENV DBSERVER_IMAGE=${IMAGE}",
		"USER " + cf.Config.User,
		"WORKDIR " + cf.Config.WorkingDir,
		`ENTRYPOINT ["` + strings.Join(cf.Config.Entrypoint, `", "`) + `"]`,
	}
	for k := range cf.Config.Labels {
		want = append(want, k+"=")
	}
	for _, w := range want {
		if !strings.Contains(df, w) {
			t.Errorf("Dockerfile lacks %q", w)
		}
	}
}
