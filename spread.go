package smtpfeed

import "slices"

// spread splits a big domain over its best MX hosts' addresses: a
// provider publishes several equal-preference hosts with several
// addresses each so that its senders use them all, and one address's
// lanes (flow.go) cap at -P. It returns the domain's variants, each
// with the MX list rotated so that another first-choice address leads,
// and the rest in order (each recipient still falls back through every
// host); nil when the domain is small enough for one address, or has
// one. A variant is made per growAtTransactions*R recipients, at most
// one per first-choice address, picked evenly over the hosts.
func (d *rcptDomain) spread(perTransaction int) []*rcptDomain {
	if len(d.mx) == 0 || int(d.n) < 2*growAtTransactions*perTransaction {
		return nil // most domains: nothing to make
	}
	top := 1
	for top < len(d.mx) && d.mx[top].Pref == d.mx[0].Pref {
		top++
	}
	type first struct{ host, addr int }
	var firsts []first
	for h := range top {
		for a := range d.mx[h].Addrs {
			firsts = append(firsts, first{h, a})
		}
	}
	n := min(len(firsts), int(d.n)/(growAtTransactions*perTransaction))
	if n < 2 {
		return nil
	}
	variants := make([]*rcptDomain, n)
	for i := range n {
		pick := firsts[i*len(firsts)/n]
		mx := slices.Clone(d.mx)
		for j := range top {
			mx[j] = d.mx[(pick.host+j)%top]
		}
		lead := mx[0].Addrs
		mx[0].Addrs = append(slices.Clone(lead[pick.addr:]), lead[:pick.addr]...)
		variants[i] = &rcptDomain{name: d.name, tls: d.tls, mx: mx}
	}
	return variants
}
