package smtpfeed

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"smtpfeed/proto/lmtp"
	"smtpfeed/proto/routemap"
)

// Resolve-only mode (the original's -d Q): every recipient domain is
// resolved, no mail is sent, every recipient gets a 4xx reply, and the
// report shows which domains and recipients would share each MX host's
// transactions (piggybacking).

// RcptReply is the reply one recipient gets.
type RcptReply struct {
	Rcpt     string
	Code     int
	Enhanced string
	Text     string
}

func (r RcptReply) String() string { return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text) }

// Plan is the outcome of resolving a recipient list.
type Plan struct {
	Rcpts   []string
	Domains map[string]MXResult
	byDom   map[string][]string
}

// ResolvePlan starts the lookups of every recipient domain at once, as
// the route map says (nil: none), and calls done with the plan when all
// have ended. Addresses must already be valid (lmtp.SplitAddress).
func (r *Resolver) ResolvePlan(rcpts []string, routes *routemap.Map, done func(*Plan)) error {
	p := &Plan{Rcpts: rcpts, Domains: map[string]MXResult{}, byDom: map[string][]string{}}
	var order []string
	for _, a := range rcpts {
		_, d, err := lmtp.SplitAddress(a)
		if err != nil {
			return err
		}
		if _, seen := p.byDom[d]; !seen {
			order = append(order, d)
		}
		p.byDom[d] = append(p.byDom[d], a)
	}
	pending := len(order)
	if pending == 0 {
		r.loop.Later(func(time.Time) { done(p) })
		return nil
	}
	for _, d := range order {
		r.LookupRouted(routes, d, false, func(res MXResult) {
			p.Domains[d] = res
			if pending--; pending == 0 {
				done(p)
			}
		})
	}
	return nil
}

// Replies gives every recipient, in list order, its resolve-only reply:
// always 4xx, since nothing was delivered; a domain's permanent failure
// shows in the text.
func (p *Plan) Replies() []RcptReply {
	out := make([]RcptReply, 0, len(p.Rcpts))
	for _, a := range p.Rcpts {
		_, d, _ := lmtp.SplitAddress(a)
		res := p.Domains[d]
		rep := RcptReply{Rcpt: a, Code: 450, Enhanced: "4.3.0", Text: "resolve-only mode: no mail sent"}
		if res.Fail != nil {
			rep.Text += "; lookup said: " + res.Fail.String()
		} else if len(res.Hosts) > 0 {
			rep.Text += "; would go to " + res.Hosts[0].Name
		}
		out = append(out, rep)
	}
	return out
}

// WriteReport writes, per MX host, the domains and recipients that would
// share its transactions (the domains whose best host it is), with the
// host's addresses and where each came from; then the domains that
// failed.
func (p *Plan) WriteReport(w io.Writer) error {
	type group struct {
		host    MailHost
		domains []string
		rcpts   int
	}
	groups := map[string]*group{}
	var failed []string
	for d, res := range p.Domains {
		if res.Fail != nil {
			failed = append(failed, d)
			continue
		}
		for _, h := range res.Hosts {
			if len(h.Addrs) == 0 {
				continue
			}
			g := groups[h.Name]
			if g == nil {
				g = &group{host: h}
				groups[h.Name] = g
			}
			g.domains = append(g.domains, d)
			g.rcpts += len(p.byDom[d])
			break // the best host with an address gets the transaction
		}
	}
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := groups[b].rcpts - groups[a].rcpts; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	fmt.Fprintf(&b, "resolve-only: %d recipients, %d domains, %d MX hosts, %d domains failed\n", len(p.Rcpts), len(p.Domains), len(groups), len(failed))
	for _, n := range names {
		g := groups[n]
		slices.Sort(g.domains)
		var addrs []string
		for _, a := range g.host.Addrs {
			addrs = append(addrs, a.Addr.String()+" ("+a.From.String()+")")
		}
		fmt.Fprintf(&b, "host %s [%s]: %d domains, %d recipients\n", n, strings.Join(addrs, ", "), len(g.domains), g.rcpts)
		for _, d := range g.domains {
			fmt.Fprintf(&b, "  %s: %s\n", d, strings.Join(p.byDom[d], " "))
		}
	}
	slices.Sort(failed)
	for _, d := range failed {
		fmt.Fprintf(&b, "failed %s: %s (%d recipients)\n", d, p.Domains[d].Fail, len(p.byDom[d]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
