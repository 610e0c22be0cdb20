package smtp

import "testing"

func TestParseExtensions(t *testing.T) {
	tests := []struct {
		name string
		rep  Reply
		want Extensions
	}{
		{
			name: "postfix-like",
			rep: Reply{Code: 250, Lines: []string{"mx.example", "PIPELINING", "SIZE 10240000", "ETRN",
				"STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}},
			want: Extensions{Pipelining: true, Size: true, MaxSize: 10240000, StartTLS: true,
				EnhancedStatusCodes: true, EightBitMIME: true, DSN: true, SMTPUTF8: true},
		},
		{
			name: "lower case and no SIZE figure",
			rep:  Reply{Code: 250, Lines: []string{"hi", "pipelining", "size"}},
			want: Extensions{Pipelining: true, Size: true},
		},
		{
			name: "LIMITS",
			rep:  Reply{Code: 250, Lines: []string{"hi", "LIMITS MAILMAX=10 RCPTMAX=60"}},
			want: Extensions{RcptMax: 60},
		},
		{
			name: "LIMITS garbage",
			rep:  Reply{Code: 250, Lines: []string{"hi", "LIMITS RCPTMAX=x RCPTMAX=-3"}},
			want: Extensions{},
		},
		{
			name: "bad SIZE figure",
			rep:  Reply{Code: 250, Lines: []string{"hi", "SIZE lots"}},
			want: Extensions{Size: true},
		},
		{
			name: "greeting line is not a keyword",
			rep:  Reply{Code: 250, Lines: []string{"PIPELINING"}},
			want: Extensions{},
		},
		{
			name: "refused EHLO",
			rep:  Reply{Code: 502, Lines: []string{"x", "PIPELINING"}},
			want: Extensions{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseExtensions(tt.rep); got != tt.want {
				t.Fatalf("ParseExtensions() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
