package smtp

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/")

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// session runs a Client against a fakeServer until the connection is done
// or nothing moves, feeding the server's bytes in pieces of step bytes (0:
// whole). It returns the transcript: what each side wrote, line by line,
// and every result.
func session(srv *fakeServer, txs []*Envelope, step int, cfg Config) (string, *Client) {
	var tr strings.Builder
	if cfg.Hostname == "" {
		cfg.Hostname = "client.test"
	}
	c := NewClient(cfg, t0)
	for _, tx := range txs {
		c.Add(tx)
	}
	feed := func(b []byte) {
		writeLines(&tr, "S: ", b)
		if step == 0 {
			c.Feed(b, t0)
			return
		}
		for i := 0; i < len(b); i += step {
			c.Feed(b[i:min(i+step, len(b))], t0)
		}
	}
	feed(srv.reply(srv.greeting))
	for round := 0; round < 10000 && !c.Done(); round++ {
		if c.Idle() {
			c.Quit()
		}
		var out []byte
		for _, seg := range c.Output() {
			out = append(out, seg...)
		}
		if len(out) == 0 {
			break
		}
		c.Wrote(len(out), t0)
		writeLines(&tr, "C: ", out)
		if rep := srv.take(out); len(rep) > 0 {
			feed(rep)
		}
		if srv.hungUp {
			tr.WriteString("S: (hangs up)\n")
			c.Lost(nil)
		}
	}
	for _, r := range c.Results() {
		fmt.Fprintf(&tr, "R: %s dup=%v\n", r, r.PossibleDuplicate)
	}
	if err := c.Err(); err != nil {
		fmt.Fprintf(&tr, "E: %v\n", err)
	}
	return tr.String(), c
}

// writeLines logs b line by line; a line without its CRLF is marked, so
// the golden file shows every byte that matters.
func writeLines(tr *strings.Builder, prefix string, b []byte) {
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			fmt.Fprintf(tr, "%s%s (no CRLF)\n", prefix, b)
			return
		}
		fmt.Fprintf(tr, "%s%s\n", prefix, b[:i])
		b = b[i+2:]
	}
}

var testMsg = NewMessage([]byte("Subject: test\r\n\r\nHello.\r\n.hidden dot\r\n"))

func tx(rcpts ...Recipient) *Envelope {
	return &Envelope{From: "list-bounces@lists.test", Rcpts: rcpts, Msg: testMsg}
}

type scenario struct {
	name string
	srv  func() *fakeServer
	txs  func() []*Envelope
	cfg  Config
}

var pipelining = []string{"PIPELINING", "SIZE 100000", "8BITMIME", "ENHANCEDSTATUSCODES"}

