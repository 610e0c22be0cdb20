package main

import (
	"bufio"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"

	"smtpfeed/cmd/simnet/sim"
	"smtpfeed/proto/smtp"
)

// submitTimeout bounds the whole submission: a server that stops reading
// or answering ends it with an error, not a hung benchmark.
const submitTimeout = 2 * time.Minute

// submit hands one message for rcpts to the SMTP server at addr in one
// transaction, as a list server hands its message to the local MTA: with
// PIPELINING (RFC 2920), so that the list's size costs bytes, not round
// trips. The commands are written by a goroutine of their own while the
// replies are read, so that neither side's buffers can fill and stall
// the other. Every recipient must be accepted.
func submit(addr, from string, rcpts []string, msg []byte) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(submitTimeout))
	tp := textproto.NewConn(c)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if err := tp.PrintfLine("EHLO %s", peerHost); err != nil {
		return err
	}
	_, ehlo, err := tp.ReadResponse(250)
	if err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if !smtp.ParseExtensions(smtp.Reply{Code: 250, Lines: strings.Split(ehlo, "\n")}).Pipelining {
		return fmt.Errorf("%s offers no PIPELINING: %q", addr, ehlo)
	}
	sent := make(chan error, 1)
	// A goroutine in this benchmark tool, not in smtpfeed: the envelope
	// is written while the replies are read; closing c ends it.
	go func() { sent <- writeEnvelope(c, from, rcpts) }()
	if _, _, err := tp.ReadResponse(250); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %w", from, err)
	}
	for _, r := range rcpts {
		if _, _, err := tp.ReadResponse(250); err != nil {
			return fmt.Errorf("RCPT TO:<%s>: %w", r, err)
		}
	}
	if _, _, err := tp.ReadResponse(354); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := <-sent; err != nil {
		return fmt.Errorf("writing the envelope: %w", err)
	}
	if _, err := c.Write(append(sim.DotStuff(msg), ".\r\n"...)); err != nil {
		return fmt.Errorf("writing the message: %w", err)
	}
	if _, _, err := tp.ReadResponse(250); err != nil {
		return fmt.Errorf("final dot: %w", err)
	}
	tp.PrintfLine("QUIT")
	tp.ReadResponse(221)
	return nil
}

// writeEnvelope writes MAIL, every RCPT and DATA in one stream.
func writeEnvelope(c net.Conn, from string, rcpts []string) error {
	w := bufio.NewWriterSize(c, 64<<10)
	fmt.Fprintf(w, "MAIL FROM:<%s>\r\n", from)
	for _, r := range rcpts {
		fmt.Fprintf(w, "RCPT TO:<%s>\r\n", r)
	}
	w.WriteString("DATA\r\n")
	return w.Flush()
}
