package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"smtpfeed"
	"strconv"
	"syscall"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// runOpts says how to run smtpfeed against one world.
type runOpts struct {
	smtpfeed string        // path of the smtpfeed binary
	connect  time.Duration // -t connect=
	race     time.Duration // -t race=: with connect, what a dead first MX costs (deadCost)
	dns      time.Duration // -t dns=, 0 for smtpfeed's default
	dir      string        // where the log (and strace output) go
	name     string        // the world's name, for file names
	limit    time.Duration // the child is killed after this long
	strace   bool          // wrap the child in strace -c -f
	extra    []string      // more smtpfeed flags (-args)
}

// reply is one LMTP reply: its code and its lines joined by " / ".
type reply struct {
	code int
	text string
	at   time.Duration // when it was read, since the child started
}

// class is the outcome a reply stands for.
func (r *reply) class() sim.Outcome {
	switch r.code / 100 {
	case 2:
		return sim.Delivered
	case 4:
		return sim.Deferred
	}
	return sim.Bounced
}

// run is what one smtpfeed run against one world produced.
type run struct {
	opts    runOpts
	args    []string
	logPath string
	// answers is indexed like World.Recipients; nil: no answer.
	answers []*reply
	// session lists the replies outside the per-recipient ones that are
	// not the expected 250/354/221, and replies past QUIT's.
	oddities []string
	exitErr  error
	wall     time.Duration
	cpu      time.Duration // user + sys of the child
	sys      time.Duration // the child's sys alone: the kernel's share, loopback TCP's receive side included
	// worldCPU is feedbench's own user + sys while the child ran: the
	// simulated world serving it (the child is not in it).
	worldCPU time.Duration
	maxRSS   int64    // KiB
	done     doneLine // smtpfeed's last line
	report   sim.Report
	killed   bool

	stracePath string
	syscalls   int // from strace -c, 0 when not traced
}

// smtpfeedArgs are the flags feedbench gives smtpfeed for a world.
func smtpfeedArgs(s *sim.Sim, o runOpts) []string {
	args := []string{"-nameserver", s.DNSAddr().String(), "-port", strconv.Itoa(s.SMTPPort()),
		"-c", "feedbench.test", "-l", "stderr", "-N", "4", "-t", "connect=" + o.connect.String(), "-t", "idle=1s",
		"-allow-local", "127.0.0.0/8"} // the world's hosts are on loopback
	if o.dns > 0 {
		args = append(args, "-t", "dns="+o.dns.String())
	}
	if o.race > 0 {
		args = append(args, "-t", "race="+o.race.String())
	}
	return append(args, o.extra...)
}

