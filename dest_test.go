package smtpfeed

import (
	"net/netip"
	"testing"
	"time"

	"smtpfeed/cache"
)

// TestDestDownReason checks that the text recipients keep for a skipped
// address follows the reachability cache's reason, one string per reason.
func TestDestDownReason(t *testing.T) {
	loop := newLoop(t, nil)
	e := &Engine{loop: loop, down: cache.NewHosts(time.Minute)}
	d := &dest{e: e, name: "mx.example", addr: netip.MustParseAddr("192.0.2.1")}
	steps := []struct {
		markDown string // "" leaves the cache as it is
		want     string
	}{
		{"", "mx.example[192.0.2.1]: failed"},
		{"connection refused", "mx.example[192.0.2.1]: connection refused"},
		{"", "mx.example[192.0.2.1]: connection refused"},
		{"connection timed out", "mx.example[192.0.2.1]: connection timed out"},
	}
	for _, st := range steps {
		if st.markDown != "" {
			e.down.MarkDown(d.addr, st.markDown, loop.Now())
		}
		first := d.downReason()
		if first != st.want {
			t.Errorf("after MarkDown(%q): downReason() = %q, want %q", st.markDown, first, st.want)
		}
		if n := testing.AllocsPerRun(10, func() { d.downReason() }); n != 0 {
			t.Errorf("after MarkDown(%q): downReason() allocates %v times for a reason it has seen, want 0", st.markDown, n)
		}
	}
}
