package store

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// ObjectID is a MongoDB ObjectID: 4-byte big-endian seconds, 5 random bytes, 3-byte counter.
// Its 12 bytes are the key of a document in its collection's bucket.
type ObjectID [12]byte

// NewObjectID assembles an ObjectID from its three parts; the counter keeps its low 24 bits.
func NewObjectID(t time.Time, random [5]byte, counter uint32) ObjectID {
	return makeID(unixSeconds(t), random, counter)
}

// unixSeconds is t's Unix time clamped to the 4 bytes an ObjectID holds (1970 to 2106).
func unixSeconds(t time.Time) uint32 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	if s > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}

func makeID(secs uint32, random [5]byte, counter uint32) ObjectID {
	var id ObjectID
	binary.BigEndian.PutUint32(id[0:4], secs)
	copy(id[4:9], random[:])
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], counter)
	copy(id[9:12], c[1:])
	return id
}

// ParseObjectID decodes 24 lowercase hex characters.
func ParseObjectID(s string) (ObjectID, error) {
	var id ObjectID
	if !ValidID(s) {
		return id, fmt.Errorf("store: invalid id %q: want 24 lowercase hex characters", s)
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// String returns the 24 lowercase hex characters.
func (id ObjectID) String() string { return hex.EncodeToString(id[:]) }

// Time returns the creation second encoded in the id.
func (id ObjectID) Time() time.Time {
	return time.Unix(int64(binary.BigEndian.Uint32(id[0:4])), 0).UTC()
}

// ValidID reports whether id is 24 lowercase hex characters.
func ValidID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// idGen hands out strictly increasing ObjectIDs. As in MongoDB, the 5 random bytes are drawn
// once per generator, so within one second the counter alone orders the ids; the counter starts
// at a random value. Strictly increasing matters more here than wall-clock truth, because key
// order is creation order: when the clock goes back, or the counter wraps within one second,
// the generator keeps using (or borrows) the next second instead of going backwards.
type idGen struct {
	mu      sync.Mutex
	now     func() time.Time
	random  [5]byte
	secs    uint32 // seconds of the last id handed out
	counter uint32 // counter of the last id handed out (24 bits)
}

func newIDGen(now func() time.Time, rnd io.Reader) (*idGen, error) {
	var seed [8]byte
	if _, err := io.ReadFull(rnd, seed[:]); err != nil {
		return nil, fmt.Errorf("store: reading ObjectID randomness: %w", err)
	}
	g := &idGen{now: now}
	copy(g.random[:], seed[:5])
	g.counter = uint32(seed[5])<<16 | uint32(seed[6])<<8 | uint32(seed[7])
	return g, nil
}

// floor makes every later id greater than id (ids written by an earlier process whose clock ran ahead).
func (g *idGen) floor(id ObjectID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := binary.BigEndian.Uint32(id[0:4])
	// Our random bytes differ from the earlier process's, so sharing its second could sort
	// below it; start one second later instead.
	if s >= g.secs {
		g.secs = s + 1
	}
}

// next returns n consecutive ids.
func (g *idGen) next(n int) []ObjectID {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]ObjectID, n)
	for i := range ids {
		now := unixSeconds(g.now())
		g.counter = (g.counter + 1) & 0xFFFFFF
		switch {
		case now > g.secs:
			g.secs = now
		case g.counter == 0:
			// The counter wrapped within one second: only a later second keeps the order.
			g.secs++
		}
		ids[i] = makeID(g.secs, g.random, g.counter)
	}
	return ids
}
