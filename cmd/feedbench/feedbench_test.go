package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// buildSmtpfeed builds the smtpfeed command into a temporary directory.
func buildSmtpfeed(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test runs with the go command on PATH
	if err != nil {
		t.Fatalf("no go command to build smtpfeed with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "smtpfeed")
	if out, err := exec.Command(goBin, "build", "-o", bin, "smtpfeed/cmd/smtpfeed").CombinedOutput(); err != nil {
		t.Fatalf("go build smtpfeed: %v\n%s", err, out)
	}
	return bin
}

// TestDemoTinyWorld runs the demo against a small world with every kind
// the demo shows and expects its checks to pass.
func TestDemoTinyWorld(t *testing.T) {
	bin := buildSmtpfeed(t)
	cfg := demoConfig(7)
	cfg.Domains, cfg.Hosts = 40, 15
	cfg.Share, cfg.DeadFirst, cfg.DeadHosts, cfg.NXDomain, cfg.BounceRcpts, cfg.DeferRcpts = 5, 1, 1, 1, 1, 1
	var out bytes.Buffer
	if err := runDemo(cfg, runOpts{smtpfeed: bin, dir: t.TempDir(), connect: 300 * time.Millisecond}, &out); err != nil {
		t.Fatalf("runDemo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"OK: every recipient answered once", "duplicates: 0", "unknown domain", "bounced "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "\n"); n >= 40 {
		t.Errorf("demo output has %d lines, want fewer than 40", n)
	}
}

// TestAssign: replies map to recipients as RFC 2033 orders them; a
// recipient refused at RCPT keeps that refusal, a missing reply shows.
func TestAssign(t *testing.T) {
	session := "220 x ready\r\n250-x\r\n250 PIPELINING\r\n250 ok\r\n" + // greeting, LHLO, MAIL
		"250 ok a\r\n550 5.1.3 bad b\r\n250 ok c\r\n354 go\r\n" + // RCPT a b c, DATA
		"250 2.0.0 a done\r\n" // only a's final reply: c unanswered
	replies, err := readReplies(strings.NewReader(session), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var r run
	r.assign(replies, 3)
	got := []string{answerText(r.answers[0]), answerText(r.answers[1]), answerText(r.answers[2])}
	want := []string{"250 2.0.0 a done", "550 5.1.3 bad b", "(no answer)"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("answer %d = %q, want %q", i, got[i], want[i])
		}
	}
	if len(r.oddities) != 0 {
		t.Errorf("oddities = %q, want none", r.oddities)
	}
	if r.answers[1].class() != sim.Bounced {
		t.Errorf("class(550) = %v, want bounced", r.answers[1].class())
	}
}

// TestSVG: the chart is well-formed XML with one polyline vertex per
// point and one line per marker beyond the two axes.
func TestSVG(t *testing.T) {
	var times []time.Duration
	for i := range 2500 {
		times = append(times, time.Duration(i)*time.Millisecond)
	}
	pts := cumulative(times, 1000)
	if len(pts) > 1001 || pts[len(pts)-1].n != 2500 || pts[0].n != 1 {
		t.Fatalf("cumulative: %d points, first %v, last %v", len(pts), pts[0], pts[len(pts)-1])
	}
	var b bytes.Buffer
	marks := []marker{{80 * time.Millisecond, "bound <80ms> & more", "red"}}
	if err := writeSVG(&b, "t & <t>", pts, 2500, marks); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	var vertices, lines int
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "polyline":
			for _, a := range se.Attr {
				if a.Name.Local == "points" {
					vertices = len(strings.Fields(a.Value))
				}
			}
		case "line":
			lines++
		}
	}
	if vertices != len(pts) {
		t.Errorf("polyline has %d vertices, want %d", vertices, len(pts))
	}
	if lines != 2+len(marks) {
		t.Errorf("%d lines, want %d (two axes and one per marker)", lines, 2+len(marks))
	}
}

func TestStraceCalls(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	text := "% time     seconds  usecs/call     calls    errors syscall\n" +
		"------ ----------- ----------- --------- --------- ----------------\n" +
		" 60.00    0.000600           3       200        10 epoll_pwait\n" +
		"------ ----------- ----------- --------- --------- ----------------\n" +
		"100.00    0.001000           2       345        12 total\n"
	if err := writeFile(path, text); err != nil {
		t.Fatal(err)
	}
	if n, err := straceCalls(path); err != nil || n != 345 {
		t.Errorf("straceCalls = %d, %v, want 345", n, err)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// TestLoggedDone: the peak, the loop's busy time and the handshakes
// come from smtpfeed's last log line, found at the end of a long log; a
// log without it says so.
func TestLoggedDone(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long.log")
	body := strings.Repeat("m000001: to=<u@d.test>, stat=Sent\n", 10000) +
		"smtpfeed: done, peak RSS 58.5 MiB, loop busy 412.5ms, longest pass 3.1ms, tls handshakes 998, handshake worker time 1.2s, loop cpu 300ms\n"
	if err := os.WriteFile(long, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	want := doneLine{rssKiB: 59904, loopBusy: 412500 * time.Microsecond, pass: 3100 * time.Microsecond, handshakes: 998, handshakeWorkers: 1200 * time.Millisecond, loopCPU: 300 * time.Millisecond}
	if d, ok := loggedDone(long); !ok || d != want {
		t.Errorf("loggedDone = %+v, %v; want %+v", d, ok, want)
	}
	none := filepath.Join(dir, "none.log")
	if err := os.WriteFile(none, []byte("smtpfeed: done\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if kb, ok := loggedDone(none); ok {
		t.Errorf("loggedDone without the figure = %+v, true; want false", kb)
	}
}
