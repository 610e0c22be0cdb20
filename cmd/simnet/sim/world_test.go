package sim

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestGenerateDeterministic(t *testing.T) {
	a, err := Generate(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(tinyConfig())
	ja, _ := a.MarshalIndent()
	jb, _ := b.MarshalIndent()
	if !bytes.Equal(ja, jb) {
		t.Errorf("same seed: got different worlds, want equal")
	}
	cfg := tinyConfig()
	cfg.Seed++
	c, _ := Generate(cfg)
	jc, _ := c.MarshalIndent()
	if bytes.Equal(ja, jc) {
		t.Errorf("other seed: got the same world, want a different one")
	}
}

func TestGenerateKinds(t *testing.T) {
	cfg := tinyConfig()
	w, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []DomainKind{KindShare, KindDeadFirst, KindRefuseFirst, KindCrossed, KindImplicit, KindCNAME, KindNullMX, KindNXDomain, KindSilent, KindTruncate} {
		t.Run(string(k), func(t *testing.T) {
			ds := w.DomainsOf(k)
			want := 2
			if k == KindShare {
				want = 4
			}
			if len(ds) != want {
				t.Fatalf("domains: got %v, want %v", len(ds), want)
			}
			for _, d := range ds {
				switch k {
				case KindDeadFirst, KindRefuseFirst:
					wantKind := map[DomainKind]HostKind{KindDeadFirst: HostDead, KindRefuseFirst: HostRefuse}[k]
					if len(d.MX) != 2 || d.MX[0].Host.Kind != wantKind || d.MX[1].Host.Kind != HostLive {
						t.Errorf("%s MX: got %+v, want %s then live", d.Name, d.MX, wantKind)
					}
				case KindCrossed:
					p := w.Domain(d.CrossedWith)
					if p == nil || p.MX[0].Host != d.MX[1].Host || p.MX[1].Host != d.MX[0].Host {
						t.Errorf("%s crossed with %q: MX do not cross", d.Name, d.CrossedWith)
					}
				case KindShare:
					for _, o := range ds {
						if o.ShareGroup == d.ShareGroup && o.MX[0].Host != d.MX[0].Host {
							t.Errorf("share group %d: got first MX %s and %s, want one host", d.ShareGroup, d.MX[0].Host.Name, o.MX[0].Host.Name)
						}
					}
				case KindImplicit:
					if len(d.MX) != 0 || d.ImplicitHost == nil || d.ImplicitHost.Kind != HostLive {
						t.Errorf("%s: got MX %v implicit %v, want no MX and a live host", d.Name, d.MX, d.ImplicitHost)
					}
				case KindCNAME:
					if w.Domain(d.CNAMETarget) != d || len(d.MX) != 1 {
						t.Errorf("%s: CNAME target %q does not own its MX", d.Name, d.CNAMETarget)
					}
				}
				wantOutcome := map[DomainKind]Outcome{KindNullMX: Bounced, KindNXDomain: Bounced, KindSilent: Deferred}[k]
				if wantOutcome == "" {
					wantOutcome = Delivered
				}
				for _, u := range d.Users {
					if got := w.Recipient(u + "@" + d.Name).Expect; got != wantOutcome {
						t.Errorf("%s@%s: got %v, want %v", u, d.Name, got, wantOutcome)
					}
				}
			}
		})
	}
	t.Run("host addresses", func(t *testing.T) {
		seen := map[string]bool{}
		for _, h := range w.Hosts {
			a := h.Addr.As4()
			if a[0] != 127 || a[1] == 0 || a[3] == 0 || a[3] == 255 || seen[h.Addr.String()] {
				t.Errorf("host %s: got address %v, want a distinct 127.x.y.z outside 127.0/16", h.Name, h.Addr)
			}
			seen[h.Addr.String()] = true
		}
	})
	t.Run("too many kinds", func(t *testing.T) {
		cfg := tinyConfig()
		cfg.Share = 0.9
		if _, err := Generate(cfg); err == nil {
			t.Errorf("got no error, want one for kinds exceeding the domains")
		}
	})
}

func TestGeneratorOutput(t *testing.T) {
	w, err := Generate(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	var list bytes.Buffer
	if err := w.WriteRecipients(&list); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(list.String(), "\n"), "\n")
	if len(lines) != len(w.Recipients) {
		t.Fatalf("recipient lines: got %v, want %v", len(lines), len(w.Recipients))
	}
	for i, l := range lines {
		if w.Recipient(l) != w.Recipients[i] {
			t.Errorf("line %d: got %q, want %q", i+1, l, w.Recipients[i].Addr)
		}
	}

	session := w.LMTPSession()
	sc := bufio.NewScanner(bytes.NewReader(session))
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.Index(data, []byte("\r\n")); i >= 0 {
			return i + 2, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), nil, bufio.ErrFinalToken
		}
		return 0, nil, nil
	})
	var cmds []string
	var msg bytes.Buffer
	inData := false
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "\n") || strings.Contains(l, "\r") {
			t.Fatalf("line %q: bare CR or LF", l)
		}
		switch {
		case inData && l == ".":
			inData = false
			cmds = append(cmds, ".")
		case inData:
			msg.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
		default:
			cmds = append(cmds, l)
			inData = l == "DATA"
		}
	}
	if !bytes.HasSuffix(session, []byte("\r\n")) {
		t.Errorf("session does not end with CRLF")
	}
	want := []string{"LHLO simnet.test", "MAIL FROM:<" + ListSender + ">"}
	for _, r := range w.Recipients {
		want = append(want, "RCPT TO:<"+r.Addr+">")
	}
	want = append(want, "DATA", ".", "QUIT")
	if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands: got %d lines starting %q, want %d starting %q", len(cmds), cmds[:2], len(want), want[:2])
	}
	if got := HashMessage(msg.Bytes()); got != MessageSHA256() {
		t.Errorf("message after un-dot-stuffing: got %q, want TestMessage", msg.String())
	}
	if !bytes.Contains(session, []byte("\r\n..this line")) {
		t.Errorf("session: want the leading dot stuffed")
	}
}