var scenarios = []scenario{
	{
		name: "lockstep",
		srv: func() *fakeServer {
			s := newFakeServer("SIZE", "8BITMIME")
			s.rcpt = func(a string, n int) string {
				if n == 2 {
					return "550 5.1.1 no such user"
				}
				return "250 2.1.5 ok"
			}
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(3, "u%d@a.test")...)} },
	},
	{
		name: "pipelined",
		srv:  func() *fakeServer { return newFakeServer(pipelining...) },
		txs:  func() []*Envelope { return []*Envelope{tx(rcptList(3, "u%d@a.test")...)} },
	},
	{
		name: "mixed-rcpt",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.rcpt = func(a string, n int) string {
				switch n {
				case 2:
					return "450 4.2.0 mailbox busy"
				case 3:
					return "550 5.1.1 no such user"
				}
				return "250 2.1.5 ok"
			}
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(4, "u%d@a.test")...)} },
	},
	{
		name: "all-rcpt-refused-pipelined",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.rcpt = func(string, int) string { return "550 5.1.1 no such user" }
			s.data = "554 5.5.1 no valid recipients"
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "all-rcpt-refused-lockstep",
		srv: func() *fakeServer {
			s := newFakeServer()
			s.rcpt = func(string, int) string { return "550 5.1.1 no such user" }
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "data-4xx",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.data = "451 4.3.0 try later"
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "452-in-250",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.rcpt = func(a string, n int) string {
				if n > 60 {
					return "452 4.5.3 too many recipients"
				}
				return "250 2.1.5 ok"
			}
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(250, "u%03d@a.test")...)} },
	},
	{
		name: "421-mid-transaction",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.rcpt = func(a string, n int) string {
				if n == 2 {
					return "421 4.3.2 shutting down"
				}
				return "250 2.1.5 ok"
			}
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(3, "u%d@a.test")...)} },
	},
	{
		name: "lost-after-dot",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.afterDot = func(int) string { return "" }
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "garbage-pipelining",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.rcpt = func(a string, n int) string {
				if n == 2 {
					return "hello? 250 ok"
				}
				return "250 2.1.5 ok"
			}
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(3, "u%d@a.test")...)} },
	},
	{
		name: "second-transaction-after-rset",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.rcpt = func(a string, n int) string {
				if strings.HasPrefix(a, "gone") {
					return "550 5.1.1 no such user"
				}
				return "250 2.1.5 ok"
			}
			s.noRcptData = "554 5.5.1 no valid recipients"
			return s
		},
		txs: func() []*Envelope {
			return []*Envelope{
				tx(rcptList(2, "gone%d@a.test")...),
				tx(rcptList(2, "u%d@b.test")...),
			}
		},
	},
	{
		name: "354-to-nobody",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.rcpt = func(string, int) string { return "550 5.1.1 no such user" }
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(1, "u%d@a.test")...)} },
	},
	{
		name: "helo-fallback",
		srv: func() *fakeServer {
			s := newFakeServer()
			s.ehlo = "502 5.5.1 command not implemented"
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(1, "u%d@a.test")...)} },
	},
	{
		name: "greeting-554",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.greeting = "554 5.7.1 no service for you"
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "mail-refused",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.mail = "553 5.7.1 sender rejected"
			s.rcpt = func(string, int) string { return "503 5.5.1 need MAIL" }
			s.data = "503 5.5.1 need RCPT"
			return s
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "too-big-for-server",
		srv: func() *fakeServer {
			return newFakeServer("PIPELINING", "SIZE 10")
		},
		txs: func() []*Envelope { return []*Envelope{tx(rcptList(2, "u%d@a.test")...)} },
	},
	{
		name: "split-at-R",
		srv:  func() *fakeServer { return newFakeServer(pipelining...) },
		txs:  func() []*Envelope { return []*Envelope{tx(rcptList(5, "u%d@a.test")...)} },
		cfg:  Config{MaxRcpts: 2},
	},
	{
		name: "limits-rcptmax",
		srv:  func() *fakeServer { return newFakeServer("PIPELINING", "LIMITS RCPTMAX=2") },
		txs:  func() []*Envelope { return []*Envelope{tx(rcptList(3, "u%d@a.test")...)} },
	},
	{
		name: "dsn-params",
		srv:  func() *fakeServer { return newFakeServer("PIPELINING", "DSN", "SMTPUTF8") },
		txs: func() []*Envelope {
			t := tx(Recipient{Addr: "u1@a.test", DSN: &RecipientDSN{Notify: "FAILURE,DELAY", ORcpt: "rfc822;u1@a.test"}})
			t.Ret, t.EnvID, t.SMTPUTF8 = "HDRS", "abc123", true
			return []*Envelope{t}
		},
	},
	{
		// Each recipient its own sender and transaction; the next MAIL
		// group rides the previous final dot, so no round trip is lost
		// between them; a refused recipient ends its transaction alone.
		name: "verp-pipelined",
		srv: func() *fakeServer {
			s := newFakeServer(pipelining...)
			s.rcpt = func(a string, n int) string {
				if strings.HasPrefix(a, "u2@") {
					return "550 5.1.1 no such user"
				}
				return "250 2.1.5 ok"
			}
			return s
		},
		txs: func() []*Envelope {
			t := tx(append(rcptList(3, "u%d@a.test"), Recipient{Addr: `"odd user"@b.test`})...)
			t.VERP = &DefaultVERP
			return []*Envelope{t}
		},
	},
	{
		name: "verp-lockstep",
		srv:  func() *fakeServer { return newFakeServer("SIZE") },
		txs: func() []*Envelope {
			t := tx(rcptList(2, "u%d@a.test")...)
			t.VERP = &VERP{Plus: '-', Equals: '='}
			return []*Envelope{t}
		},
	},
	{
		// A bounce is never given a VERP sender: it stays <>.
		name: "verp-null-sender",
		srv:  func() *fakeServer { return newFakeServer(pipelining...) },
		txs: func() []*Envelope {
			t := tx(rcptList(2, "u%d@a.test")...)
			t.From, t.VERP = "", &DefaultVERP
			return []*Envelope{t}
		},
	},
	{
		// -F: every transaction of one recipient gets the Received field
		// naming it before the message, counted in SIZE=; one of two
		// recipients (R=2) gets none.
		name: "trace-for-rcpt",
		srv:  func() *fakeServer { return newFakeServer(pipelining...) },
		txs: func() []*Envelope {
			t := tx(rcptList(3, "u%d@a.test")...)
			t.Trace = &Trace{Head: "Received: by client.test (smtpfeed) with LMTP id m000001\r\n\tfor <", Tail: ">; Fri, 02 Jan 2026 03:04:05 +0000\r\n"}
			return []*Envelope{t}
		},
		cfg: Config{MaxRcpts: 2},
	},
}

