// Command smtpfeed is the delivery agent. For now it runs resolve-only
// mode (-d Q) over a recipient list from the command line or a file: it
// resolves every recipient domain at once, sends no mail, answers every
// recipient with a 4xx reply on standard output and prints, per MX host,
// the domains and recipients that would share its transactions on
// standard error. The LMTP front end will call the same code.
//
//	smtpfeed -d Q [-nameserver host[:port]]... [-t dns=75s] [-a alias]... [-c helo] [-4] [-max-queries N] rcpt... | -r FILE
package main
