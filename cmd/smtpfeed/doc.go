// Command smtpfeed is the delivery agent a list server's MTA hands a
// message with thousands of recipients. By default it speaks LMTP (RFC
// 2033) on standard input and output, as sendmail runs a mailer with F=z,
// delivers every message by SMTP to every recipient's MX hosts at once,
// and answers each recipient once its fate is known.
//
//	smtpfeed [-c helo] [-1|-2] [-R n] [-n n] [-m host] [-a alias]... [-N 4|6]
//	         [-o addr] [-t NAME=DURATION]... [-l facility|stderr] [-d classes]
//	         [-nameserver host[:port]]... [-port n] [-allow-local CIDR]... [-V] [-h]
//
// -d Q resolves only: every recipient gets a 4xx reply and the grouping by
// MX host goes to standard error; with recipients on the command line (or
// -r FILE) instead of an LMTP session, the replies go to standard output.
// -d D delivers nothing and answers every recipient 4xx.
package main
