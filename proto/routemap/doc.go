// Package routemap is the static route map of -M, as the original
// SMTPfeed's: a text file that sends the mail of named domains somewhere
// other than where their MX records say.
//
//	# DOMAIN          ROUTE
//	example.com       relay.example.net    # a host, looked up as -m's is
//	*.example.com     [192.0.2.25]         # every subdomain: that address
//	lists.example.com MX                   # ...but this one as usual
//	example.org       A                    # its own addresses, no MX lookup
//
// One route per line, a domain and a route separated by white space; "#"
// starts a comment, blank lines are skipped. A domain is a name (any
// case, trailing dot optional, internationalised names as their
// A-labels) or "*.name", every name below name but not name itself. A
// route is MX (the normal lookup), A (the domain's addresses as an
// implicit MX), an address in brackets, or a host name. A domain's own
// line wins; else the longest "*." suffix that matches; else none.
//
// Parse refuses a file with any bad line, naming the file, the line and
// what is wrong; a Map is never changed once made, so a new one can
// replace it whole on reload. The package does no I/O of its own.
package routemap
