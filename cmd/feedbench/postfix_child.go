package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"smtpfeed/cmd/simnet/sim"
)

// The Postfix peer's run happens in a child of feedbench that unshare(1)
// has put in network, mount and PID namespaces of its own (runPostfix):
// there port 53 and port 25 on loopback are free, so the world's name
// server answers Postfix's resolver from 127.0.0.1:53 (resolv.conf has
// no port) and every world host listens on port 25, Postfix's only SMTP
// port. The spool, the configuration and /etc/resolv.conf are private
// mounts; everything started here dies with the child.

// postfixChildOpts is what the child is told on its command line.
type postfixChildOpts struct {
	world   string        // the bench world's name
	seed    uint64        // the worlds' seed
	dir     string        // the run's directory: configuration, log, result
	connect time.Duration // Postfix's smtp_connect_timeout: smtpfeed's -t connect
	limit   time.Duration // give up waiting for the deliveries after this long
}

// peerHost is Postfix's host name in the namespace; the list's message
// comes in from 127.0.0.1, and Postfix listens there only: no world host
// is in 127.0.0.0/16 (sim.Config.FirstHostAddr).
const (
	peerHost   = "feedbench.test"
	peerListen = "127.0.0.1:25"
)

// peerResult is what one Postfix run did, as the world saw it; the child
// writes it as JSON for the parent.
type peerResult struct {
	World string `json:"world"`
	// Times are since the submission began, as smtpfeed's are since it
	// was started.
	First  time.Duration `json:"first_ns"`
	Last   time.Duration `json:"last_ns"`
	Submit time.Duration `json:"submit_ns"` // to the 250 of the submission's final dot
	// Expected is the recipients the world delivers; Missing those of them
	// not delivered when the run ended; Wrong the recipients delivered
	// that the world does not deliver.
	Expected     int    `json:"expected"`
	Delivered    int    `json:"delivered"`
	Missing      int    `json:"missing"`
	Wrong        int    `json:"wrong"`
	Duplicates   int    `json:"duplicates"`
	Connections  int    `json:"connections"`
	Transactions int    `json:"transactions"`
	DNSQueries   int    `json:"dns_queries"`
	Timeline     string `json:"timeline"`
	Err          string `json:"error,omitempty"`
}

// postfixChild is the child's whole run: it always writes a result (an
// error in Err) unless it cannot write at all.
func postfixChild(o postfixChildOpts) error {
	res, err := postfixRun(o)
	if err != nil {
		res.Err = err.Error()
	}
	b, jerr := json.Marshal(res)
	if jerr != nil {
		return jerr
	}
	return os.WriteFile(filepath.Join(o.dir, peerResultFile), b, 0o644)
}

// peerResultFile is the result's name in the run's directory.
const peerResultFile = "result.json"

func postfixRun(o postfixChildOpts) (peerResult, error) {
	res := peerResult{World: o.world}
	// Outside its namespaces the child would mount over this system's
	// resolv.conf, hosts and Postfix spool, and stop its Postfix. unshare
	// -p -f makes it the first process of a new PID namespace.
	if os.Getpid() != 1 {
		return res, fmt.Errorf("-postfix-child runs only inside the namespaces feedbench -bench makes for it (as PID 1 of its own PID namespace), not as PID %d: it mounts over /etc/resolv.conf and the Postfix spool", os.Getpid())
	}
	bw, err := pickWorlds(benchWorlds(o.seed), o.world)
	if err != nil {
		return res, err
	}
	if err := peerNamespace(o.dir); err != nil {
		return res, err
	}
	cfg := bw[0].cfg
	cfg.DNSAddr, cfg.SMTPPort = "127.0.0.1:53", 25
	s, err := sim.Start(cfg)
	if err != nil {
		return res, fmt.Errorf("starting the world on ports 53 and 25: %w", err)
	}
	defer s.Close()
	var rcpts []string
	for _, r := range s.World.Recipients {
		rcpts = append(rcpts, r.Addr)
	}
	if err := postfixStart(o, len(rcpts)); err != nil {
		return res, err
	}
	defer runCommand("postfix", "stop")
	if err := postfixWarm(); err != nil {
		return res, err
	}
	s.MarkStart()
	start := time.Now()
	if err := submit(peerListen, sim.ListSender, rcpts, []byte(sim.TestMessage)); err != nil {
		return res, fmt.Errorf("submitting the list to Postfix: %w", err)
	}
	res.Submit = time.Since(start)
	rep := awaitDeliveries(s, start.Add(o.limit))
	res.fill(s.World, rep)
	return res, nil
}

// peerNamespace makes the fresh namespaces usable: lo up, and resolv.conf
// and hosts of the run's own mounted over the system's.
func peerNamespace(dir string) error {
	if err := runCommand("ip", "link", "set", "lo", "up"); err != nil {
		return err
	}
	files := map[string]string{
		"/etc/resolv.conf": "nameserver 127.0.0.1\noptions attempts:2\n",
		"/etc/hosts":       "127.0.0.1\tlocalhost " + peerHost + "\n",
	}
	for target, content := range files {
		own := filepath.Join(dir, filepath.Base(target))
		if err := os.WriteFile(own, []byte(content), 0o644); err != nil {
			return err
		}
		if err := runCommand("mount", "--bind", own, target); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/etc/mailname"); err == nil {
		own := filepath.Join(dir, "mailname")
		if err := os.WriteFile(own, []byte(peerHost+"\n"), 0o644); err != nil {
			return err
		}
		return runCommand("mount", "--bind", own, "/etc/mailname")
	}
	return nil
}

