package lmtp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const threeRcpts = "LHLO c.test\r\nMAIL FROM:<s@b.test>\r\nRCPT TO:<r1@b.test>\r\nRCPT TO:<r2@b.test>\r\nRCPT TO:<r3@b.test>\r\nDATA\r\nhi\r\n.\r\n"

// drain takes everything the session has to write.
func drain(s *Session) string {
	out := string(s.Output())
	s.Wrote(len(out))
	return out
}

// started runs a session up to its first message, its replies so far
// written.
func started(t *testing.T, cfg Config, in string) (*Session, *Message) {
	t.Helper()
	s := NewSession(cfg)
	s.Feed([]byte(in))
	drain(s)
	m, ok := s.Next()
	if !ok {
		t.Fatalf("no message after %q", in)
	}
	if _, ok := s.Next(); ok {
		t.Fatal("Next handed out the same message twice")
	}
	return s, m
}

func TestAnswerOrder(t *testing.T) {
	s, m := started(t, Config{}, threeRcpts)
	steps := []struct {
		i       int
		want    string
		pending int
	}{
		{2, "", 2},
		{0, "250 2.0.0 one\r\n", 1},
		{1, "451 4.2.0 two\r\n250 2.0.0 three\r\n", 0},
	}
	text := []string{"one", "two", "three"}
	code := []Reply{{250, "2.0.0", ""}, {451, "4.2.0", ""}, {250, "2.0.0", ""}}
	for _, st := range steps {
		r := code[st.i]
		r.Text = text[st.i]
		if err := s.Answer(m, st.i, r); err != nil {
			t.Fatalf("Answer(%d) = %v", st.i, err)
		}
		if got := drain(s); got != st.want {
			t.Errorf("after Answer(%d) wrote %q, want %q", st.i, got, st.want)
		}
		if got := s.Pending(); got != st.pending {
			t.Errorf("after Answer(%d) Pending() = %d, want %d", st.i, got, st.pending)
		}
	}
}

func TestAnswerRefused(t *testing.T) {
	s, m := started(t, Config{}, threeRcpts)
	ok := Reply{250, "2.0.0", "ok"}
	for _, i := range []int{0, 2} { // 2 is held until 1 is answered
		if err := s.Answer(m, i, ok); err != nil {
			t.Fatal(err)
		}
	}
	drain(s)
	for _, tt := range []struct {
		name string
		m    *Message
		i    int
		want error
	}{
		{"second answer", m, 0, ErrAnswered},
		{"second answer, first held", m, 2, ErrAnswered},
		{"negative", m, -1, ErrNoRcpt},
		{"past the end", m, 3, ErrNoRcpt},
		{"nil message", nil, 1, ErrNotCurrent},
		{"other message", &Message{Rcpts: m.Rcpts}, 1, ErrNotCurrent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Answer(tt.m, tt.i, Reply{550, "5.0.0", "no"}); !errors.Is(err, tt.want) {
				t.Errorf("Answer = %v, want %v", err, tt.want)
			}
			if got := drain(s); got != "" {
				t.Errorf("a refused Answer wrote %q", got)
			}
		})
	}
	s.Answer(m, 1, ok)
	if got, want := drain(s), "250 2.0.0 ok\r\n250 2.0.0 ok\r\n"; got != want {
		t.Errorf("after the last answer wrote %q, want %q", got, want)
	}
	if err := s.Answer(m, 1, ok); !errors.Is(err, ErrNotCurrent) {
		t.Errorf("Answer after the message was done = %v, want %v", err, ErrNotCurrent)
	}
}

