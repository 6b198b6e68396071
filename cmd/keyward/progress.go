package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line bar with a rate and an ETA on a terminal.
type progress struct {
	mu    sync.Mutex // guards last
	w     io.Writer
	label string
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, start: time.Now()}
}

// update redraws the bar at most ten times a second, and always for the last item.
func (p *progress) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	filled := 0
	if total > 0 {
		filled = width * done / total
	}
	elapsed := now.Sub(p.start)
	eta := "--"
	if done > 0 && done < total {
		eta = (elapsed / time.Duration(done) * time.Duration(total-done)).Round(time.Second).String()
	}
	rate := float64(done) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d  %.1f/s  ETA %s   ", p.label,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total, rate, eta)
	if done >= total {
		fmt.Fprintf(p.w, "\n")
	}
}
