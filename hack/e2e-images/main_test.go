package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestWriteMakesALoadableImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pause")
	if err := os.WriteFile(bin, []byte("#!fake binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pause.tar")
	o := Options{Ref: "restkube.local/pause:e2e", Files: map[string]string{"/pause": bin},
		Entrypoint: []string{"/pause"}, User: "65535:65535", Output: out}
	if err := Write(o); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(o.Ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("reading the tarball back as %s: %v", o.Ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/pause"}) || cf.Config.User != "65535:65535" || cf.OS != "linux" {
		t.Fatalf("config: entrypoint %v, user %q, os %q", cf.Config.Entrypoint, cf.Config.User, cf.OS)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("want one layer, got %d (%v)", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != "pause" || hdr.Mode != 0o755 || string(body) != "#!fake binary" {
		t.Fatalf("layer holds %s mode %o with %q", hdr.Name, hdr.Mode, body)
	}
	if _, err := tr.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("the layer holds more than the one file: %v", err)
	}
	if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left behind: %v", err)
	}
}

func TestFileFlag(t *testing.T) {
	cases := map[string]struct {
		value string
		ok    bool
	}{
		"a top-level destination": {"bin/pause=/pause", true},
		"a nested destination":    {"bin/pause=/usr/bin/pause", false},
		"a relative destination":  {"bin/pause=pause", false},
		"no destination":          {"bin/pause", false},
		"an empty source":         {"=/pause", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := fileList{}.Set(tc.value)
			if (err == nil) != tc.ok {
				t.Fatalf("Set(%q) = %v, want ok=%v", tc.value, err, tc.ok)
			}
		})
	}
}

func TestWriteRefusesIncompleteOptions(t *testing.T) {
	if err := Write(Options{Ref: "x:y", Output: filepath.Join(t.TempDir(), "x.tar")}); err == nil {
		t.Fatal("an image without files must be refused")
	}
}
