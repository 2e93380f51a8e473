package updater

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress receives the bytes as they are written and is told when the
// download ends. set moves it to n bytes: the bytes kept from an earlier
// attempt when resuming, 0 when a download restarts.
type progress interface {
	io.Writer
	set(n int64)
	done(ok bool)
}

func (d *Downloader) newProgress(name string, total int64) progress {
	switch {
	case d.Progress == nil:
		return nopProgress{}
	case d.TTY:
		max := total
		if max <= 0 {
			max = -1
		}
		w := d.Progress
		return &barProgress{bar: progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("downloading "+name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(100*time.Millisecond),
			// No spinner goroutine: it would outlive a failed download.
			progressbar.OptionSetSpinnerChangeInterval(0),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)}
	}
	return &lineProgress{w: d.Progress, name: name, total: total}
}

type nopProgress struct{}

func (nopProgress) Write(p []byte) (int, error) { return len(p), nil }
func (nopProgress) set(int64)                   {}
func (nopProgress) done(bool)                   {}

type barProgress struct{ bar *progressbar.ProgressBar }

func (b *barProgress) Write(p []byte) (int, error) {
	_ = b.bar.Add64(int64(len(p)))
	return len(p), nil
}

func (b *barProgress) set(n int64) { _ = b.bar.Set64(n) }

func (b *barProgress) done(ok bool) {
	if ok {
		_ = b.bar.Finish()
		return
	}
	_ = b.bar.Exit()
}

// lineProgress writes a plain line at most every 10% (every 10 MB when
// the size is unknown), for logs and non-terminals:
//
//	downloading adldap-v6.4.1.msi: 40% (4.0 MB / 10 MB)
type lineProgress struct {
	w     io.Writer
	name  string
	total int64 // <= 0: unknown
	n     int64
	step  int64 // last reported 10% step, or MB/10 when total unknown
}

const unknownSizeStep = 10 * 1000 * 1000

func (l *lineProgress) Write(p []byte) (int, error) {
	l.n += int64(len(p))
	if l.total > 0 {
		if s := l.n * 10 / l.total; s > l.step && l.n < l.total {
			l.step = s
			fmt.Fprintf(l.w, "downloading %s: %d%% (%s / %s)\n", l.name, s*10, formatBytes(l.n), formatBytes(l.total))
		}
	} else if s := l.n / unknownSizeStep; s > l.step {
		l.step = s
		fmt.Fprintf(l.w, "downloading %s: %s\n", l.name, formatBytes(l.n))
	}
	return len(p), nil
}

// set moves to n without printing: the next line comes at the next 10%
// step (or 10 MB) past n.
func (l *lineProgress) set(n int64) {
	l.n = n
	if l.total > 0 {
		l.step = n * 10 / l.total
	} else {
		l.step = n / unknownSizeStep
	}
}

func (l *lineProgress) done(ok bool) {
	switch {
	case !ok:
		fmt.Fprintf(l.w, "downloading %s: failed after %s\n", l.name, formatBytes(l.n))
	case l.total > 0 && l.n == l.total:
		fmt.Fprintf(l.w, "downloading %s: 100%% (%s / %s)\n", l.name, formatBytes(l.n), formatBytes(l.total))
	default:
		fmt.Fprintf(l.w, "downloading %s: done (%s)\n", l.name, formatBytes(l.n))
	}
}

// formatBytes renders n in decimal units: "950 B", "4.0 MB", "10 MB".
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	i := -1
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	suffix := [...]string{"kB", "MB", "GB", "TB"}[i]
	if f < 10 {
		return fmt.Sprintf("%.1f %s", f, suffix)
	}
	return fmt.Sprintf("%.0f %s", f, suffix)
}
