package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// point is one step of a cumulative curve: n deliveries done at t.
type point struct {
	t time.Duration
	n int
}

// cumulative turns sorted delivery times into at most max points of the
// cumulative curve, always keeping the first and the last.
func cumulative(times []time.Duration, maxPoints int) []point {
	n := len(times)
	if n == 0 {
		return nil
	}
	step := max(1, (n+maxPoints-1)/maxPoints)
	var out []point
	for i := 0; i < n; i += step {
		out = append(out, point{times[i], i + 1})
	}
	if out[len(out)-1].n != n {
		out = append(out, point{times[n-1], n})
	}
	return out
}

// marker is a vertical line on the chart.
type marker struct {
	at    time.Duration
	label string
	color string
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 640, 360
	padL, padR     = 60, 20
	padT, padB     = 30, 40
)

// writeSVG writes a chart of cumulative deliveries over time, one polyline
// vertex per point, with the markers as vertical lines. Hand-written SVG:
// no dependencies.
func writeSVG(w io.Writer, title string, pts []point, total int, marks []marker) error {
	var span time.Duration
	for _, p := range pts {
		span = max(span, p.t)
	}
	for _, m := range marks {
		span = max(span, m.at)
	}
	span = max(span+span/20, time.Millisecond)
	total = max(total, 1)
	x := func(t time.Duration) float64 { return padL + float64(t)/float64(span)*(chartW-padL-padR) }
	y := func(n int) float64 { return chartH - padB - float64(n)/float64(total)*(chartH-padT-padB) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14">%s</text>`+"\n", padL, escape(title))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", padL, chartH-padB, chartW-padR, chartH-padB)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", padL, padT, padL, chartH-padB)
	for i := 0; i <= 4; i++ {
		t := span * time.Duration(i) / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%v</text>`+"\n", x(t), chartH-padB+16, t.Round(time.Millisecond))
		n := total * i / 4
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%d</text>`+"\n", padL-4, y(n)+4, n)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">time since start</text>`+"\n", (chartW+padL)/2, chartH-6)
	for i, m := range marks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>`+"\n",
			x(m.at), padT, x(m.at), chartH-padB, m.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s">%s</text>`+"\n", x(m.at)+3, padT+12+14*i, m.color, escape(m.label))
	}
	var coords []string
	for _, p := range pts {
		coords = append(coords, fmt.Sprintf("%.1f,%.1f", x(p.t), y(p.n)))
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="steelblue" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(coords, " "))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// escape makes text safe inside SVG elements.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