// runFeed runs smtpfeed once against s with the world's LMTP session on
// its standard input and reads its replies from its standard output.
func runFeed(s *sim.Sim, o runOpts) (*run, error) {
	var session bytes.Buffer
	if err := s.World.WriteLMTP(&session); err != nil {
		return nil, err
	}
	r := &run{opts: o, args: smtpfeedArgs(s, o)}
	suffix := ""
	if o.strace {
		suffix = "-strace"
	}
	r.logPath = filepath.Join(o.dir, o.name+suffix+".log")
	logf, err := os.Create(r.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(o.smtpfeed, r.args...)
	if o.strace {
		r.stracePath = filepath.Join(o.dir, o.name+".strace")
		cmd = exec.Command("strace", append([]string{"-c", "-f", "-o", r.stracePath, o.smtpfeed}, r.args...)...)
	}
	cmd.Stdin = &session
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.MarkStart()
	worldStart := selfCPU()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	timer := time.AfterFunc(o.limit, func() {
		r.killed = true
		cmd.Process.Kill()
	})
	replies, readErr := readReplies(stdout, start)
	r.exitErr = cmd.Wait()
	timer.Stop()
	r.wall = time.Since(start)
	r.worldCPU = selfCPU() - worldStart
	r.report = s.Report()
	if readErr != nil && r.exitErr == nil {
		r.exitErr = readErr
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && !o.strace {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.sys = time.Duration(ru.Stime.Nano())
		r.maxRSS = ru.Maxrss
		// ru_maxrss also counts feedbench's own peak (os/exec shares our
		// memory with the child until its exec); smtpfeed's last line
		// says its own.
		if d, ok := loggedDone(r.logPath); ok {
			r.maxRSS, r.done = d.rssKiB, d
		}
	}
	r.assign(replies, len(s.World.Recipients))
	if o.strace {
		r.syscalls, err = straceCalls(r.stracePath)
		if err != nil && r.exitErr == nil {
			r.exitErr = err
		}
	}
	return r, nil
}

// selfCPU is this process's user + sys time so far, every thread's (0
// if getrusage fails): waited-for children are counted apart, in
// RUSAGE_CHILDREN.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerDelivered is the child's CPU per distinct recipient delivered,
// in microseconds (0 when nothing was delivered).
func (r *run) cpuPerDelivered() float64 {
	if r.report.Delivered == 0 {
		return 0
	}
	return r.cpu.Seconds() * 1e6 / float64(r.report.Delivered)
}

// sysPerDelivered is cpuPerDelivered's kernel share.
func (r *run) sysPerDelivered() float64 {
	if r.report.Delivered == 0 {
		return 0
	}
	return r.sys.Seconds() * 1e6 / float64(r.report.Delivered)
}

// release drops what only the run's own check needed, the per-recipient
// answers and deliveries: a bench world kept for its -repeat range holds
// its figures, not a copy of the list.
func (r *run) release() {
	r.answers, r.report.Deliveries = nil, nil
}

// readReplies reads LMTP replies until EOF, joining multi-line replies.
func readReplies(rd io.Reader, start time.Time) ([]*reply, error) {
	br := bufio.NewReaderSize(rd, 64<<10)
	var out []*reply
	var cur *reply
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			line = trimEOL(line)
			code, more, text, ok := parseReplyLine(line)
			if !ok {
				return out, fmt.Errorf("malformed reply line %q", line)
			}
			if cur == nil {
				cur = &reply{code: code, text: line}
			} else {
				cur.text += " / " + text
			}
			if !more {
				cur.at = time.Since(start)
				out = append(out, cur)
				cur = nil
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func trimEOL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// parseReplyLine splits "250-text" or "250 text" (RFC 5321 4.2).
func parseReplyLine(l string) (code int, more bool, text string, ok bool) {
	if len(l) < 3 {
		return 0, false, "", false
	}
	code, err := strconv.Atoi(l[:3])
	if err != nil || code < 200 || code > 599 {
		return 0, false, "", false
	}
	if len(l) == 3 {
		return code, false, "", true
	}
	if l[3] != ' ' && l[3] != '-' {
		return 0, false, "", false
	}
	return code, l[3] == '-', l[4:], true
}

// assign maps the session's replies to recipients. The generated session
// is the greeting, then LHLO, MAIL, one RCPT per recipient, DATA, message, QUIT (RFC 2033):
// a recipient refused at RCPT has that refusal as its answer; every
// accepted one gets one reply after the final dot, in RCPT order.
func (r *run) assign(replies []*reply, n int) {
	r.answers = make([]*reply, n)
	odd := func(what string, rp *reply) { r.oddities = append(r.oddities, what+": "+rp.text) }
	var accepted []int
	i := 0
	next := func() *reply {
		if i >= len(replies) {
			return nil
		}
		i++
		return replies[i-1]
	}
	if rp := next(); rp != nil && rp.code != 220 {
		odd("greeting", rp)
	}
	if rp := next(); rp != nil && rp.code != 250 {
		odd("LHLO", rp)
	}
	if rp := next(); rp != nil && rp.code != 250 {
		odd("MAIL", rp)
	}
	for k := range n {
		rp := next()
		if rp == nil {
			break
		}
		if rp.code/100 == 2 {
			accepted = append(accepted, k)
		} else {
			r.answers[k] = rp
		}
	}
	data := next()
	if data != nil && data.code == 354 {
		for _, k := range accepted {
			rp := next()
			if rp == nil {
				break
			}
			r.answers[k] = rp
		}
	} else if data != nil && len(accepted) > 0 {
		odd("DATA", data)
	}
	if rp := next(); rp != nil && rp.code != 221 {
		odd("QUIT", rp)
	}
	for rp := next(); rp != nil; rp = next() {
		odd("after QUIT", rp)
	}
}

// doneLine is what smtpfeed's last log line says: "smtpfeed: done, peak
// RSS 58.2 MiB, loop busy 412ms, longest pass 3.1ms, tls handshakes 998,
// handshake worker time 1.2s".
type doneLine struct {
	rssKiB           int64
	loopBusy, pass   time.Duration
	handshakes       int
	handshakeWorkers time.Duration
	loopCPU          time.Duration // the loop thread's own CPU time (Linux)
}

var doneFields = regexp.MustCompile(`loop busy (\S+), longest pass (\S+), tls handshakes (\d+), handshake worker time ([^,\s]+)(?:, loop cpu (\S+))?`)

// loggedDone reads smtpfeed's last log line.
func loggedDone(path string) (doneLine, bool) {
	f, err := os.Open(path)
	if err != nil {
		return doneLine{}, false
	}
	defer f.Close()
	tail := make([]byte, 4096)
	if st, err := f.Stat(); err == nil && st.Size() > int64(len(tail)) {
		f.Seek(st.Size()-int64(len(tail)), io.SeekStart)
	}
	n, _ := io.ReadFull(f, tail)
	i := bytes.LastIndex(tail[:n], []byte("smtpfeed: done, peak RSS "))
	if i < 0 {
		return doneLine{}, false
	}
	var mib float64
	var d doneLine
	line := string(tail[i:n])
	if _, err := fmt.Sscanf(line, "smtpfeed: done, peak RSS %f MiB", &mib); err != nil || mib <= 0 {
		return d, false
	}
	d.rssKiB = int64(mib * 1024)
	if m := doneFields.FindStringSubmatch(line); m != nil {
		d.loopBusy, _ = time.ParseDuration(m[1])
		d.pass, _ = time.ParseDuration(m[2])
		d.handshakes, _ = strconv.Atoi(m[3])
		d.handshakeWorkers, _ = time.ParseDuration(m[4])
		d.loopCPU, _ = time.ParseDuration(m[5])
	}
	return d, true
}

// deadCost is what a dead first MX costs a recipient at best: the race
// delay, after which its next MX is tried alongside, or the connect
// timeout if that is shorter. The race delay adapts to the connects
// seen, down to smtpfeed.MinRaceDelay (on loopback it gets there
// within the first few connects), with -t race as its ceiling.
func deadCost(connect, race time.Duration) time.Duration {
	if race > 0 && race < connect {
		return min(race, smtpfeed.MinRaceDelay)
	}
	return connect
}
