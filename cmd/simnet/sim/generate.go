package sim

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// The generator: the inputs a client run needs for a world.

// ListSender is the envelope sender of the generated LMTP session.
const ListSender = "list-bounces@lists.example.test"

// TestMessage is the message the generated LMTP session carries, with CRLF
// line ends and before dot-stuffing. Its lines starting with "." make the
// dot-stuffing of every hop visible in the received hash.
const TestMessage = "From: List <list@lists.example.test>\r\n" +
	"To: list@lists.example.test\r\n" +
	"Subject: simnet test message\r\n" +
	"Message-ID: <simnet-1@lists.example.test>\r\n" +
	"\r\n" +
	"Hello from the simulated Internet.\r\n" +
	".this line starts with a dot\r\n" +
	"..and this one with two\r\n" +
	"\r\n" +
	"-- \r\n" +
	"simnet\r\n"

// MessageSHA256 is the hex SHA-256 a receiver records for TestMessage.
func MessageSHA256() string { return HashMessage([]byte(TestMessage)) }

// HashMessage is the hex SHA-256 of a message, as receivers record it.
func HashMessage(msg []byte) string {
	s := sha256.Sum256(msg)
	return hex.EncodeToString(s[:])
}

// DotStuff doubles the leading dot of every line of a CRLF message.
func DotStuff(msg []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.SplitAfterSeq(msg, []byte("\r\n")) {
		if len(line) > 0 && line[0] == '.' {
			b.WriteByte('.')
		}
		b.Write(line)
	}
	return b.Bytes()
}

// WriteRecipients writes the recipient list, one address per line, in
// list order.
func (w *World) WriteRecipients(out io.Writer) error {
	bw := bufio.NewWriter(out)
	for _, r := range w.Recipients {
		bw.WriteString(r.Addr)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sim: writing recipient list: %w", err)
	}
	return nil
}

// WriteLMTP writes a complete LMTP client session delivering TestMessage
// to every recipient: LHLO, MAIL FROM, one RCPT TO per recipient, DATA,
// the dot-stuffed message, ".", QUIT. A benchmark pipes it into the
// client's LMTP port.
func (w *World) WriteLMTP(out io.Writer) error {
	bw := bufio.NewWriter(out)
	fmt.Fprintf(bw, "LHLO simnet.%s\r\n", Zone)
	fmt.Fprintf(bw, "MAIL FROM:<%s>\r\n", ListSender)
	for _, r := range w.Recipients {
		fmt.Fprintf(bw, "RCPT TO:<%s>\r\n", r.Addr)
	}
	bw.WriteString("DATA\r\n")
	bw.Write(DotStuff([]byte(TestMessage)))
	bw.WriteString(".\r\nQUIT\r\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sim: writing LMTP session: %w", err)
	}
	return nil
}

// LMTPSession returns WriteLMTP's output.
func (w *World) LMTPSession() []byte {
	var b bytes.Buffer
	w.WriteLMTP(&b)
	return b.Bytes()
}

// Summary describes the world in a few lines: kinds and counts.
func (w *World) Summary() string {
	kinds := map[DomainKind]int{}
	for _, d := range w.Domains {
		kinds[d.Kind]++
	}
	hk := map[HostKind]int{}
	for _, h := range w.Hosts {
		hk[h.Kind]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "world seed=%d: %d domains, %d hosts (%d live, %d dead, %d refusing), %d recipients\n",
		w.Config.Seed, len(w.Domains), len(w.Hosts), hk[HostLive], hk[HostDead], hk[HostRefuse], len(w.Recipients))
	b.WriteString("domain kinds:")
	for _, k := range []DomainKind{KindNormal, KindShare, KindDeadFirst, KindRefuseFirst, KindCrossed, KindImplicit,
		KindCNAME, KindNullMX, KindNXDomain, KindSilent, KindTruncate, KindProvider} {
		if kinds[k] > 0 {
			fmt.Fprintf(&b, " %s=%d", k, kinds[k])
		}
	}
	e := w.Expected()
	fmt.Fprintf(&b, "\nexpected: delivered=%d deferred=%d bounced=%d, bound %v\n", e[Delivered], e[Deferred], e[Bounced], w.MaxBound())
	b.WriteString(w.providerSummary())
	b.WriteString(w.ipv6Summary())
	return b.String()
}