func TestClientTranscripts(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			got, c := session(sc.srv(), sc.txs(), 0, sc.cfg)
			for _, step := range []int{1, 3} {
				again, _ := session(sc.srv(), sc.txs(), step, sc.cfg)
				if again != got {
					t.Fatalf("transcript with server bytes fed %d at a time differs:\n%s\nwhole:\n%s", step, again, got)
				}
			}
			path := filepath.Join("testdata", sc.name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("transcript differs from %s:\n%s", path, got)
			}
			if !c.Done() {
				t.Fatalf("session did not end: state %v", c.state())
			}
		})
	}
}

// TestClientOneResultEach checks, for every scenario, that each recipient
// gets exactly one result and that delivery needs 2xx to RCPT and dot.
func TestClientOneResultEach(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			txs := sc.txs()
			cfg := sc.cfg
			cfg.Hostname = "client.test"
			srv := sc.srv()
			c := NewClient(cfg, t0)
			for _, tx := range txs {
				c.Add(tx)
			}
			var results []Result
			in := srv.reply(srv.greeting)
			for round := 0; round < 10000 && !c.Done(); round++ {
				c.Feed(in, t0)
				results = append(results, c.Results()...)
				if c.Idle() {
					c.Quit()
				}
				var out []byte
				for _, seg := range c.Output() {
					out = append(out, seg...)
				}
				if len(out) == 0 && len(in) == 0 {
					break
				}
				c.Wrote(len(out), t0)
				in = srv.take(out)
				if srv.hungUp {
					c.Feed(in, t0)
					c.Lost(nil)
				}
			}
			results = append(results, c.Results()...)
			seen := map[string]int{}
			for _, r := range results {
				seen[fmt.Sprintf("%p/%d", r.Env, r.Rcpt)]++
				if r.Status == Delivered && (r.Reply.Class() != 2 || r.Err != nil) {
					t.Errorf("%v: delivered without a 2xx final reply", r)
				}
			}
			for _, tx := range txs {
				for i := range tx.Rcpts {
					if n := seen[fmt.Sprintf("%p/%d", tx, i)]; n != 1 {
						t.Errorf("recipient %s has %d results, want 1", tx.Rcpts[i].Addr, n)
					}
				}
			}
		})
	}
}

func TestClientTimeouts(t *testing.T) {
	srv := newFakeServer(pipelining...)
	c := NewClient(Config{Hostname: "client.test"}, t0)
	c.Add(tx(rcptList(2, "u%d@a.test")...))
	if got, want := c.Deadline(), t0.Add(5*time.Minute); !got.Equal(want) {
		t.Fatalf("greeting deadline = %v, want %v", got, want)
	}
	c.Feed(srv.reply(srv.greeting), t0)
	c.Wrote(len(c.Output()[0]), t0)
	c.Feed(srv.reply(srv.ehlo), t0)
	var out []byte
	for _, seg := range c.Output() {
		out = append(out, seg...)
	}
	c.Wrote(len(out), t0.Add(time.Second))
	if got, want := c.Deadline(), t0.Add(time.Second+5*time.Minute); !got.Equal(want) {
		t.Fatalf("MAIL deadline = %v, want %v", got, want)
	}
	c.Timeout(t0.Add(time.Second + 5*time.Minute - 1))
	if c.Done() {
		t.Fatal("timed out before the deadline")
	}
	c.Timeout(t0.Add(time.Second + 5*time.Minute))
	if !c.Done() {
		t.Fatal("not done after the deadline")
	}
	if err := c.Err(); !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "while sending MAIL FROM") {
		t.Fatalf("Err() = %v, want a timeout while sending MAIL FROM", err)
	}
	for _, r := range c.Results() {
		if r.Status != NextHost {
			t.Errorf("%v: want next-host after a timeout", r)
		}
	}
}

