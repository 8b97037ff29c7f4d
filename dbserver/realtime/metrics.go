package realtime

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hub's series.
type metrics struct {
	events      prometheus.Counter
	sent        prometheus.Counter
	dropped     prometheus.Counter
	rejected    prometheus.Counter
	disconnects *prometheus.CounterVec
}

// newMetrics builds the series and registers them (and a gauge of h's subscribers) on reg,
// unless reg is nil.
func newMetrics(reg prometheus.Registerer, h *Hub) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "restkube", Subsystem: "realtime", Name: "events_total",
			Help: "Events taken in by the realtime hub: collection changes and published messages.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "restkube", Subsystem: "realtime", Name: "events_sent_total",
			Help: "Events written to subscribers' streams (one per subscriber that heard it).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "restkube", Subsystem: "realtime", Name: "events_dropped_total",
			Help: "Events not delivered because their subscriber had fallen too far behind (it is disconnected).",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "restkube", Subsystem: "realtime", Name: "subscribers_rejected_total",
			Help: "Streams refused because realtime.maxSubscribers were open.",
		}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "restkube", Subsystem: "realtime", Name: "disconnects_total",
			Help: "Streams ended, by reason: client, slow, revoked, shutdown, overflow.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "restkube", Subsystem: "realtime", Name: "subscribers",
		Help: "Streams open at /realtime.",
	}, func() float64 { return float64(h.Subscribers()) })
	for _, c := range []prometheus.Collector{m.events, m.sent, m.dropped, m.rejected, m.disconnects, gauge} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("realtime: metrics already registered (one Hub per registry): %w", err)
			}
			return nil, fmt.Errorf("realtime: registering metrics: %w", err)
		}
	}
	// Every reason from the start, so that a rate() over them works before the first one.
	for _, r := range []string{ReasonClient, ReasonSlow, ReasonRevoked, ReasonShutdown, ReasonOverflow} {
		m.disconnects.WithLabelValues(r)
	}
	return m, nil
}
