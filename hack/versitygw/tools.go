//go:build tools

// Package tools pins versitygw, an S3-compatible server whose POSIX backend stores objects as
// plain files; the backup tests start it on loopback as a real object store (nothing is mocked).
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
