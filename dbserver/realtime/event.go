package realtime

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/store"
)

// Event names on the stream, as restdb.io's clients listen for them.
const (
	EventPost    = "post"
	EventPut     = "put"
	EventDelete  = "delete"
	EventPublish = "publish"
	EventPing    = "ping"
	EventReset   = "reset"
)

// Methods of collection events, as channels name them (restdb.io's <METHOD>:<COLLECTION>).
const (
	MethodPost    = "POST"
	MethodPut     = "PUT"
	MethodDelete  = "DELETE"
	MethodPublish = "PUBLISH"
)

// event is one message of the stream: a collection change or a published message.
type event struct {
	seq  uint64
	name string // EventPost, EventPut, EventDelete or EventPublish
	// coll is the collection of a change; topic the name of a published message.
	coll, topic string
	// ids and owners (their _createdby) are the documents of a change: one for post and put,
	// one or more for delete.
	ids, owners []string
	// doc is the stored document of a post; msg the payload of a publish.
	doc, msg []byte
	// frame is the whole event as written to a subscriber who may hear all of it.
	frame []byte
	// at is when the hub took it in (ring age).
	at time.Time
}

// method is the channel method of e.
func (e *event) method() string {
	switch e.name {
	case EventPost:
		return MethodPost
	case EventPut:
		return MethodPut
	case EventDelete:
		return MethodDelete
	}
	return MethodPublish
}

// eventsOf turns one committed write into events: a post or put per document, one delete for
// all the documents a write deleted (restdb.io sends a delete's ids as one array).
func eventsOf(changes []store.Change) []*event {
	var out []*event
	var del *event
	for _, c := range changes {
		switch c.Op {
		case store.OpInsert:
			out = append(out, &event{name: EventPost, coll: c.Coll, ids: []string{c.ID}, owners: []string{c.CreatedBy}, doc: c.Doc})
		case store.OpUpdate:
			out = append(out, &event{name: EventPut, coll: c.Coll, ids: []string{c.ID}, owners: []string{c.CreatedBy}})
		case store.OpDelete:
			if del == nil || del.coll != c.Coll {
				del = &event{name: EventDelete, coll: c.Coll}
				out = append(out, del)
			}
			del.ids = append(del.ids, c.ID)
			del.owners = append(del.owners, c.CreatedBy)
		}
	}
	return out
}

// encode returns e's frame for the documents in ids (all of them unless a subscriber may see
// only some), with the hub's epoch in the id.
func (e *event) encode(epoch string, ids []string) []byte {
	return e.appendFrame(make([]byte, 0, e.frameSize(len(ids))), epoch, ids)
}

// frameSize is about the length of e's frame for n documents.
func (e *event) frameSize(n int) int { return 64 + len(e.doc) + len(e.msg) + 26*n }

// appendFrame appends e's frame for the documents in ids to b.
func (e *event) appendFrame(b []byte, epoch string, ids []string) []byte {
	b = append(b, "id: "...)
	b = appendID(b, epoch, e.seq)
	b = append(b, "\nevent: "...)
	b = append(b, e.name...)
	b = append(b, "\ndata: {\"event\":"...)
	if e.name == EventPublish {
		b = strconv.AppendQuote(b, e.topic) // a name matching settings.Channel: plain ASCII
		b = append(b, `,"data":`...)
		b = append(b, e.msg...)
	} else {
		b = strconv.AppendQuote(b, e.name)
		b = append(b, `,"collection":`...)
		b = strconv.AppendQuote(b, e.coll) // a collection name: plain ASCII
		b = append(b, `,"data":`...)
		switch e.name {
		case EventPost:
			b = append(b, e.doc...)
		case EventPut:
			b = strconv.AppendQuote(b, ids[0])
		case EventDelete:
			b = append(b, '[')
			for i, id := range ids {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendQuote(b, id) // ids are hex
			}
			b = append(b, ']')
		}
	}
	return append(b, "}\n\n"...)
}

// appendID appends an event id: the epoch, a dash, the sequence number.
func appendID(b []byte, epoch string, seq uint64) []byte {
	b = append(b, epoch...)
	b = append(b, '-')
	return strconv.AppendUint(b, seq, 10)
}

// pingFrame is the keepalive: restdb.io's clients read its data as a date.
func pingFrame(now time.Time) []byte {
	return []byte("event: " + EventPing + "\ndata: " + jsondoc.FormatTime(now) + "\n\n")
}

// resetFrame tells a reconnecting client that the events it missed are gone; its id is the
// newest event's, so the client resumes from there.
func resetFrame(epoch string, last uint64, reason string) []byte {
	data, _ := json.Marshal(map[string]string{"event": EventReset, "reason": reason})
	b := append([]byte("id: "), epoch...)
	b = append(b, '-')
	b = strconv.AppendUint(b, last, 10)
	b = append(b, "\nevent: "+EventReset+"\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}
