package sim

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestDSNHosts: a host picked by the DSN knob advertises DSN, takes RET,
// ENVID, NOTIFY and ORCPT and records them as received with each
// delivery; a host not picked refuses them (555), as before.
func TestDSNHosts(t *testing.T) {
	cfg := tinyConfig()
	cfg.DSN = 0.5
	s := startSim(t, cfg)
	for _, offer := range []bool{true, false} {
		t.Run(map[bool]string{true: "DSN", false: "no DSN"}[offer], func(t *testing.T) {
			h := liveHost(t, s.World, func(h *Host) bool { return !h.HeloOnly && h.DSN == offer && len(h.Serves) > 0 })
			d := plainDomainOn(t, s.World, h)
			c := dial(t, s, h)
			c.expect("220 ")
			c.send("EHLO test.client")
			lines := c.expect("250 ")
			if got := slices.ContainsFunc(lines[1:], func(l string) bool { return l[4:] == "DSN" }); got != offer {
				t.Fatalf("host %s advertises DSN: %v, want %v (%q)", h.Name, got, offer, lines)
			}
			if !offer {
				c.send("MAIL FROM:<a@b.test> RET=HDRS")
				c.expect("555 ")
				c.send("MAIL FROM:<a@b.test>", "RCPT TO:<"+d.Users[0]+"@"+d.Name+"> NOTIFY=NEVER")
				c.expect("250 ")
				c.expect("555 ")
				return
			}
			before := len(s.Report().Deliveries)
			c.send("MAIL FROM:<a@b.test> RET=HDRS ENVID=list+2B42",
				"RCPT TO:<"+d.Users[0]+"@"+d.Name+"> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2By@"+d.Name,
				"RCPT TO:<"+d.Users[1]+"@"+d.Name+">",
				"RCPT TO:<"+d.Users[2]+"@"+d.Name+"> notify=never",
				"RCPT TO:<"+d.Users[0]+"@"+d.Name+"> SIZE=1", "DATA")
			for _, want := range []string{"250 ", "250 ", "250 ", "250 ", "555 ", "354 "} {
				c.expect(want)
			}
			c.send("hi", ".")
			c.expect("250 ")
			got := map[string]Delivery{}
			for _, dl := range s.Report().Deliveries[before:] {
				got[dl.Rcpt] = dl
			}
			want := map[string]string{
				d.Users[0] + "@" + d.Name: "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2By@" + d.Name,
				d.Users[1] + "@" + d.Name: "",
				d.Users[2] + "@" + d.Name: "notify=never",
			}
			for a, params := range want {
				dl, ok := got[a]
				if !ok || dl.MailParams != "RET=HDRS ENVID=list+2B42" || dl.RcptParams != params {
					t.Errorf("%s: delivery %+v, want MAIL params %q and RCPT params %q", a, dl, "RET=HDRS ENVID=list+2B42", params)
				}
			}
		})
	}
}

// plainDomainOn returns a domain served by h with at least three users
// none of which is a defer- or bounce- one.
func plainDomainOn(t *testing.T, w *World, h *Host) *Domain {
	t.Helper()
	for _, d := range w.Domains {
		if hs := d.MXHosts(); len(hs) > 0 && hs[0] == h && d.Kind == KindNormal &&
			len(d.Users) >= 3 && !strings.Contains(strings.Join(d.Users, " "), "-") {
			return d
		}
	}
	t.Fatalf("host %s is first MX of no plain domain", h.Name)
	return nil
}

// TestDSNKnobKeepsWorld: the DSN knob picks hosts with a generator of
// its own: the world is the same as without it but for the hosts' DSN
// flags and the knob itself.
func TestDSNKnobKeepsWorld(t *testing.T) {
	base := DefaultConfig()
	with := base
	with.DSN = 0.5
	w0, err := Generate(base)
	if err != nil {
		t.Fatal(err)
	}
	w1, err := Generate(with)
	if err != nil {
		t.Fatal(err)
	}
	offering := 0
	for _, h := range w1.Hosts {
		if h.DSN {
			offering++
		}
		if h.DSN && (h.HeloOnly || h.Kind != HostLive) {
			t.Errorf("host %s offers DSN but is not a live ESMTP host", h.Name)
		}
		h.DSN = false
	}
	if offering == 0 {
		t.Fatal("DSN=0.5 picked no host")
	}
	w1.Config.DSN = 0
	b0, err := w0.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	b1, err := w1.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b0, b1) {
		t.Error("the DSN knob changed more than the hosts' DSN flags")
	}
}