func TestBound(t *testing.T) {
	const dd, rtt = 100 * time.Millisecond, 10 * time.Millisecond
	base := Config{Seed: 3, Domains: 5, Hosts: 3, Users: 1, DeadFirst: 1, Implicit: 1, Truncate: 1, CNAME: 1,
		DNSDelay: dd, RTT: rtt}
	tests := []struct {
		name      string
		noPipe    float64
		want      map[DomainKind]time.Duration
		wantBound time.Duration
	}{
		// pipelining: DNS + 4 RTT (greeting, EHLO, MAIL/RCPT/DATA, dot)
		{"pipelining", 0, map[DomainKind]time.Duration{
			KindNormal: dd + 4*rtt, KindDeadFirst: dd + 4*rtt, KindCNAME: dd + 4*rtt,
			KindImplicit: 2*dd + 4*rtt, KindTruncate: 2*dd + 4*rtt}, 2*dd + 4*rtt},
		// without: MAIL, RCPT, DATA one RTT each: 6 RTT
		{"no pipelining", 2, map[DomainKind]time.Duration{
			KindNormal: dd + 6*rtt, KindDeadFirst: dd + 6*rtt, KindCNAME: dd + 6*rtt,
			KindImplicit: 2*dd + 6*rtt, KindTruncate: 2*dd + 6*rtt}, 2*dd + 6*rtt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.NoPipelining = tc.noPipe
			w, err := Generate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range w.Domains {
				got, ok := w.Bound(d.Users[0] + "@" + d.Name)
				if !ok || got != tc.want[d.Kind] {
					t.Errorf("%s (%s): got %v %v, want %v", d.Name, d.Kind, got, ok, tc.want[d.Kind])
				}
			}
			if got := w.MaxBound(); got != tc.wantBound {
				t.Errorf("max bound: got %v, want %v", got, tc.wantBound)
			}
		})
	}
	t.Run("undeliverable has no bound", func(t *testing.T) {
		w, _ := Generate(tinyConfig())
		if _, ok := w.Bound(w.DomainsOf(KindNXDomain)[0].Users[0] + "@" + w.DomainsOf(KindNXDomain)[0].Name); ok {
			t.Errorf("NXDOMAIN recipient: got a bound, want none")
		}
	})
}

func TestCount(t *testing.T) {
	tests := []struct {
		share float64
		n     int
		want  int
	}{{0, 10, 0}, {0.25, 10, 3}, {0.5, 10, 5}, {1, 10, 1}, {3, 10, 3}, {30, 10, 10}}
	for _, tc := range tests {
		if got := count(tc.share, tc.n); got != tc.want {
			t.Errorf("count(%v, %v): got %v, want %v", tc.share, tc.n, got, tc.want)
		}
	}
}
