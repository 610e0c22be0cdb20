// Command feedbench runs the smtpfeed binary against a simulated Internet
// (cmd/simnet/sim, in-process, on loopback) and reports what it did
// against what the world expects and against the world's lower bound.
//
// Demo mode (the default, or -demo; what `make demo` runs) runs one world
// of about 2,000 recipients and prints a short summary: answers by status,
// time to first and last delivery against the bound, connections,
// transactions, DNS queries, duplicates and a few sample replies. It exits
// non-zero when a recipient got no answer or the answers do not match the
// world. (simnet -demo shows the simulated network alone, with a client of
// its own.)
//
// Bench mode (-bench, what `make bench-feed` runs) runs the worlds -worlds
// names, by default all but 1m: the paper's 30 recipients, 600 on three
// hosts, 200 on one host with and without PIPELINING, 1,000, 300 with 5%
// dead first MX hosts (dead-mx), 300 with 5% of the domains' DNS silent
// (dns-silent, smtpfeed run with -t dns=3s so the silent lookups end
// soon), 10,000 recipients, the same with a grace of a day (10k-barrier:
// every host waits for the last lookup), with VERP (10k-verp) and with
// STARTTLS on every host (10k-tls), 100,000, and a real list of 100,000
// with throttling providers. 1m, a million recipients on 100,000
// domains and 10,000 hosts, runs only when named (`make bench-1m`).
// -repeat N runs each world N times in a row; the table shows each
// world's median run by last delivery, and a line per world the range
// over its runs of the last delivery, the transactions, the repeated DNS
// queries and the CPU per delivered recipient. strace, when installed
// and not -no-strace, traces one more run of each world.
//
// It measures the same figures plus the child's CPU time (in all and
// per delivered recipient), its peak RSS, the simulated world's own CPU
// (feedbench's getrusage over the run), the transactions on pipelining
// hosts against their ideal and, under strace, syscalls per delivered
// recipient. It writes a markdown table (stdout and out/bench.md), which
// bound each ratio uses, the targets of the worlds run, each met or not,
// and one SVG chart of cumulative deliveries per world
// (out/bench-<world>.svg).
//
// The Postfix peer (-postfix, by default the worlds paper, 600, 1k,
// dead-mx, dns-silent and 10k): Postfix's own SMTP client delivers the
// same world in the same run, for a second table beside smtpfeed's. It
// needs root, Linux and Postfix: each run is feedbench itself again
// (-postfix-child) under unshare(1), in network, mount and PID
// namespaces of its own, where the world's name server is on
// 127.0.0.1:53 (the system resolver has no other port) and its hosts on
// port 25, with Postfix's spool and configuration on private mounts. The
// list is handed to Postfix's SMTP server, pipelined, after one
// warm-up message has been delivered locally.
//
// feedbench never starts smtpfeed without -nameserver pointing at the
// world's own DNS server: nothing leaves loopback.
package main
