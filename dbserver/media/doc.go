/*
Package media is the media archive of one RestKube database (restdb.io's /media): uploaded
files on the volume beside the bbolt file, their metadata in the bbolt file, and image sizes
made on first request and kept.

# Layout

Everything lives under one directory, <data-dir>/media (Options.Dir):

	<data-dir>/media/<id>      the file's content, byte for byte as uploaded
	<data-dir>/media/<id>.t    its 128 px wide thumbnail (images only; made on first ?s=t)
	<data-dir>/media/<id>.w    its 640 px wide web size (images only; made on first ?s=w)
	<data-dir>/media/tmp/      files being written; swept at every Open

<id> is 24 lowercase hex characters: 12 random bytes (96 bits from crypto/rand), the shape of a
restdb.io media id but not an ObjectID, so that an id cannot be guessed from another. The file
name a client sent is never part of a path: it is kept in the metadata only.

The metadata of each file is a JSON object (Meta) under its id in the store's meta bucket
"media" (store.PutMetas, GetMeta, DeleteMeta, ScanMeta). A file exists when its metadata does.

# Crash safety

An upload writes each file into tmp/, fsyncs it, renames it to <id> and fsyncs the directory;
only then does it commit the metadata of all the request's files in one bbolt transaction. A
crash before that commit leaves files without metadata (or temporary files), which no request
can reach and which Open removes; a crash after it leaves whole files with their metadata.
Delete commits the removal of the metadata first and unlinks the files after it; a crash in
between leaves files without metadata, removed at the next Open. Image sizes are written the
same way (tmp/, fsync, rename) and are only a cache: a missing one is made again.

# Online backups

A backup reads the bbolt file in one read transaction and copies the files its snapshot
names. Pin makes that safe while the archive is in use: between Pin and the last call of the
release functions it returns, Delete still commits its metadata removal at once but queues the
unlinking of files, which runs when the last pin is released. So a backup that calls Pin and
then opens its read transaction finds on disk every file its snapshot references. Uploads need
no such care: a file is in place before its metadata commits. tmp/ holds nothing a backup wants.

# Image sizes

JPEG, PNG and GIF images get two sizes, 128 px (?s=t) and 640 px (?s=w) wide, aspect ratio
kept, never enlarged: an image no wider than the size is served as it is. They are scaled with
golang.org/x/image/draw's bilinear kernel, which widens to average every source pixel when
shrinking (Catmull-Rom took twice as long for no visible gain at these widths). A size is made
once, on its first request, and kept beside the original (JPEG sources give JPEG sizes, PNG
and GIF give PNG; a GIF's first frame). Decompression bombs are refused before decoding:
image.DecodeConfig reads the dimensions, and an image of more than Options.MaxPixels pixels
(25 million by default) gets no sizes. One size is made at a time, which bounds the memory a
burst of first requests can take. Sizes once read are kept in memory too (at most 16 MiB in
all, each at most 256 KiB, first in first out), so that a page of thumbnails is served
without touching the disk.

# Caveats

Files are immutable: there is no update, only upload and delete. The archive keeps no count of
references from documents: deleting a file that documents still name leaves those ids dangling.
*/
package media
