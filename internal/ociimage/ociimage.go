// Package ociimage builds the single-layer FROM-scratch images RestKube ships and tests with,
// and writes them as docker-archive tarballs, with no container daemon or registry.
package ociimage

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Scratch returns an image of one layer on nothing, with OS linux, working dir / and whatever
// configure sets on a copy of the config.
func Scratch(layer v1.Layer, configure func(*v1.ConfigFile)) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("while appending the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("while reading the base config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Config.WorkingDir = "/"
	configure(cf)
	return mutate.ConfigFile(img, cf)
}

// WriteTarball writes img to path as a docker-archive tagged ref, through a temporary file so
// a failed or interrupted run never leaves a truncated tarball that `docker load` or
// `ctr images import` would half-accept.
func WriteTarball(path string, ref name.Tag, img v1.Image) error {
	tmp := path + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("while writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("while renaming %s: %w", tmp, err)
	}
	return nil
}
