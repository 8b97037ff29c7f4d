package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/restkube/restkube/dbserver/realtime"
	"github.com/restkube/restkube/dbserver/store"
)

// BenchmarkRealtimeFanout measures the server's cost of fanning creates out to 1000 streams
// over loopback (the streams' readers discard what they read).
func BenchmarkRealtimeFanout(b *testing.B) {
	e := newRealtimeEnvTB(b, realtime.Options{})
	cfg := realtimeConfig()
	cfg.Settings.Realtime.MaxSubscribers = 2000
	e.src.Set(cfg)
	const subs = 1000
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, subs)
	for range subs {
		c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /realtime HTTP/1.1\r\nHost: x\r\nx-apikey: %s\r\n\r\n", fullKey)
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, "200") {
			b.Fatal(line, err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, br) }()
	}
	b.ResetTimer()
	var w sync.WaitGroup
	per := b.N/16 + 1
	for range 16 {
		w.Add(1)
		go func() {
			defer w.Done()
			for range per {
				if _, err := e.st.Insert("items", []store.Doc{{"title": "realtime bench document", "n": 42.0}}, "api"); err != nil {
					panic(err)
				}
			}
		}()
	}
	w.Wait()
	b.StopTimer()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}
