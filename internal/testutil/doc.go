// Package testutil holds the helpers that tests of several packages share: a settable clock,
// a buffer safe for concurrent writers, file writes and the rename-over swap that editors and
// Secret tooling do, and random JSON values. It is imported by tests only.
package testutil
