// Package testutil holds the helpers that tests of several packages share: waiting for a
// condition (Eventually), a settable clock, a buffer safe for concurrent writers, file writes
// and the rename-over swap that editors and Secret tooling do, random JSON values, and
// installing a Debian package a test needs. It is imported by tests only.
package testutil
