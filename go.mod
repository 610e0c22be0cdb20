module smtpfeed

go 1.26.0

require (
	github.com/emersion/go-smtp v0.25.1
	github.com/miekg/dns v1.1.73
	golang.org/x/net v0.57.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	golang.org/x/text v0.40.0 // indirect
)
