package main

// DataFile is the bbolt file under --data-dir.
const DataFile = "restkube.db"

// MediaDir is the media archive's directory under --data-dir (see package media).
const MediaDir = "media"
