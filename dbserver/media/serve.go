package media

import "strings"

// inlineTypes are the sniffed types a browser may show on the database's own origin: they
// cannot run script. Everything else (HTML, SVG, XML, PDF, JavaScript, unknown binaries) is
// served as an attachment, as application/octet-stream.
var inlineTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true,
	"image/bmp": true, "image/x-icon": true, "image/avif": true,
	"audio/mpeg": true, "audio/wave": true, "audio/ogg": true, "audio/aiff": true,
	"audio/basic": true, "audio/midi": true,
	"video/mp4": true, "video/webm": true, "video/avi": true, "application/ogg": true,
	"text/plain": true,
}

// ServedType is how a file sniffed as mimeType is served: its Content-Type and whether it may
// be shown inline. Types off the allow-list become application/octet-stream attachments.
func ServedType(mimeType string) (contentType string, inline bool) {
	base, _, _ := strings.Cut(mimeType, ";")
	base = strings.TrimSpace(base)
	if !inlineTypes[base] {
		return "application/octet-stream", false
	}
	if base == "text/plain" {
		// Sniffing says text but not which charset; utf-8 is what the sniffer checked for.
		return "text/plain; charset=utf-8", true
	}
	return base, true
}
