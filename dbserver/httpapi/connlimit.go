package httpapi

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxConnections is the default cap on concurrent connections (`--max-connections`).
// A connection that reads a streamed page holds about one chunk plus the page's list of stored
// documents (a few hundred KB for a page of 10,000), so 128 such clients stay within a 128 Mi pod.
const DefaultMaxConnections = 128

// rejectTimeout bounds how long a refused connection may take to send its request and take
// the 503.
const rejectTimeout = time.Second

// maxRejecting bounds the refused connections being answered at once; beyond it they are
// closed without an answer, so a flood costs nothing.
const maxRejecting = 32

// LimitListener caps the connections ln hands to the HTTP server at max open at once
// (max <= 0: no cap). A connection beyond it is answered at once with our JSON 503 and closed,
// without reaching the server: it costs a goroutine for at most rejectTimeout, not a handler.
func LimitListener(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), rejecting: make(chan struct{}, maxRejecting), reply: busyReply(max)}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	rejecting chan struct{}
	reply     []byte
}

// busyReply is the whole HTTP answer to a connection over the cap.
func busyReply(max int) []byte {
	body := fmt.Sprintf(`{"status":503,"name":"ServiceUnavailable","message":"too many connections (the limit is %d); retry shortly"}`+"\n", max)
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 503 Service Unavailable\r\n")
	b.WriteString("Content-Type: application/json; charset=utf-8\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Retry-After: 1\r\nConnection: close\r\n\r\n")
	b.WriteString(body)
	return b.Bytes()
}

// Accept returns the next connection within the cap, answering those beyond it.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			l.refuse(c)
		}
	}
}

// refuse answers c with the 503 after reading its request head (closing with unread input
// would reset the connection before the client reads the answer).
func (l *limitListener) refuse(c net.Conn) {
	select {
	case l.rejecting <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-l.rejecting }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(rejectTimeout))
		r := bufio.NewReaderSize(c, 4096)
		for {
			line, err := r.ReadSlice('\n')
			if err != nil || len(bytes.TrimSpace(line)) == 0 {
				break
			}
		}
		_, _ = c.Write(l.reply)
	}()
}

// limitConn gives its slot back when closed or Unlimited (once, however often either is called).
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Unlimit gives the connection's slot back while it stays open: a realtime stream, counted by
// realtime.maxSubscribers instead, must not take a slot from requests for as long as it lasts.
func (c *limitConn) Unlimit() { c.once.Do(c.release) }

// NetConn returns the connection under the limit's bookkeeping, for writes that need it
// (net.Buffers makes one writev only on a *net.TCPConn); Close still goes to c.
func (c *limitConn) NetConn() net.Conn { return c.Conn }

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
