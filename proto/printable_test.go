package proto

import (
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"user unknown", 40, "user unknown"},
		{"bad\x1b[31m \xff byte", 40, "bad?[31m ? byte"},
		{"line\r\nbreak", 40, "line??break"},
		{strings.Repeat("a", 10), 8, "aaaaa..."},
		{"", 5, ""},
	}
	for _, tt := range tests {
		if got := Printable(tt.in, tt.limit); got != tt.want {
			t.Errorf("Printable(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}
