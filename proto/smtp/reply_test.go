package smtp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseReplyLine(t *testing.T) {
	tests := []struct {
		line string
		code int
		more bool
		text string
		bad  bool
	}{
		{line: "250 OK", code: 250, text: "OK"},
		{line: "250-PIPELINING", code: 250, more: true, text: "PIPELINING"},
		{line: "354", code: 354},
		{line: "220 ", code: 220},
		{line: "550 5.1.1 <a@b>: user unknown", code: 550, text: "5.1.1 <a@b>: user unknown"},
		{line: "25", bad: true},
		{line: "2x0 OK", bad: true},
		{line: "150 OK", bad: true},
		{line: "600 OK", bad: true},
		{line: "260 OK", bad: true},
		{line: "250OK", bad: true},
		{line: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			code, more, text, err := ParseReplyLine([]byte(tt.line))
			if tt.bad {
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("ParseReplyLine(%q) error = %v, want a *ProtocolError", tt.line, err)
				}
				return
			}
			if err != nil || code != tt.code || more != tt.more || text != tt.text {
				t.Fatalf("ParseReplyLine(%q) = %d, %v, %q, %v; want %d, %v, %q, nil",
					tt.line, code, more, text, err, tt.code, tt.more, tt.text)
			}
		})
	}
}

