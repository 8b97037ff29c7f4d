package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers GIF with image.Decode and image.DecodeConfig
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/image/draw"
)

// Size names a version of a file: the original or an image size.
type Size string

// The sizes restdb.io serves (?s=t, ?s=w), and the original (no s).
const (
	Original Size = ""
	Thumb    Size = "t"
	Web      Size = "w"
)

// ParseSize reads the s query parameter; ok is false for anything but "", "t" and "w".
func ParseSize(s string) (Size, bool) {
	switch Size(s) {
	case Original, Thumb, Web:
		return Size(s), true
	}
	return "", false
}

// Width is the width in pixels of an image size (0 for Original).
func (s Size) Width() int {
	switch s {
	case Thumb:
		return 128
	case Web:
		return 640
	}
	return 0
}

// jpegQuality is the quality of JPEG sizes: small files, no visible blocks at these widths.
const jpegQuality = 85

// Content is the content Open found: the bytes to serve (seekable, for ranges), their size
// and their content type (before any allow-list: see ServedType). Close it when done.
type Content struct {
	io.ReadSeeker
	Size int64
	Type string
	f    *os.File // nil when served from memory
}

// Close releases the file behind c, if any.
func (c *Content) Close() error {
	if c.f == nil {
		return nil
	}
	return c.f.Close()
}

// Open opens the content to serve for m at size s. The original is served for an image no
// wider than the size; a size not made yet is made now and kept.
func (a *Archive) Open(m *Meta, s Size) (*Content, error) {
	if s == Original || (isImage(m.MimeType) && m.Width > 0 && m.Width <= s.Width()) {
		c, err := openFile(filepath.Join(a.dir, m.ID), m.MimeType)
		if err != nil {
			return nil, err
		}
		a.countDownload(s)
		return c, nil
	}
	if !isImage(m.MimeType) || m.Width <= 0 || m.Height <= 0 {
		return nil, ErrNotImage
	}
	if int64(m.Width)*int64(m.Height) > int64(a.maxPixels) {
		return nil, ErrImageTooLarge
	}
	typ := sizeType(m.MimeType)
	name := m.ID + "." + string(s)
	if b := a.cache.get(name); b != nil {
		a.countDownload(s)
		return &Content{ReadSeeker: bytes.NewReader(b), Size: int64(len(b)), Type: typ}, nil
	}
	path := filepath.Join(a.dir, name)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := a.makeSize(m, s, path); err != nil {
			return nil, err
		}
	}
	c, err := openFile(path, typ)
	if err != nil {
		return nil, err
	}
	if c.Size <= maxCachedSize {
		b, err := io.ReadAll(c.f)
		_ = c.f.Close()
		if err != nil {
			return nil, fmt.Errorf("media: reading a size of %s: %w", m.ID, err)
		}
		a.cache.put(name, b)
		c = &Content{ReadSeeker: bytes.NewReader(b), Size: int64(len(b)), Type: typ}
	}
	a.countDownload(s)
	return c, nil
}

// openFile opens path as the Content of type typ; a missing file is ErrNotFound (it was
// deleted since its metadata was read).
func openFile(path, typ string) (*Content, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("media: opening %s: %w", filepath.Base(path), err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("media: opening %s: %w", filepath.Base(path), err)
	}
	return &Content{ReadSeeker: f, Size: fi.Size(), Type: typ, f: f}, nil
}

// sizeType is the content type of the sizes of an image of type mimeType.
func sizeType(mimeType string) string {
	if mimeType == "image/jpeg" {
		return "image/jpeg"
	}
	return "image/png"
}

// makeSize writes the size s of m to path (through tmp/, fsynced, renamed), unless another
// request made it meanwhile or the file was deleted.
func (a *Archive) makeSize(m *Meta, s Size, path string) error {
	a.sizeMu.Lock()
	defer a.sizeMu.Unlock()
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	// Delete holds sizeMu while it removes metadata and files: checking here, under it, means
	// a size is never put in place for a file that is gone.
	if _, err := a.Get(m.ID); err != nil {
		return err
	}
	src, err := os.Open(filepath.Join(a.dir, m.ID))
	if err != nil {
		return fmt.Errorf("media: opening %s: %w", m.ID, err)
	}
	defer src.Close()
	img, err := decodeBounded(src, a.maxPixels)
	if err != nil {
		return err
	}
	b := img.Bounds()
	w := s.Width()
	h := max(1, int((int64(b.Dy())*int64(w)+int64(b.Dx())/2)/int64(b.Dx())))
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)

	f, err := os.CreateTemp(a.tmp, "size-*")
	if err != nil {
		return fmt.Errorf("media: creating a temporary file: %w", err)
	}
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if sizeType(m.MimeType) == "image/jpeg" {
		err = jpeg.Encode(f, dst, &jpeg.Options{Quality: jpegQuality})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(f, dst)
	}
	if err != nil {
		return fail(fmt.Errorf("media: encoding a size of %s: %w", m.ID, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("media: syncing a size of %s: %w", m.ID, err))
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("media: closing a size of %s: %w", m.ID, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("media: moving a size of %s into place: %w", m.ID, err)
	}
	return nil
}

// decodeBounded decodes a JPEG, PNG or GIF (its first frame), after checking from its header
// that it has at most maxPixels pixels: a small file can declare a huge image (a
// decompression bomb), and decoding allocates for what it declares.
func decodeBounded(r io.ReadSeeker, maxPixels int) (image.Image, error) {
	c, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if c.Width <= 0 || c.Height <= 0 {
		return nil, ErrNotImage
	}
	if int64(c.Width)*int64(c.Height) > int64(maxPixels) {
		return nil, ErrImageTooLarge
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("media: rewinding an image: %w", err)
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	return img, nil
}
