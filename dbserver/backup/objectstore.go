package backup

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/restkube/restkube/dbserver/settings"
)

// partSize is the size of each multipart upload part. minio-go buffers one part at a time
// for a stream of unknown length, so it bounds the upload's memory; 8 MiB parts reach 78 GiB
// in S3's 10,000 parts.
const partSize = 8 << 20

// DefaultEndpoint is the object store used when none is configured.
const DefaultEndpoint = "https://s3.amazonaws.com"

// StoreConfig is an object store with its credentials. Its String and LogValue never show the
// credentials.
type StoreConfig struct {
	settings.ObjectStore
	AccessKeyID     string
	SecretAccessKey string
	// CAPEM, when set, is the only CA the store's TLS certificate is checked against.
	CAPEM []byte
}

// String describes the store without its credentials.
func (c StoreConfig) String() string {
	return fmt.Sprintf("s3 bucket %q prefix %q at %s", c.Bucket, c.Prefix, c.endpoint())
}

// LogValue logs the store without its credentials.
func (c StoreConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("bucket", c.Bucket), slog.String("prefix", c.Prefix), slog.String("endpoint", c.endpoint()))
}

func (c StoreConfig) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return c.Endpoint
}

// redact removes the credentials from a message that may quote them (a store's error).
func (c StoreConfig) redact(msg string) string {
	for _, secret := range []string{c.SecretAccessKey, c.AccessKeyID} {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}

// LoadStoreConfig completes store with the credential files in dir (settings.BackupAccessKeyFile,
// settings.BackupSecretKeyFile and, if present, settings.BackupCAFile).
func LoadStoreConfig(store settings.ObjectStore, dir string) (StoreConfig, error) {
	c := StoreConfig{ObjectStore: store}
	read := func(name string, required bool) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) && !required {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("backup: reading the object store credentials (%s): %w", name, err)
		}
		if len(b) > 64<<10 {
			return nil, fmt.Errorf("backup: %s is larger than 64 KiB", name)
		}
		return b, nil
	}
	id, err := read(settings.BackupAccessKeyFile, true)
	if err != nil {
		return StoreConfig{}, err
	}
	secret, err := read(settings.BackupSecretKeyFile, true)
	if err != nil {
		return StoreConfig{}, err
	}
	c.AccessKeyID, c.SecretAccessKey = strings.TrimSpace(string(id)), strings.TrimSpace(string(secret))
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return StoreConfig{}, fmt.Errorf("backup: %s and %s must not be empty", settings.BackupAccessKeyFile, settings.BackupSecretKeyFile)
	}
	if c.CAPEM, err = read(settings.BackupCAFile, false); err != nil {
		return StoreConfig{}, err
	}
	return c, nil
}

// Bucket is an S3-compatible bucket, through minio-go: a small client that streams an upload
// of unknown length as a multipart upload with one part buffer (the AWS SDK v2's upload
// manager keeps several parts in memory and pulls in far more dependencies).
type Bucket struct {
	cfg    StoreConfig
	client *minio.Client
}

// Object is one object of a listing.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// NewBucket connects to the store (lazily: the first request dials).
func NewBucket(cfg StoreConfig) (*Bucket, error) {
	u, err := url.Parse(cfg.endpoint())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("backup: object store endpoint %q is not an http(s) URL", cfg.endpoint())
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if len(cfg.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CAPEM) {
			return nil, fmt.Errorf("backup: %s holds no PEM certificate", settings.BackupCAFile)
		}
		transport.TLSClientConfig.RootCAs = pool
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:       u.Scheme == "https",
		Transport:    transport,
		Region:       region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("backup: %s: %s", cfg, cfg.redact(err.Error()))
	}
	return &Bucket{cfg: cfg, client: client}, nil
}

// Config returns the bucket's configuration.
func (b *Bucket) Config() StoreConfig { return b.cfg }

// wrap turns a client error into one that names the store and never quotes the credentials.
func (b *Bucket) wrap(what, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("backup: %s %q in %s: %s", what, key, b.cfg, b.cfg.redact(err.Error()))
}

// Put uploads r to key as a multipart upload, one part in memory at a time, and returns the
// bytes written. A failed upload is aborted, leaving no object.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	info, err := b.client.PutObject(ctx, b.cfg.Bucket, key, r, -1, minio.PutObjectOptions{
		PartSize:    partSize,
		ContentType: "application/zstd",
	})
	if err != nil {
		return 0, b.wrap("uploading", key, err)
	}
	return info.Size, nil
}

// Get opens the object at key.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := b.client.GetObject(ctx, b.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, b.wrap("reading", key, err)
	}
	// GetObject does not send a request until the first read; Stat does, so that a missing
	// object is reported here.
	if _, err := obj.Stat(); err != nil {
		_ = obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, fmt.Errorf("backup: no object %q in %s: %w", key, b.cfg, ErrNotFound)
		}
		return nil, b.wrap("reading", key, err)
	}
	return obj, nil
}

// List returns the objects whose keys start with prefix, in key order.
func (b *Bucket) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	for o := range b.client.ListObjects(ctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, b.wrap("listing", prefix, o.Err)
		}
		out = append(out, Object{Key: o.Key, Size: o.Size, LastModified: o.LastModified})
	}
	return out, nil
}

// Delete removes the object at key.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	return b.wrap("deleting", key, b.client.RemoveObject(ctx, b.cfg.Bucket, key, minio.RemoveObjectOptions{}))
}

// ErrNotFound reports a backup that is not in the store.
var ErrNotFound = errors.New("backup not found")

// ParseS3URL splits s3://bucket/key into its bucket and key.
func ParseS3URL(s string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URL", s)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if !settings.BucketName.MatchString(bucket) || key == "" || len(key) > 1024 {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URL", s)
	}
	return bucket, key, nil
}
