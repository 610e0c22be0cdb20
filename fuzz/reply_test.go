package fuzz

import (
	"reflect"
	"strings"
	"testing"

	"smtpfeed/proto/smtp"
)

// replySeeds are the streams of the reply parser's unit tables.
var replySeeds = []string{
	"220 mx.example ESMTP\r\n",
	"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
	"250 2.1.0 ok\r\n550 5.1.1 unknown\r\n354 go\r\n",
	"250 5.1.1 ok anyway\r\n",
	"250-a\n250 b\n",
	"250-a\r\n251 b\r\n",
	"HTTP/1.1 400 Bad Request\r\n",
	"250 ok\r\n+OK POP3\r\n",
	"421 4.3.2 shutting down\r\n",
	// Lines past RFC 5321's 512 octets, as real EHLO replies and 5xx
	// texts have them.
	"250-mx.example\r\n250-" + strings.Repeat("X-LONG-KEYWORD ", 60) + "\r\n250 SIZE\r\n",
	"550 5.7.1 " + strings.Repeat("policy text ", 400) + "\r\n",
	"250 " + strings.Repeat("y", smtp.MaxReplySize),
}

func readAll(data []byte, cut int) ([]smtp.Reply, error) {
	var r smtp.ReplyReader
	err := r.Feed(data[:cut])
	if err == nil {
		err = r.Feed(data[cut:])
	}
	var out []smtp.Reply
	for rep, ok := r.Next(); ok; rep, ok = r.Next() {
		out = append(out, rep)
	}
	return out, err
}

// FuzzReplyReader checks that the reply parser gives the same replies
// however the stream is split, never panics, and only yields replies that
// are within the limits it promises (lines of any length, replies within
// MaxReplySize and MaxReplyLines).
func FuzzReplyReader(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		cut := int(at) % (len(data) + 1)
		whole, werr := readAll(data, len(data))
		split, serr := readAll(data, cut)
		if (werr == nil) != (serr == nil) || !reflect.DeepEqual(whole, split) {
			t.Fatalf("split at %d: %v, %v; whole: %v, %v", cut, split, serr, whole, werr)
		}
		for _, rep := range whole {
			size := 0
			for _, l := range rep.Lines {
				size += len(l) + 5 // code, separator, CRLF
			}
			if size > smtp.MaxReplySize+len(rep.Lines) || len(rep.Lines) > smtp.MaxReplyLines {
				t.Fatalf("a reply of %d lines, %d octets passed the caps", len(rep.Lines), size)
			}
			if rep.Code < 200 || rep.Code > 559 {
				t.Fatalf("reply code %d out of range", rep.Code)
			}
			if rep.Enhanced.Valid() && rep.Enhanced.Class != rep.Class() {
				t.Fatalf("enhanced code %v trusted on reply %d", rep.Enhanced, rep.Code)
			}
			for _, c := range []byte(rep.Text()) {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("Text() %q has unprintable byte %#x", rep.Text(), c)
				}
			}
		}
	})
}
