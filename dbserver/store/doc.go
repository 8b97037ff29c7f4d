/*
Package store keeps the documents of one RestKube database in one bbolt file.

# Basics

Open takes the file's exclusive lock (waiting at most Options.OpenTimeout, 2s by default, so a
second dbserver on the same volume fails fast with an error naming the file) and returns a
Store, which is safe for concurrent use. Close waits for queued writes and releases the lock.

A collection is a bbolt bucket nested under the top-level bucket "collections". Its documents
are keyed by the 12 bytes of their ObjectID, so key order is _id order is creation order: Scan
walks a collection in that order without sorting. Collections come into being with their first
document. The meta area (PutMeta, GetMeta, DeleteMeta, ScanMeta) is a small key/value store for
other packages, such as token revocations; its buckets sit under a separate top-level bucket
"meta", so their names can never collide with collection names.

Documents are JSON objects (Doc, numbers as float64). The store owns the system fields: Insert
drops every client top-level field whose name starts with "_" and sets _id, _created, _changed
(ISO-8601 UTC with milliseconds), _createdby, _changedby and _version 0; Update keeps _id,
_created and _createdby, bumps _version and sets _changed and _changedby. Update and Delete take
an expected version (AnyVersion for none) and fail with ErrVersionMismatch when it differs: the
HTTP layer's If-Match.

ObjectIDs follow MongoDB: 4 bytes of seconds, 5 random bytes drawn once per process, and a
3-byte counter seeded at random. Within one process they strictly increase even if the clock
goes back or the counter wraps (the generator then borrows the next second); on Open the
generator also starts after the newest stored id.

# Transactions and group commit

Reads (Get, Scan, Collections, GetMeta, ScanMeta) run in their own bbolt read transactions: a
consistent snapshot that never waits for writers. Every write (Insert, Update, Delete,
DeleteMany, DeleteWhere, PutMeta, DeleteMeta) is one transaction: a bulk Insert is all or
nothing, and DeleteMany and DeleteWhere delete all their matches or none.

Writes go through one committer goroutine. Writes that queue while a commit runs are committed
together in the next bbolt transaction, with one fsync, and only then acknowledged: under load
many writers share each commit, and a lone writer waits for no timer. (bbolt's own db.Batch
waits up to MaxBatchDelay, 10ms by default, before starting a batch, which makes 16 concurrent
writers slower than plain Update.) When a write fails, its request gets the error and the
others in its batch are unaffected: a write that fails before changing anything (unknown id,
version mismatch, a veto from apply or allow) simply drops out, and one that fails after
changing the transaction (or panics) makes the committer roll back, commit the rest without it,
and then run it alone, so nothing of a failed write is ever committed.

fsync is never disabled: a write acknowledged by this package survives a crash of the process
(the package's tests SIGKILL a writer and check every acknowledged write).

# Caveats

The callbacks given to Update (apply), Delete (allow), DeleteMany (allow) and DeleteWhere
(match) run inside the write transaction on the committer goroutine. They must be quick, must
not call the Store (that deadlocks), and may run more than once when their batch is retried,
so they must not have side effects beyond the document they are given.

Documents are decoded on every read; the caller owns the Doc it gets and may change it. Scan's
fn runs inside the read transaction: a long Scan keeps bbolt from reusing the pages freed since
it began, so the file grows while it runs.

A malformed id is reported as ErrNotFound by Get, Update and Delete and skipped by DeleteMany;
check ValidID first to answer 400 instead.

One file has one writer process: bbolt's lock is exclusive, which is why the database's
Deployment runs one replica with the Recreate strategy.
*/
package store