func TestAnswerSanitized(t *testing.T) {
	for _, tt := range []struct {
		in   Reply
		want string
	}{
		{Reply{250, "2.1.5", "fine"}, "250 2.1.5 fine"},
		{Reply{250, "2.01.000", "zeros kept"}, "250 2.01.000 zeros kept"},
		{Reply{550, "5.999.999", ""}, "550 5.999.999"},
		{Reply{250, "", "no code"}, "250 2.0.0 no code"},
		{Reply{250, "5.1.1", "wrong class"}, "250 2.0.0 wrong class"},
		{Reply{550, "5.1.1234", "bad detail"}, "550 5.0.0 bad detail"},
		{Reply{550, "5.1", "two parts"}, "550 5.0.0 two parts"},
		{Reply{550, "5.1.1.1", "four parts"}, "550 5.0.0 four parts"},
		{Reply{550, "5..1", "empty subject"}, "550 5.0.0 empty subject"},
		{Reply{550, "5.1.", "empty detail"}, "550 5.0.0 empty detail"},
		{Reply{550, "55.1.1", "long class"}, "550 5.0.0 long class"},
		{Reply{550, "5.x.1", "letter"}, "550 5.0.0 letter"},
		{Reply{451, "4.4.1", "line\r\nbreak\x00"}, "451 4.4.1 line??break?"},
		{Reply{354, "", "not final"}, "451 4.3.0 local error: invalid reply 354 for this recipient"},
		{Reply{0, "", ""}, "451 4.3.0 local error: invalid reply 0 for this recipient"},
		{Reply{599, "5.0.0", ""}, "451 4.3.0 local error: invalid reply 599 for this recipient"},
		{Reply{550, "5.0.0", strings.Repeat("x", 1000)}, "550 5.0.0 " + strings.Repeat("x", maxReplyText-3) + "..."},
	} {
		t.Run(tt.in.String()[:min(len(tt.in.String()), 30)], func(t *testing.T) {
			s, m := started(t, Config{}, "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n.\r\n")
			s.Answer(m, 0, tt.in)
			if got := drain(s); got != tt.want+"\r\n" {
				t.Errorf("Answer(%v) wrote %q, want %q", tt.in, got, tt.want+"\r\n")
			}
			// The same answer held until an earlier one comes.
			s, m = started(t, Config{}, "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n")
			s.Answer(m, 1, tt.in)
			s.Answer(m, 0, Reply{250, "2.0.0", "first"})
			if got, want := drain(s), "250 2.0.0 first\r\n"+tt.want+"\r\n"; got != want {
				t.Errorf("Answer(%v) held wrote %q, want %q", tt.in, got, want)
			}
		})
	}
}

// TestCommandsWaitForAnswers: a command pipelined behind the final dot is
// not answered before the message's answers, and buffered input turns
// WantInput off.
func TestCommandsWaitForAnswers(t *testing.T) {
	s, m := started(t, Config{}, threeRcpts+"NOOP\r\n")
	if !s.WantInput() {
		t.Fatal("WantInput false with a few bytes buffered")
	}
	s.Feed([]byte(strings.Repeat("NOOP\r\n", maxBuffered/6+1)))
	if got := drain(s); got != "" {
		t.Fatalf("wrote %q before any answer", got)
	}
	if s.WantInput() {
		t.Fatal("WantInput true with 64 KiB buffered")
	}
	for i := range 3 {
		s.Answer(m, i, Reply{250, "2.0.0", "ok"})
	}
	out := ""
	for len(s.Output()) > 0 {
		out += drain(s)
	}
	want := strings.Repeat("250 2.0.0 ok\r\n", 3+1+maxBuffered/6+1)
	if out != want {
		t.Fatalf("wrote %d octets, want %d", len(out), len(want))
	}
	if !s.WantInput() {
		t.Fatal("WantInput false once the buffer is consumed")
	}
}

// TestOutputBound: a caller that pipelines without reading our replies
// stops being answered once maxOutput is unwritten.
func TestOutputBound(t *testing.T) {
	s := NewSession(Config{})
	s.Feed([]byte(strings.Repeat("NOOP\r\n", 2*maxOutput/14)))
	if n := len(s.Output()); n < maxOutput || n > maxOutput+100 {
		t.Fatalf("Output holds %d octets, want just past %d", n, maxOutput)
	}
	total := 0
	for len(s.Output()) > 0 {
		total += len(drain(s))
	}
	if want := len("220 localhost LMTP smtpfeed ready\r\n") + 2*maxOutput/14*len("250 2.0.0 ok\r\n"); total != want {
		t.Fatalf("wrote %d octets in all, want %d", total, want)
	}
}

