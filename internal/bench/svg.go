package bench

import (
	"fmt"
	"io"
	"math"
)

// WriteSVG draws p50 and p99 latency against offered load for a sweep of open-loop runs.
func WriteSVG(w io.Writer, title string, runs []*Result) error {
	const W, H, L, B, T, R = 640.0, 400.0, 60.0, 50.0, 40.0, 20.0
	maxX, maxY := 1.0, 1.0
	for _, r := range runs {
		maxX = math.Max(maxX, r.OfferedRate)
		maxY = math.Max(maxY, r.P99Ms)
	}
	x := func(v float64) float64 { return L + v/maxX*(W-L-R) }
	y := func(v float64) float64 { return H - B - v/maxY*(H-B-T) }
	if _, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="12">`+"\n", W, H); err != nil {
		return err
	}
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/><text x="%g" y="20" font-size="14">%s</text>`+"\n", L, title)
	fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/><line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", L, H-B, W-R, H-B, L, T, L, H-B)
	for i := 0; i <= 4; i++ {
		fx, fy := maxX*float64(i)/4, maxY*float64(i)/4
		fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">%.0f</text><text x="%g" y="%g" text-anchor="end">%.1f</text>`+"\n", x(fx), H-B+16, fx, L-6, y(fy)+4, fy)
	}
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">offered load (requests/s)</text><text x="14" y="%g" transform="rotate(-90 14 %g)" text-anchor="middle">latency (ms)</text>`+"\n", (L+W-R)/2, H-10, (T+H-B)/2, (T+H-B)/2)
	for _, series := range []struct {
		name  string
		color string
		get   func(*Result) float64
	}{{"p50", "#1f77b4", func(r *Result) float64 { return r.P50Ms }}, {"p99", "#d62728", func(r *Result) float64 { return r.P99Ms }}} {
		pts := ""
		for _, r := range runs {
			pts += fmt.Sprintf("%.1f,%.1f ", x(r.OfferedRate), y(series.get(r)))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", series.color, pts)
		for _, r := range runs {
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(r.OfferedRate), y(series.get(r)), series.color)
		}
	}
	fmt.Fprintf(w, `<text x="%g" y="%g" fill="#1f77b4">p50</text><text x="%g" y="%g" fill="#d62728">p99</text>`+"\n", W-R-60, T+10, W-R-30, T+10)
	_, err := fmt.Fprintln(w, "</svg>")
	return err
}