func TestClientTimeoutTable(t *testing.T) {
	var tm Timeouts
	for _, name := range TimeoutNames() {
		if !tm.SetTimeout(name, time.Second) {
			t.Errorf("SetTimeout(%q) = false, want true", name)
		}
	}
	if tm.SetTimeout("connect-ish", time.Second) {
		t.Error("SetTimeout of an unknown name = true, want false")
	}
	for s := stateGreeting; s <= stateQuit; s++ {
		if DefaultTimeouts[s] <= 0 || stateDoing[s] == "" {
			t.Errorf("state %v has no default timeout or no text", s)
		}
	}
}

// TestClientQuitWithQueuedWork: Quit while a transaction runs lets it end,
// hands back the recipients of transactions not yet begun, then QUITs.
func TestClientQuitWithQueuedWork(t *testing.T) {
	srv := newFakeServer(pipelining...)
	c := NewClient(Config{Hostname: "client.test"}, t0)
	first, second := tx(rcptList(2, "u%d@a.test")...), tx(rcptList(2, "v%d@b.test")...)
	c.Add(first)
	c.Feed(srv.reply(srv.greeting), t0)
	pump := func() []byte {
		var out []byte
		for _, seg := range c.Output() {
			out = append(out, seg...)
		}
		c.Wrote(len(out), t0)
		return out
	}
	c.Feed(srv.take(pump()), t0) // EHLO
	out := pump()                // MAIL group of the first transaction
	c.Add(second)
	c.Quit()
	c.Feed(srv.take(out), t0)
	c.Feed(srv.take(pump()), t0) // the message and its dot
	last := string(pump())
	if last != "QUIT\r\n" {
		t.Fatalf("after the first transaction the client wrote %q, want QUIT", last)
	}
	status := map[string]Status{}
	for _, r := range c.Results() {
		status[r.Env.Rcpts[r.Rcpt].Addr] = r.Status
	}
	for _, a := range []string{"u1@a.test", "u2@a.test"} {
		if status[a] != Delivered {
			t.Errorf("%s: %v, want delivered", a, status[a])
		}
	}
	for _, a := range []string{"v1@b.test", "v2@b.test"} {
		if status[a] != NextHost {
			t.Errorf("%s: %v, want next-host", a, status[a])
		}
	}
	if !c.Done() {
		t.Error("not done after QUIT was written")
	}
}

// TestClientQuitWhileBusy: Quit while a transaction waits for its replies
// (a drain) leaves the session open until the final dot's reply is in,
// and only then writes QUIT: never pipelined behind the dot, with or
// without PIPELINING (RFC 2920 §3.1), and never by closing early.
func TestClientQuitWhileBusy(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  func() *fakeServer
	}{
		{"after HELO", func() *fakeServer {
			s := newFakeServer()
			s.ehlo = "502 5.5.1 command not implemented"
			return s
		}},
		{"EHLO without PIPELINING", func() *fakeServer { return newFakeServer("8BITMIME") }},
		{"PIPELINING", func() *fakeServer { return newFakeServer(pipelining...) }},
	} {
		for quitAt := 1; quitAt < 6; quitAt++ {
			t.Run(fmt.Sprintf("%s/quit at write %d", tc.name, quitAt), func(t *testing.T) {
				srv := tc.srv()
				c := NewClient(Config{Hostname: "client.test"}, t0)
				c.Add(tx(rcptList(2, "u%d@a.test")...))
				c.Feed(srv.reply(srv.greeting), t0)
				dotAnswered := false
				for round := 0; round < 20 && !c.Done(); round++ {
					if round == quitAt || c.Idle() {
						c.Quit()
					}
					var out []byte
					for _, seg := range c.Output() {
						out = append(out, seg...)
					}
					if len(out) == 0 {
						t.Fatalf("round %d: nothing to write and not done; results %v", round, c.Results())
					}
					c.Wrote(len(out), t0)
					if c.Done() && !bytes.HasSuffix(out, []byte("QUIT\r\n")) {
						t.Fatalf("done (the connection would close) after writing %q, with its replies owed", out)
					}
					if bytes.Contains(out, []byte("QUIT\r\n")) && !dotAnswered && srv.txn > 0 {
						t.Fatalf("QUIT written before the final dot's reply: %q", out)
					}
					rep := srv.take(out)
					dotAnswered = srv.txn > 0
					c.Feed(rep, t0)
				}
				if !c.Done() {
					t.Fatal("not done after the transaction ended")
				}
				results := c.Results()
				if len(results) != 2 {
					t.Fatalf("%d results for 2 recipients: %v", len(results), results)
				}
				for _, r := range results {
					if r.Status != Delivered && r.Status != NextHost {
						t.Errorf("%v: want delivered, or next-host if the transaction had not begun", r)
					}
				}
			})
		}
	}
}
