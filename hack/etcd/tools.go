//go:build tools

// Package tools pins etcd, whose main package is the root of go.etcd.io/etcd/server/v3;
// `go install ...@version` refuses it because of its replace directives, so it builds from here.
package tools

import _ "go.etcd.io/etcd/server/v3"