// postfixConfig is main.cf for the peer: the package's defaults for
// everything that shapes delivery (process and concurrency limits,
// recipients per delivery, connection cache), with the connect timeout
// smtpfeed has, a submission that takes the whole list, and the log in
// the run's directory.
func postfixConfig(dir string, connect time.Duration, rcpts int) []string {
	return []string{
		"compatibility_level=3.6",
		"myhostname=" + peerHost,
		"mydestination=$myhostname, localhost",
		"inet_interfaces=127.0.0.1",
		"inet_protocols=ipv4",
		"mynetworks=127.0.0.0/8",
		"alias_maps=",
		"alias_database=",
		"local_recipient_maps=",
		"biff=no",
		"maillog_file=" + filepath.Join(dir, "maillog"),
		"maillog_file_prefixes=" + filepath.Dir(dir) + ", /var, /tmp",
		"smtp_connect_timeout=" + strconv.Itoa(max(1, int(connect.Round(time.Second)/time.Second))) + "s",
		"smtpd_recipient_limit=" + strconv.Itoa(rcpts+1),
	}
}

// postfixStart configures Postfix on private copies of its directories
// and starts it, returning once its SMTP server accepts.
func postfixStart(o postfixChildOpts, rcpts int) error {
	for _, d := range []string{"/var/spool/postfix", "/var/lib/postfix", "/var/mail"} {
		if err := runCommand("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", d); err != nil {
			return err
		}
	}
	if err := runCommand("chown", "postfix:postfix", "/var/lib/postfix"); err != nil {
		return err
	}
	etc := filepath.Join(o.dir, "etc-postfix")
	if err := runCommand("cp", "-a", "/etc/postfix", etc); err != nil {
		return err
	}
	if err := runCommand("mount", "--bind", etc, "/etc/postfix"); err != nil {
		return err
	}
	if err := os.WriteFile("/etc/postfix/main.cf", nil, 0o644); err != nil {
		return err
	}
	args := append([]string{"-e"}, postfixConfig(o.dir, o.connect, rcpts)...)
	if err := runCommand("postconf", args...); err != nil {
		return err
	}
	// No service chrooted: the chroot would need its own copies of
	// resolv.conf and the libraries.
	if err := runCommand("postconf", "-F", "*/*/chroot = n"); err != nil {
		return err
	}
	if err := runCommand("postfix", "check"); err != nil {
		return err
	}
	if err := runCommand("postfix", "start"); err != nil {
		return err
	}
	return checkListener(peerListen)
}

// postfixWarm has Postfix deliver one message locally before the list
// comes, and returns once its queue is empty: the list then meets a
// running server, its smtpd, cleanup, trivial-rewrite and qmgr started,
// as a list server's MTA is, not one starting its processes for it.
func postfixWarm() error {
	if err := submit(peerListen, "", []string{"warm@" + peerHost}, []byte(sim.TestMessage)); err != nil {
		return fmt.Errorf("postfix: the warm-up message: %w", err)
	}
	end := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command("postqueue", "-j").Output()
		if err == nil && len(strings.TrimSpace(string(out))) == 0 {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("postfix: the warm-up message still queued after 30s: %s", strings.TrimSpace(string(out)))
		}
		time.Sleep(warmPoll)
	}
}

// warmPoll is how often postfixWarm asks for the queue: Postfix says
// nothing when it empties.
const warmPoll = 50 * time.Millisecond

// checkListener fails unless addr accepts a connection: postfix start
// returns once its master process is ready (master -w), listeners bound.
func checkListener(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("postfix started, but nothing accepts on %s: %w", addr, err)
	}
	return c.Close()
}

// awaitDeliveries waits until every recipient the world delivers has
// arrived, or until end: the world's report is read again after each
// transaction it accepts.
func awaitDeliveries(s *sim.Sim, end time.Time) sim.Report {
	limit := time.NewTimer(time.Until(end))
	defer limit.Stop()
	for {
		rep := s.Report()
		if rep.Missing == 0 {
			return rep
		}
		select {
		case <-s.Accepted():
		case <-limit.C:
			return s.Report()
		}
	}
}

// fill sets the result's figures from the world's report.
func (res *peerResult) fill(w *sim.World, rep sim.Report) {
	expect := map[string]bool{}
	for _, r := range w.Recipients {
		if r.Expect == sim.Delivered {
			expect[strings.ToLower(r.Addr)] = true
		}
	}
	first := time.Duration(-1)
	wrong := map[string]bool{}
	for _, d := range rep.Deliveries {
		if first < 0 || d.At < first {
			first = d.At
		}
		if a := strings.ToLower(d.Rcpt); !expect[a] {
			wrong[a] = true
		}
	}
	res.First, res.Last = max(first, 0), rep.LastDelivery
	res.Expected, res.Delivered, res.Missing = rep.Expected[sim.Delivered], rep.Delivered, rep.Missing
	res.Wrong, res.Duplicates = len(wrong), len(rep.Duplicates)
	res.Connections, res.Transactions, res.DNSQueries = rep.Connections, rep.Transactions, rep.DNSQueriesTotal
	res.Timeline = rep.TimelineText()
}

// runCommand runs a command, its output in the error when it fails.
func runCommand(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || len(out) > 0 {
			return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}
