// Command image writes the RestKube container image as a docker-archive tarball, with no
// container engine and no registry: `make image` runs it on the binaries it has just built.
//
// The image is FROM scratch with a single layer holding /manager, /dbserver and a CA bundle
// (the dbserver calls Auth0 over HTTPS). The tarball loads with `docker load -i` and
// `ctr -n k8s.io images import`. The Dockerfile at the repository root builds the same layout.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/restkube/restkube/internal/ociimage"
)

// Paths inside the image; the Dockerfile and the operator's pod contract use the same ones.
const (
	managerPath  = "/manager"
	dbserverPath = "/dbserver"
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"
	// nonRootUser is distroless' "nonroot"; the chart and the operator's pods run as it too.
	nonRootUser = "65532:65532"
	sourceURL   = "https://github.com/restkube/restkube"
)

// Options says what goes into the image and where the tarball is written.
type Options struct {
	Manager  string // path of the static manager binary
	DBServer string // path of the static dbserver binary
	CABundle string // path of the PEM CA bundle copied to /etc/ssl/certs/ca-certificates.crt
	Ref      string // the image's reference, e.g. restkube/restkube:v0.1.0
	Version  string // org.opencontainers.image.version
	Commit   string // org.opencontainers.image.revision
	Arch     string // the binaries' GOARCH
	Created  time.Time
	Output   string // tarball path
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(2)
	}
	if err := Write(opts); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("image: wrote %s (%s)\n", opts.Output, opts.Ref)
}

func parseFlags(args []string, getenv func(string) string) (Options, error) {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o Options
	fs.StringVar(&o.Manager, "manager", "bin/manager", "static manager binary")
	fs.StringVar(&o.DBServer, "dbserver", "bin/dbserver", "static dbserver binary")
	fs.StringVar(&o.CABundle, "ca-bundle", caBundlePath, "PEM CA bundle of the build machine, copied into the image")
	fs.StringVar(&o.Version, "version", "dev", "version label (and default tag)")
	fs.StringVar(&o.Commit, "commit", "unknown", "revision label")
	fs.StringVar(&o.Ref, "image", "", "image reference (default restkube/restkube:<version>)")
	fs.StringVar(&o.Arch, "arch", runtime.GOARCH, "GOARCH the binaries were built for")
	fs.StringVar(&o.Output, "output", "bin/restkube-image.tar", "docker-archive tarball to write")
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Ref == "" {
		o.Ref = "restkube/restkube:" + o.Version
	}
	// SOURCE_DATE_EPOCH makes the image reproducible from one commit; the Unix epoch otherwise.
	o.Created = time.Unix(0, 0).UTC()
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Options{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		o.Created = time.Unix(sec, 0).UTC()
	}
	return o, nil
}

// Write builds the image and writes it to o.Output as a docker-archive tagged o.Ref.
func Write(o Options) error {
	ref, err := name.NewTag(o.Ref, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("image reference %q must be a tag: %w", o.Ref, err)
	}
	img, err := Build(o, ref.String())
	if err != nil {
		return err
	}
	return ociimage.WriteTarball(o.Output, ref, img)
}

// Build returns the image: scratch, one layer, and a config that runs /manager as non-root
// with DBSERVER_IMAGE pointing at itself (the operator's pods run /dbserver from the same image).
func Build(o Options, ref string) (v1.Image, error) {
	layer, err := buildLayer(o)
	if err != nil {
		return nil, err
	}
	return ociimage.Scratch(layer, func(cf *v1.ConfigFile) {
		cf.Architecture = o.Arch
		cf.Created = v1.Time{Time: o.Created}
		cf.Config.Entrypoint = []string{managerPath}
		cf.Config.Cmd = nil
		cf.Config.User = nonRootUser
		cf.Config.Env = []string{"DBSERVER_IMAGE=" + ref}
		cf.Config.Labels = map[string]string{
			"org.opencontainers.image.title":       "restkube",
			"org.opencontainers.image.description": "RestKube operator (/manager) and dbserver (/dbserver)",
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.revision":    o.Commit,
			"org.opencontainers.image.source":      sourceURL,
			"org.opencontainers.image.licenses":    "Apache-2.0",
		}
	})
}

// entry is one regular file of the layer.
type entry struct {
	src  string // file on the build machine
	dst  string // absolute path in the image
	mode int64
	what string // for error messages
}

func buildLayer(o Options) (v1.Layer, error) {
	entries := []entry{
		{src: o.Manager, dst: managerPath, mode: 0o755, what: "manager binary (run `make build`)"},
		{src: o.DBServer, dst: dbserverPath, mode: 0o755, what: "dbserver binary (run `make build`)"},
		{src: o.CABundle, dst: caBundlePath, mode: 0o644, what: "CA bundle (install the ca-certificates package or pass -ca-bundle)"},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, e := range entries {
		if err := addParents(tw, path.Dir(e.dst), dirs, o.Created); err != nil {
			return nil, err
		}
		if err := addFile(tw, e, o.Created); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("while closing the layer: %w", err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("while compressing the layer: %w", err)
	}
	return layer, nil
}

// addParents writes a directory entry for every missing ancestor of dir, root first, so
// that the layer extracts the same on every runtime (some do not create implied parents).
func addParents(tw *tar.Writer, dir string, done map[string]bool, mtime time.Time) error {
	if dir == "/" || dir == "." || done[dir] {
		return nil
	}
	if err := addParents(tw, path.Dir(dir), done, mtime); err != nil {
		return err
	}
	done[dir] = true
	hdr := &tar.Header{
		Typeflag: tar.TypeDir,
		Name:     dir[1:] + "/",
		Mode:     0o755,
		ModTime:  mtime,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("while adding directory %s: %w", dir, err)
	}
	return nil
}

func addFile(tw *tar.Writer, e entry, mtime time.Time) error {
	f, err := os.Open(e.src)
	if err != nil {
		return fmt.Errorf("%s: %w", e.what, err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", e.what, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is not a regular file", e.what, e.src)
	}
	if fi.Size() == 0 {
		return fmt.Errorf("%s: %s is empty", e.what, e.src)
	}
	// Owner root and fixed modes whatever the build machine's umask: the image must not depend on it.
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     e.dst[1:],
		Mode:     e.mode,
		Size:     fi.Size(),
		ModTime:  mtime,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("while adding %s: %w", e.dst, err)
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("while copying %s: %w", e.src, err)
	}
	if n != fi.Size() {
		return errors.New(e.src + " changed while it was being copied")
	}
	return nil
}