// TestAnswersWaitForRoom: answers given all at once are queued only while
// Output has room, the rest as Wrote makes it, still in RCPT order and
// before the command pipelined behind the dot.
func TestAnswersWaitForRoom(t *testing.T) {
	const n = 2000
	in := "LHLO c\r\nMAIL FROM:<>\r\n" + strings.Repeat("RCPT TO:<a@b.test>\r\n", n) + "DATA\r\n.\r\nNOOP\r\n"
	s := NewSession(Config{})
	s.Feed([]byte(in))
	for len(s.Output()) > 0 {
		drain(s)
	}
	m, ok := s.Next()
	if !ok {
		t.Fatal("no message")
	}
	text := func(i int) string { return fmt.Sprintf("%04d %s", i, strings.Repeat("x", 300)) }
	for i := n - 1; i >= 0; i-- {
		if err := s.Answer(m, i, Reply{250, "2.0.0", text(i)}); err != nil {
			t.Fatalf("Answer(%d) = %v", i, err)
		}
	}
	if got := len(s.Output()); got > maxOutput+MaxCommandLine {
		t.Fatalf("Output holds %d octets after every answer, want at most about %d", got, maxOutput)
	}
	if s.Pending() != 0 {
		t.Fatalf("Pending() = %d after every answer, want 0", s.Pending())
	}
	var out strings.Builder
	for len(s.Output()) > 0 {
		out.WriteString(drain(s))
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\r\n"), "\r\n")
	if len(lines) != n+1 {
		t.Fatalf("wrote %d lines, want %d answers and NOOP's reply", len(lines), n)
	}
	for i, l := range lines[:n] {
		if want := "250 2.0.0 " + text(i); l != want {
			t.Fatalf("line %d = %.20q..., want %.20q...", i, l, want)
		}
	}
	if got := lines[n]; got != "250 2.0.0 ok" {
		t.Fatalf("last line = %q, want NOOP's reply", got)
	}
}

func TestEOFWithAnswersPending(t *testing.T) {
	s, m := started(t, Config{}, threeRcpts+"MAIL FROM:<s@b.test>\r\n")
	s.EOF()
	if s.Done() {
		t.Fatal("Done with answers owed")
	}
	s.Answer(m, 1, Reply{250, "2.0.0", "ok"})
	s.Answer(m, 0, Reply{250, "2.0.0", "ok"})
	if s.Done() {
		t.Fatal("Done with an answer owed")
	}
	s.Answer(m, 2, Reply{250, "2.0.0", "ok"})
	if s.Done() {
		t.Fatal("Done before the answers were written")
	}
	if got, want := drain(s), "250 2.0.0 ok\r\n250 2.0.0 ok\r\n250 2.0.0 ok\r\n250 2.1.0 sender <s@b.test> ok\r\n"; got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	if !s.Done() {
		t.Fatal("not Done once everything is written")
	}
}

func TestDoneAfterQuit(t *testing.T) {
	s := NewSession(Config{Hostname: "h"})
	s.Feed([]byte("QUIT\r\n"))
	if s.Done() || s.WantInput() {
		t.Fatalf("Done %v WantInput %v before the 221 is written", s.Done(), s.WantInput())
	}
	out := s.Output()
	s.Wrote(len(out) - 1)
	if s.Done() {
		t.Fatal("Done with one octet unwritten")
	}
	s.Wrote(1)
	if !s.Done() {
		t.Fatal("not Done after QUIT written")
	}
	s.Feed([]byte("NOOP\r\n"))
	if len(s.Output()) != 0 {
		t.Fatal("answered after QUIT")
	}
}

func TestMessageFields(t *testing.T) {
	_, m := started(t, Config{}, "LHLO c\r\nMAIL FROM:<@r:s@b.test> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<@x:a@b.test>\r\nRCPT TO:<ö@b.test>\r\nDATA\r\n..x\r\n.\r\n")
	if m.Seq != 1 || m.From.Addr != "s@b.test" || !m.EightBit || !m.SMTPUTF8 || string(m.Data) != ".x\r\n" {
		t.Errorf("message = %+v", m)
	}
	if len(m.Rcpts) != 2 || m.Rcpts[0] != "a@b.test" || m.Rcpts[1] != "ö@b.test" {
		t.Errorf("recipients = %+v", m.Rcpts)
	}
}

func TestStateNames(t *testing.T) {
	for st := range numStates {
		if st.String() == "" || st.String() == "invalid" {
			t.Errorf("state(%d).String() = %q", st, st.String())
		}
	}
	if got := numStates.String(); got != "invalid" {
		t.Errorf("numStates.String() = %q", got)
	}
}

func TestIllegalTransitionPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("greeted -> data did not panic")
		}
	}()
	NewSession(Config{}).to(stateData)
}

func TestAbandoned(t *testing.T) {
	for _, c := range []struct {
		name string
		tail string
		want bool
	}{
		{"closed without QUIT", "", true},
		{"QUIT pipelined before closing", "QUIT\r\n", false},
		{"another command, no QUIT", "NOOP\r\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewSession(Config{Hostname: "feed.test"})
			s.Feed([]byte("LHLO a\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n" + c.tail))
			if _, ok := s.Next(); !ok {
				t.Fatal("no message handed out")
			}
			if s.Abandoned() {
				t.Fatal("Abandoned() before EOF")
			}
			s.EOF()
			if got := s.Abandoned(); got != c.want {
				t.Fatalf("Abandoned() = %v, want %v", got, c.want)
			}
		})
	}
}
