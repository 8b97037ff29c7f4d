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

# Secondary indexes

SetIndexes declares the indexes of the whole database (collection → dot paths, from settings):
it drops the unwanted ones and builds the new ones from the stored documents, and does nothing
when the set is unchanged. A new index starts empty and marked as building (a key 0x00 in its
bucket); it is filled 2000 documents per transaction in _id order while writes go on and keep
it up to date, and the mark is removed when the walk ends. Queries ignore a marked index, so
they never see a partial one; a build cut short keeps its mark and the next SetIndexes (at the
next start or settings reload) finishes it. An index over 300k documents built in 0.56 s, during
which a write waited 6 ms (0.68 s when the build was one transaction). An index is a bucket "indexes"/<collection>/<path> of
keys only: kind byte, the value's encoding (EncodeIndexValue: bytes sort in MongoDB's cross-type
order, null < numbers < strings < objects < arrays < booleans, numbers as order-preserving
float64 bits, strings bytewise), then the 12-byte id. Every document has one IndexWhole entry,
its sort value (what query.SortValue returns, null when missing), so walking an index lists the
collection in sort order. A document whose value is an array (or a dot path fanning out over
arrays) also gets one IndexElements entry per distinct number, string and boolean it holds
(multikey), which is what equality and range conditions match through MongoDB's array rule.
Every write (Insert, Update, Delete, DeleteMany, DeleteWhere) changes the entries of the
documents it changes in the same transaction, so an index is never out of sync, and a write that
fails leaves no entry behind. Values longer than MaxIndexValue bytes are cut; the cut keeps
order against shorter operands, so the planner only uses an index for shorter operands.

View gives a query planner (package planner) a Snapshot: raw documents in _id order, single
documents, and index ranges (IndexScan), all in one read transaction.

# Encoding

Documents are stored as JSON, encoded and decoded by package jsondoc (a decoder and an encoder
of its own that give exactly encoding/json's results, faster; see its doc). A scan matches on a
partial decode of the fields a query names (jsondoc.DecodeFields) and decodes only the matches
in full. A binary encoding would decode whole documents faster, but matching needs only the
few fields a query names, and skipping the others in JSON costs little more than in a binary
form, while JSON keeps the file readable by any tool and needs no migration. codec.go is the
one place that turns a Doc into stored bytes and back.

# Transactions and group commit

Reads (Get, Scan, View, Collections, GetMeta, ScanMeta) run in their own bbolt read
transactions: a consistent snapshot that never waits for writers. bbolt has one exception: when
the file outgrows its memory mapping, the commit that grows it remaps the file, which waits for
every open read transaction to end and holds new ones back meanwhile. Open therefore maps 1 GiB
from the start (bbolt's InitialMmapSize): address space only, since pages count as resident
when touched and the file still grows only as data is written, and no remap happens before the
file passes 1 GiB. Every write (Insert, Update, Delete,
DeleteMany, DeleteWhere, PutMeta, DeleteMeta) is one transaction: a bulk Insert is all or
nothing, and DeleteMany and DeleteWhere delete all their matches or none.

Writes go through one committer goroutine. Writes that queue while a commit runs are committed
together in the next bbolt transaction, with one fsync, and only then acknowledged: under load
many writers share each commit, and a lone writer waits for no timer. (bbolt's own db.Batch
waits up to MaxBatchDelay, 10ms by default, before starting a batch, which makes 16 concurrent
writers slower than plain Update.) A commit does wait, for at most about two commits' time, for
the writers it expects: those the previous commit acknowledged and those that queued during it.
Over HTTP those writers come back a round trip later; without the wait, 16 clients settled into
two alternating groups of 8, each paying for a commit (two fdatasyncs, which on this machine's
virtual disk cost CPU as well as time); with it most commits carry all 16, which make bench shows as
more creates per second at concurrency 16.

Update prepares the new version of a document outside the committer, from a read snapshot
(decode, apply, encode), so that concurrent updates do that work in parallel; the committer
stores the result only if the document is still byte for byte the one it was made from, and
otherwise prepares it again inside the transaction. Index entries are rewritten only where the
indexed values change. When a write fails, its request gets the error and the
others in its batch are unaffected: a write that fails before changing anything (unknown id,
version mismatch, a veto from apply or allow) simply drops out, and one that fails after
changing the transaction (or panics) makes the committer roll back, commit the rest without it,
and then run it alone, so nothing of a failed write is ever committed.

fsync is never disabled: a write acknowledged by this package survives a crash of the process
(the package's tests SIGKILL a writer and check every acknowledged write).

# Limits and repair

Every document written is checked against Limits (nesting depth, 100 levels by default, below
the decoder's 10,000; stored size, 4 MiB by default, SetLimits follows the settings): a write over
one fails with a *LimitError and stores nothing, so the store never writes what it cannot read.
Delete and DeleteMany decode only _version and _createdby, so even a document that does not
decode (from a file an older version wrote) can be deleted; reading one is a *CorruptError naming
it. Check verifies that every document decodes and every index agrees with its documents, and
with repair removes or rebuilds what is broken (dbserver check, and a restore, run it).

# Caveats

The callbacks given to Update (apply), Delete (allow), DeleteMany (allow) and DeleteWhere
(match) run inside the write transaction on the committer goroutine. They must be quick, must
not call the Store (that deadlocks), and may run more than once when their batch is retried,
so they must not have side effects beyond the document they are given.

Documents are decoded on every read (there is no cache, which keeps memory flat as a
collection grows); the caller owns the Doc it gets and may change it. Scan's
fn runs inside the read transaction: a long Scan keeps bbolt from reusing the pages freed since
it began, so the file grows while it runs.

A malformed id is reported as ErrNotFound by Get, Update and Delete and skipped by DeleteMany;
check ValidID first to answer 400 instead.

Building an index runs on the write path: writes wait while a large collection is indexed.
Index keys are decoded from the stored bytes, so an index always agrees with what readers see.

One file has one writer process: bbolt's lock is exclusive, which is why the database's
Deployment runs one replica with the Recreate strategy.
*/
package store
