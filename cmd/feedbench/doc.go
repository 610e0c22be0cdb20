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
// names: the paper's 30 recipients, 10,000 recipients, the same with a
// grace of a day (10k-barrier: every host waits for the last lookup) and
// with VERP (10k-verp), 100,000 recipients. It measures the same figures plus the
// child's CPU time, peak RSS and, when strace is installed, syscalls per
// delivered recipient, and writes a markdown table (stdout and
// out/bench.md) and one SVG chart of cumulative deliveries per world
// (out/bench-<world>.svg).
//
// feedbench never starts smtpfeed without -nameserver pointing at the
// world's own DNS server: nothing leaves loopback.
package main
