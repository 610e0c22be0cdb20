package smtpfeed

import (
	"fmt"

	"smtpfeed/proto/routemap"
)

// Static routes (-M, proto/routemap): where a recipient domain's lookup
// starts, the route map may send it elsewhere than its MX records. The
// routed result is an MXResult like any other, so it goes through
// dropSelf, the address caps, regrouping and -m's fallback as a looked-up
// one does, and the recipients' log lines name the routed host as relay.

// SetRoutes replaces the route map (nil: none). Lookups that start after
// it use the new map; a message in hand keeps the routes its domains
// already got, since every domain of a message is looked up when the
// message starts.
func (e *Engine) SetRoutes(m *routemap.Map) { e.cfg.Routes = m }

// lookupDomain starts the lookup of a recipient domain as the route map
// says (LookupRouted).
func (e *Engine) lookupDomain(domain string, dane bool, done func(MXResult)) {
	e.res.LookupRouted(e.cfg.Routes, domain, dane, done)
}

// LookupRouted starts the lookup of a recipient domain as routes (-M;
// nil: none) says, or as its MX records do when the map does not name
// it; dane asks the TLSA records too (LookupMXTLSA). done is called
// once, from the loop, never from inside LookupRouted.
func (r *Resolver) LookupRouted(routes *routemap.Map, domain string, dane bool, done func(MXResult)) {
	lookupMX := r.LookupMX
	if dane {
		lookupMX = r.LookupMXTLSA
	}
	route, ok := routes.Lookup(domain)
	switch {
	case !ok || route.Kind == routemap.MX:
		lookupMX(domain, done)
	case route.Kind == routemap.A:
		r.LookupHost(domain, dane, done)
	case route.Kind == routemap.Literal:
		// As -m's [address]: the resolver's domain literal, no lookup.
		lit := "[" + route.Addr.String() + "]"
		if route.Addr.Is6() {
			lit = "[IPv6:" + route.Addr.String() + "]"
		}
		r.LookupMX(lit, func(res MXResult) { done(routed(domain, route, res)) })
	default: // routemap.Host: looked up as a mail domain is, as -m's host
		lookupMX(route.Host, func(res MXResult) { done(routed(domain, route, res)) })
	}
}

// routed makes a routed host's result the domain's. A failure names the
// route; one that would bounce is deferred instead (451 4.4.3), since
// the map is the operator's to fix and the recipients' domain is not at
// fault, as -m's failures defer. A loop (the route leads back to this
// host) still bounces, as a domain whose best MX is this host does.
func routed(domain string, route routemap.Route, res MXResult) MXResult {
	res.Domain = domain
	if f := res.Fail; f != nil {
		kind := f.Kind
		if kind != FailLoop && kind != FailOtherFamily && !f.Temporary() {
			kind = FailTemporary
		}
		res.Fail = &Failure{kind, fmt.Sprintf("%s is routed to %s (route map line %d): %s", domain, route, route.Line, f.Text)}
	}
	return res
}

// LookupHost finds domain's addresses as its one mail host, preference
// 0, asking no MX: the implicit MX of RFC 5321 §5.1, which the route
// map's A asks for. dane asks the host's TLSA records once its address
// answer is DNSSEC-secure (TrustAD), as for an implicit MX under
// LookupMXTLSA. As LookupMX, done is called once, from the loop, never
// from inside LookupHost.
func (r *Resolver) LookupHost(domain string, dane bool, done func(MXResult)) {
	r.startLookup(domain, dane && r.cfg.TrustAD, false, done)
}
