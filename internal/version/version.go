// Package version holds the version and commit stamped into both binaries at build time.
package version

// Version and Commit are set with -ldflags -X by the Makefile and the image build.
var (
	Version = "dev"
	Commit  = "unknown"
)

// String is the one-line version both binaries print for --version.
func String() string { return Version + " (" + Commit + ")" }
