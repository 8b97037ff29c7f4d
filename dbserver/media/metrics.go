package media

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the archive's series on /metrics.
type metrics struct {
	uploads   prometheus.Counter
	downloads *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, a *Archive) (*metrics, error) {
	m := &metrics{
		uploads: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "restkube", Name: "media_uploads_total",
			Help: "Files stored in the media archive (committed uploads).",
		}),
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "restkube", Name: "media_downloads_total",
			Help: "Files opened for download from the media archive, by size (original, t, w).",
		}, []string{"size"}),
	}
	cs := []prometheus.Collector{
		m.uploads, m.downloads,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "restkube", Name: "media_files",
			Help: "Files in the media archive.",
		}, func() float64 { return float64(a.Files()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "restkube", Name: "media_bytes",
			Help: "Bytes stored in the media archive (originals; image sizes not counted).",
		}, func() float64 { return float64(a.Bytes()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("media: registering metrics: %w", err)
		}
	}
	return m, nil
}

// countDownload counts one download of size s.
func (a *Archive) countDownload(s Size) {
	if a.metrics == nil {
		return
	}
	label := string(s)
	if s == Original {
		label = "original"
	}
	a.metrics.downloads.WithLabelValues(label).Inc()
}
