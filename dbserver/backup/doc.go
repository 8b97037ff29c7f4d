/*
Package backup takes online backups of a RestKube database and restores them.

# Archives

An archive is a tar stream, compressed with zstd, holding the bbolt file (restkube.db), then
every media file (media/<path>, except the media directory's tmp folder), then manifest.json:
the format version, the database's name, the time of the backup, the number of documents and
media files, and each member's size and SHA-256. The manifest comes last because the checksums
are computed while the members stream.

Write copies the database file through one bbolt read transaction (Tx.WriteTo), so the copy is
the database as of one commit while writers go on: bbolt's copy-on-write keeps the pages the
transaction reads. A MediaSource's Pin keeps deleted media files until the copy is done, so
every file the copied metadata names is in the archive. Nothing in Write grows with the
database: the compressor runs on one goroutine with a 1 MiB window.

WriteFile writes an archive to a local file (through a temporary file beside it, fsync'd and
renamed into place). On Linux it writes around the page cache with O_DIRECT, in 1 MiB aligned
writes from the backup's own thread, so that a backup leaves no dirty pages for the kernel's
flusher to write while the database's commits wait on fsync; a file system that refuses direct
I/O gets ordinary writes. WriteOptions.Nice puts that thread at a lower CPU priority and in the
idle I/O class.

# Restore

Restore never writes over a database: it unpacks into a scratch directory inside the data dir,
checks every member against the manifest and the database file against bbolt's consistency
check and the manifest's document count, and only then renames the database and media into
place. A data dir that already holds a database is refused unless RestoreOptions.Force is set.
A restore cut short while renaming leaves a marker file, and the next Restore clears what it
left before it starts.

# Object storage

Bucket is an S3-compatible bucket through minio-go. An upload streams as a multipart upload
with one 8 MiB part in memory. Credentials are read from files in the config dir at each
backup; StoreConfig never prints them and errors from the store are scrubbed of them.

# Service

Service is what the admin endpoint drives: one backup at a time to the object store that
settings.json names, retention after each successful one (the newest is never deleted, and only
keys this package wrote are considered), the last runs kept in memory, and the backup metrics.
*/
package backup
