package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// bar shows the progress of long work on stderr: a bar redrawn in place when both
// stdout and stderr are terminals, or else a plain line every few seconds (and at the
// end), so piped output and logs stay readable.
type bar struct {
	w        io.Writer
	label    string
	tty      bool
	start    time.Time
	lastLine time.Time
	drawn    bool
	count    int
	total    int
	failed   int
}

func newBar(w, stdout io.Writer, label string) *bar {
	return &bar{w: w, label: label, tty: isTerminal(w) && isTerminal(stdout), start: time.Now()}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// set records progress and shows it.
func (b *bar) set(done, total, failed int) {
	b.count, b.total, b.failed = done, total, failed
	now := time.Now()
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", b.line(now))
		b.drawn = true
		return
	}
	if now.Sub(b.lastLine) >= 2*time.Second || (total > 0 && done >= total) {
		b.lastLine = now
		fmt.Fprintln(b.w, b.line(now))
	}
}

// note prints a message above the bar.
func (b *bar) note(format string, args ...any) {
	if b.tty && b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
	fmt.Fprintf(b.w, format+"\n", args...)
	if b.tty && b.drawn {
		fmt.Fprint(b.w, b.line(time.Now()))
	}
}

// done ends the bar's line.
func (b *bar) done() {
	if b.tty && b.drawn {
		fmt.Fprintf(b.w, "\r\033[K%s\n", b.line(time.Now()))
		b.drawn = false
	}
}

func (b *bar) line(now time.Time) string {
	elapsed := now.Sub(b.start).Seconds()
	rate := 0
	if elapsed > 0 {
		rate = int(float64(b.count) / elapsed) // accounts per second, for display only
	}
	var sb strings.Builder
	const width = 30
	filled := 0
	if b.total > 0 {
		filled = min(width, b.count*width/b.total)
	}
	fmt.Fprintf(&sb, "%s [%s%s] %d/%d", b.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), b.count, b.total)
	fmt.Fprintf(&sb, "  %d/s", rate)
	if rate > 0 && b.total > b.count {
		eta := time.Duration(float64(b.total-b.count)/float64(rate)*1e9) * time.Nanosecond
		fmt.Fprintf(&sb, "  ETA %s", eta.Round(time.Second))
	}
	if b.failed > 0 {
		fmt.Fprintf(&sb, "  %d failed", b.failed)
	}
	return sb.String()
}
