package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

// Print writes the table, the scaling points, the RSS and the targets.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\n%-11s %-56s %4s %10s %10s %10s %9s\n", "section", "operation", "conc", "ops/s", "p50", "p99", "ratio")
	fmt.Fprintln(w, strings.Repeat("-", 116))
	for _, row := range r.Rows {
		ratio := ""
		if row.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", row.Ratio)
		}
		fmt.Fprintf(w, "%-11s %-56s %4d %10.0f %10s %10s %9s\n", row.Section, row.Name, row.Conc, row.Res.OpsPerSec(), ms(row.Res.P50), ms(row.Res.P99), ratio)
	}
	fmt.Fprintln(w, "\nratio: dbserver rows against the HTTP floor at the same concurrency, measured just before the operation;")
	fmt.Fprintln(w, "each dbserver row is the round with the median ratio of interleaved rounds of (floor, operation);")
	fmt.Fprintln(w, "engine rows against the json.Unmarshal scan.")
	fmt.Fprintf(w, "\nindexed query (n > X, sort n, max 20), concurrency 1, by collection size:\n")
	for _, p := range r.Scale {
		fmt.Fprintf(w, "  %9d docs   p50 %s   p99 %s   %8.0f ops/s   bulk-loaded at %.0f docs/s   peak RSS %.1f MiB\n",
			p.Docs, ms(p.Res.P50), ms(p.Res.P99), p.Res.OpsPerSec(), p.LoadRate, float64(p.RSS)/(1<<20))
	}
	if r.RSSDocs > 0 {
		fmt.Fprintf(w, "\ndbserver peak RSS (VmHWM) after loading %d docs: %.1f MiB\n", r.RSSDocs, float64(r.RSS)/(1<<20))
	}
	if m := r.Media; m != nil {
		fmt.Fprintf(w, "\nmedia upload of %d MiB, one streamed multipart POST: %.0f MiB/s; write+fsync of the same bytes on the same disk: %.0f MiB/s (ratio %.2f); dbserver peak RSS grew by %.1f MiB\n",
			m.Bytes>>20, m.UploadRate/(1<<20), m.DiskRate/(1<<20), m.UploadRate/m.DiskRate, float64(m.RSSGrowth)/(1<<20))
	}
	if r.Realtime != nil {
		var b strings.Builder
		r.Realtime.print(&b)
		fmt.Fprint(w, b.String())
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range r.Targets() {
		mark := "met"
		if !t.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "  %-62s %-22s %s\n", t.Name, t.Value, mark)
	}
}

// Target is one of the targets, evaluated on this run.
type Target struct {
	Name, Value string
	Met         bool
}

func (r *Report) row(section, name string, conc int) (Row, bool) {
	for _, row := range r.Rows {
		if row.Section == section && strings.HasPrefix(row.Name, name) && row.Conc == conc {
			return row, true
		}
	}
	return Row{}, false
}

// Targets evaluates the targets on what this run measured.
func (r *Report) Targets() []Target {
	var out []Target
	for _, t := range []struct {
		op   string
		want float64
	}{{"get by id", 0.60}, {"create", 0.40}, {"indexed query", 0.40}, {"update", 0.35}} {
		if row, ok := r.row("dbserver", t.op, 16); ok {
			out = append(out, Target{
				Name:  fmt.Sprintf("%s at concurrency 16 >= %.0f%% of the floor", t.op, t.want*100),
				Value: fmt.Sprintf("%.0f%%", row.Ratio*100),
				Met:   row.Ratio >= t.want,
			})
		}
	}
	if row, ok := r.row("dbserver", "media thumbnail", 16); ok {
		out = append(out, Target{Name: "media thumbnail GET at concurrency 16 >= 50% of the floor", Value: fmt.Sprintf("%.0f%%", row.Ratio*100), Met: row.Ratio >= 0.5})
	}
	if m := r.Media; m != nil {
		ratio := m.UploadRate / m.DiskRate
		out = append(out,
			Target{Name: fmt.Sprintf("media upload of %d MiB >= 50%% of write+fsync", m.Bytes>>20), Value: fmt.Sprintf("%.0f%%", ratio*100), Met: ratio >= 0.5},
			Target{Name: fmt.Sprintf("media upload of %d MiB: peak RSS grows <= 16 MiB", m.Bytes>>20), Value: fmt.Sprintf("%.1f MiB", float64(m.RSSGrowth)/(1<<20)), Met: m.RSSGrowth <= 16<<20},
		)
	}
	if len(r.Scale) >= 2 {
		first, last := r.Scale[0], r.Scale[len(r.Scale)-1]
		f := float64(last.Res.P50) / float64(first.Res.P50)
		out = append(out, Target{
			Name:  fmt.Sprintf("indexed query p50 at %d docs <= 2x at %d", last.Docs, first.Docs),
			Value: fmt.Sprintf("%.2fx", f),
			Met:   f <= 2,
		})
	}
	for _, row := range r.Rows {
		if row.Section == "engine" && strings.HasSuffix(row.Name, "planner") {
			out = append(out, Target{Name: "unindexed query >= 3x the naive decode-every-document scan", Value: fmt.Sprintf("%.1fx", row.Ratio), Met: row.Ratio >= 3})
		}
	}
	if r.RSSDocs > 0 {
		mib := float64(r.RSS) / (1 << 20)
		out = append(out, Target{Name: fmt.Sprintf("dbserver RSS <= 100 MiB after %d docs", r.RSSDocs), Value: fmt.Sprintf("%.1f MiB", mib), Met: mib <= 100})
	}
	if r.Realtime != nil {
		out = append(out, r.Realtime.targets()...)
	}
	return out
}
