// Command e2e-images writes the small images the e2e cluster needs (the sandbox "pause" image
// and test workloads) as docker-archive tarballs, with no container engine and no registry:
// nothing can be pulled on these machines, so hack/e2e-cluster.sh builds static binaries and
// wraps each in a FROM-scratch image that `ctr -n k8s.io images import` loads.
//
//	go run ./hack/e2e-images -image restkube.local/pause:e2e -file bin/pause=/pause \
//	    -entrypoint /pause -user 65535:65535 -output pause.tar
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/restkube/restkube/internal/ociimage"
)

// fileList collects repeated -file SRC=DST flags.
type fileList map[string]string

func (f fileList) String() string { return fmt.Sprint(map[string]string(f)) }

func (f fileList) Set(v string) error {
	src, dst, ok := strings.Cut(v, "=")
	// Only top-level paths: the layer holds no directory entries.
	if !ok || src == "" || !strings.HasPrefix(dst, "/") || strings.Count(dst, "/") != 1 {
		return fmt.Errorf("want SRC=/DST with DST a top-level path, got %q", v)
	}
	f[dst] = src
	return nil
}

// Options says what goes into one image.
type Options struct {
	Ref        string
	Files      map[string]string // path in the image → file on the host
	Entrypoint []string
	User       string
	Output     string
}

func main() {
	o := Options{Files: fileList{}}
	var entry string
	flag.StringVar(&o.Ref, "image", "", "image reference (a tag)")
	flag.Var(fileList(o.Files), "file", "SRC=/DST: copy host file SRC to /DST in the image, mode 0755 (repeatable)")
	flag.StringVar(&entry, "entrypoint", "", "entrypoint, space separated")
	flag.StringVar(&o.User, "user", "65532:65532", "user the image runs as")
	flag.StringVar(&o.Output, "output", "", "docker-archive tarball to write")
	flag.Parse()
	o.Entrypoint = strings.Fields(entry)
	if err := Write(o); err != nil {
		fmt.Fprintln(os.Stderr, "e2e-images:", err)
		os.Exit(1)
	}
}

// Write builds the image and writes it to o.Output, through a temporary file so an interrupted
// run never leaves a truncated tarball behind.
func Write(o Options) error {
	if o.Ref == "" || o.Output == "" || len(o.Files) == 0 {
		return errors.New("-image, -output and at least one -file are required")
	}
	ref, err := name.NewTag(o.Ref, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", o.Ref, err)
	}
	img, err := build(o)
	if err != nil {
		return err
	}
	return ociimage.WriteTarball(o.Output, ref, img)
}

func build(o Options) (v1.Image, error) {
	data, err := layerTar(o.Files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("while making the layer: %w", err)
	}
	return ociimage.Scratch(layer, func(cf *v1.ConfigFile) {
		cf.Architecture = runtime.GOARCH
		cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
		cf.Config.Entrypoint = o.Entrypoint
		cf.Config.User = o.User
	})
}

// layerTar writes the files in a stable order, owned by root, executable by everyone.
func layerTar(files map[string]string) ([]byte, error) {
	dsts := make([]string, 0, len(files))
	for dst := range files {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dst := range dsts {
		b, err := os.ReadFile(files[dst])
		if err != nil {
			return nil, fmt.Errorf("while reading %s: %w", files[dst], err)
		}
		hdr := &tar.Header{Name: strings.TrimPrefix(dst, "/"), Mode: 0o755, Size: int64(len(b)),
			Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("while writing %s: %w", dst, err)
		}
		if _, err := tw.Write(b); err != nil {
			return nil, fmt.Errorf("while writing %s: %w", dst, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("while closing the layer: %w", err)
	}
	return buf.Bytes(), nil
}