func TestParseEnhancedCode(t *testing.T) {
	tests := []struct {
		text string
		want EnhancedCode
	}{
		{"2.0.0 OK", EnhancedCode{2, 0, 0}},
		{"5.1.1", EnhancedCode{5, 1, 1}},
		{"4.7.100 greylisted", EnhancedCode{4, 7, 100}},
		{"5.1.10 null MX", EnhancedCode{5, 1, 10}},
		{"3.0.0 go ahead", EnhancedCode{}},
		{"5.1.1000 too long", EnhancedCode{}},
		{"55.1.1 two-digit class", EnhancedCode{}},
		{"5.1 short", EnhancedCode{}},
		{"5.1.1x", EnhancedCode{}},
		{"OK", EnhancedCode{}},
		{"", EnhancedCode{}},
	}
	for _, tt := range tests {
		if got := ParseEnhancedCode(tt.text); got != tt.want {
			t.Errorf("ParseEnhancedCode(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// feedAll feeds stream to a fresh reader in pieces of size step (0: whole)
// and collects every reply and the error.
func feedAll(stream string, step int) ([]Reply, error) {
	var r ReplyReader
	var err error
	if step == 0 {
		err = r.Feed([]byte(stream))
	} else {
		for i := 0; i < len(stream) && err == nil; i += step {
			err = r.Feed([]byte(stream[i:min(i+step, len(stream))]))
		}
	}
	var got []Reply
	for rep, ok := r.Next(); ok; rep, ok = r.Next() {
		got = append(got, rep)
	}
	return got, err
}

func TestReplyReader(t *testing.T) {
	long := strings.Repeat("x", 2000)           // past RFC 5321's 512, as real EHLO replies are
	longText := strings.Repeat("t", 4000)       // a long 5xx text
	fits := strings.Repeat("f", MaxReplySize-6) // "250 " + f... + CRLF = the whole cap
	tests := []struct {
		name    string
		stream  string
		want    []Reply
		wantErr bool
	}{
		{
			name:   "single",
			stream: "220 mx.example ESMTP\r\n",
			want:   []Reply{{Code: 220, Lines: []string{"mx.example ESMTP"}}},
		},
		{
			name:   "multi-line EHLO",
			stream: "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
			want:   []Reply{{Code: 250, Lines: []string{"mx.example", "PIPELINING", "8BITMIME"}}},
		},
		{
			name:   "pipelined replies in one read",
			stream: "250 2.1.0 ok\r\n550 5.1.1 unknown\r\n354 go\r\n",
			want: []Reply{
				{Code: 250, Enhanced: EnhancedCode{2, 1, 0}, Lines: []string{"2.1.0 ok"}},
				{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Lines: []string{"5.1.1 unknown"}},
				{Code: 354, Lines: []string{"go"}},
			},
		},
		{
			name:   "enhanced code of another class is not trusted",
			stream: "250 5.1.1 ok anyway\r\n",
			want:   []Reply{{Code: 250, Lines: []string{"5.1.1 ok anyway"}}},
		},
		{
			name:   "bare LF line ends",
			stream: "250-a\n250 b\n",
			want:   []Reply{{Code: 250, Lines: []string{"a", "b"}}},
		},
		{
			name:   "line over 512 octets",
			stream: "250-mx.example\r\n250-" + long + "\r\n250 SIZE\r\n",
			want:   []Reply{{Code: 250, Lines: []string{"mx.example", long, "SIZE"}}},
		},
		{
			name:   "long 5xx text",
			stream: "550 5.7.1 " + longText + "\r\n",
			want:   []Reply{{Code: 550, Enhanced: EnhancedCode{5, 7, 1}, Lines: []string{"5.7.1 " + longText}}},
		},
		{
			name:   "a line the size of the whole cap",
			stream: "250 " + fits + "\r\n",
			want:   []Reply{{Code: 250, Lines: []string{fits}}},
		},
		{
			name:   "the cap is per reply",
			stream: "250 " + fits + "\r\n250 " + fits + "\r\n",
			want:   []Reply{{Code: 250, Lines: []string{fits}}, {Code: 250, Lines: []string{fits}}},
		},
		{name: "line one octet past the cap", stream: "250 x" + fits + "\r\n", wantErr: true},
		{name: "reply past the cap", stream: strings.Repeat("250-"+long+"\r\n", 9) + "250 end\r\n", wantErr: true},
		{name: "too many lines", stream: strings.Repeat("250-\r\n", MaxReplyLines) + "250 end\r\n", wantErr: true},
		{name: "endless line without LF", stream: "250 " + strings.Repeat("y", MaxReplySize+1), wantErr: true},
		{name: "code changes mid-reply", stream: "250-a\r\n251 b\r\n", wantErr: true},
		{name: "garbage", stream: "HTTP/1.1 400 Bad Request\r\n", wantErr: true},
		{
			name:    "reply before garbage is kept",
			stream:  "250 ok\r\n+OK POP3\r\n",
			want:    []Reply{{Code: 250, Lines: []string{"ok"}}},
			wantErr: true,
		},
		{
			name:    "whole reply over the size cap",
			stream:  strings.Repeat("250-"+strings.Repeat("z", 500)+"\r\n", 40) + "250 end\r\n",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		for _, step := range []int{0, 1, 7} {
			got, err := feedAll(tt.stream, step)
			if (err != nil) != tt.wantErr {
				t.Errorf("%s (step %d): error = %v, want error %v", tt.name, step, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s (step %d): replies = %+v, want %+v", tt.name, step, got, tt.want)
			}
		}
	}
}

func TestReplyReaderStaysFailed(t *testing.T) {
	var r ReplyReader
	if err := r.Feed([]byte("xyz\r\n")); err == nil {
		t.Fatal("Feed(garbage) = nil, want a protocol error")
	}
	if err := r.Feed([]byte("250 ok\r\n")); err == nil {
		t.Fatal("Feed after a protocol error = nil, want the same error")
	}
	if _, ok := r.Next(); ok {
		t.Fatal("Next after a protocol error gave a reply, want none")
	}
}

func TestReplyPending(t *testing.T) {
	var r ReplyReader
	r.Feed([]byte("250-a\r\n250"))
	if !r.Pending() {
		t.Fatal("Pending() = false mid-reply, want true")
	}
	r.Feed([]byte(" b\r\n"))
	if r.Pending() {
		t.Fatal("Pending() = true after the last line, want false")
	}
}

func TestReplyText(t *testing.T) {
	tests := []struct {
		rep  Reply
		want string
	}{
		{Reply{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Lines: []string{"5.1.1 user unknown"}}, "user unknown"},
		{Reply{Code: 421, Lines: []string{"busy", "try later"}}, "busy try later"},
		{Reply{Code: 550, Lines: []string{"bad\x1b[31m \xff byte"}}, "bad?[31m ? byte"},
		{Reply{Code: 550, Lines: []string{strings.Repeat("a", 500)}}, strings.Repeat("a", maxTextShown-3) + "..."},
	}
	for _, tt := range tests {
		if got := tt.rep.Text(); got != tt.want {
			t.Errorf("%+v.Text() = %q, want %q", tt.rep, got, tt.want)
		}
	}
}

// TestReplyReaderBounded: a server that sends a megabyte without a line
// end, or a reply that never ends, is refused once the reply passes its
// cap, and the reader never holds more than the cap meanwhile.
func TestReplyReaderBounded(t *testing.T) {
	for _, tc := range []struct{ name, head, piece string }{
		{"one endless line", "250 ", "x"},
		{"endless EHLO reply", "", "250-" + strings.Repeat("K", 60) + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r ReplyReader
			chunk := []byte(strings.Repeat(tc.piece, 4096/len(tc.piece)))
			err := r.Feed([]byte(tc.head))
			fed := len(tc.head)
			for fed < 1<<20 && err == nil {
				err = r.Feed(chunk)
				fed += len(chunk)
				if held := cap(r.buf) + r.size; held > 2*MaxReplySize {
					t.Fatalf("after %d octets the reader holds %d, want at most about %d", fed, held, MaxReplySize)
				}
			}
			if err == nil {
				t.Fatal("1 MiB without the reply ending: no error")
			}
			if fed > MaxReplySize+len(chunk)+len(tc.head) {
				t.Errorf("refused after %d octets, want by %d", fed, MaxReplySize+len(chunk))
			}
		})
	}
}
